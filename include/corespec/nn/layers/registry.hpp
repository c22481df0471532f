// corespec/nn/layers/registry.hpp - the one place a layer type is declared.
//
// Every layer type of the architecture JSON (docs/model_format.md) is one
// struct below and one line of layer_type_table. The struct says, once:
//   fields(LayerFields&)      its hyper-parameters, their ranges and defaults
//   parameters(spec)          its parameter tensors (PyTorch's names and layouts)
//   make<T>(spec, source)     the engine layer (parameters zero / identity)
//   init(param, has_matrix)   how train::init_default starts a parameter
//   activation(spec)          for an element-wise layer: the Activation the
//                             loader may fuse into a preceding GEMM epilogue
//   has_epilogue              Dense / Conv: takes a fused activation and a
//                             folded BatchNorm1d
// The loader (model_spec.hpp, serialize.hpp), layer_from_config (the inverse
// of Layer::config()), train/init.hpp and examples/nn_train.cpp all read
// this table; docs/nn.md shows how to add a type.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/block_dense.hpp"
#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/masked_block_mean.hpp"
#include "corespec/nn/layers/norm.hpp"
#include "corespec/nn/layers/pool.hpp"
#include "corespec/nn/layers/shape.hpp"

namespace corespec::nn {

/// Parameter name -> shape (PyTorch's layout), in declaration order.
using ParameterShapes = std::vector<std::pair<std::string, std::vector<std::size_t>>>;

/// One layer of an architecture: its type, validated hyper-parameters and
/// the safetensors names of its parameters.
struct LayerSpec {
    std::string type;                           ///< "dense", "conv1d", ... (see docs/model_format.md)
    nlohmann::json config;                      ///< hyper-parameters with defaults filled in ("params" removed)
    std::map<std::string, std::string> params;  ///< parameter name ("weight") -> tensor name in the file
    std::string path;                           ///< JSON path, for messages

    /// Integer / number / bool / string hyper-parameters (present after validation).
    std::size_t size(const char* key) const { return config.at(key).get<std::size_t>(); }
    double number(const char* key) const { return config.at(key).get<double>(); }
    bool flag(const char* key) const { return config.at(key).get<bool>(); }
    std::string text(const char* key) const { return config.at(key).get<std::string>(); }

    /// The parameters this layer needs (its type's parameters()). `params`
    /// names the tensor of each; one the JSON leaves out takes PyTorch's
    /// nn.Sequential name, "INDEX.weight" (with the part's prefix in a VAE
    /// or multi-head graph: "encoder.0.weight").
    ParameterShapes parameter_shapes() const;
};

/// How train::init_default starts one parameter: uniform in
/// +-1/sqrt(fan_in of the layer's matrix weight), or a constant.
struct InitRule {
    bool uniform_fan_in = false;
    double value = 0.0;
    /// The parameter whose fan-in bounds the uniform draw; empty: the
    /// layer's "weight" (a layer with several matrices names its own).
    std::string fan_in_of{};
};

namespace detail {

// Bounds that keep a hostile architecture from requesting absurd work; real
// spectra models are far inside them.
inline constexpr std::uint64_t max_features = std::uint64_t(1) << 24;
inline constexpr std::uint64_t max_window = std::uint64_t(1) << 16;  // kernel, stride, dilation, padding

// Checked reading of JSON values; every failure is parse_error(source, where, reason).
class SpecReader {
public:
    explicit SpecReader(std::string source) : source_(std::move(source)) {}
    const std::string& source() const noexcept { return source_; }

    [[noreturn]] void fail(const std::string& where, const std::string& reason) const {
        throw parse_error(source_, where, reason);
    }

    const nlohmann::json& member(const nlohmann::json& obj, const std::string& where, const char* key) const {
        const auto it = obj.find(key);
        if (it == obj.end()) fail(where, std::string("missing \"") + key + "\"");
        return *it;
    }

    std::uint64_t integer(const nlohmann::json& v, const std::string& where, std::uint64_t lo, std::uint64_t hi) const {
        if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<std::int64_t>() < 0))
            fail(where, "expected a non-negative integer, got " + v.dump());
        const std::uint64_t x = v.get<std::uint64_t>();
        if (x < lo || x > hi)
            fail(where, "value " + std::to_string(x) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return x;
    }

    double number(const nlohmann::json& v, const std::string& where) const {
        if (!v.is_number()) fail(where, "expected a number, got " + v.dump());
        const double x = v.get<double>();
        if (!std::isfinite(x)) fail(where, "expected a finite number");
        return x;
    }

private:
    std::string source_;
};

}  // namespace detail

/// What a layer type's fields() reads: each call checks one key of the
/// layer's JSON object, writes it (or its default) to the validated config
/// and marks the key as known; any other key is refused afterwards.
class LayerFields {
public:
    LayerFields(const detail::SpecReader& reader, const nlohmann::json& in, LayerSpec& spec)
        : r_(reader), in_(in), spec_(spec) {}

    /// A required integer in [lo, hi].
    void size(const char* key, std::uint64_t lo, std::uint64_t hi) {
        accept(key);
        spec_.config[key] = r_.integer(r_.member(in_, spec_.path, key), at(key), lo, hi);
    }
    /// An optional integer in [lo, hi] with a default.
    void size(const char* key, std::uint64_t lo, std::uint64_t hi, std::uint64_t fallback) {
        accept(key);
        const nlohmann::json* v = find(key);
        spec_.config[key] = v ? r_.integer(*v, at(key), lo, hi) : fallback;
    }
    /// An optional finite number in [lo, hi] ((lo, hi] when lo_open).
    void number(const char* key, double fallback, double lo, double hi, bool lo_open = false) {
        accept(key);
        const nlohmann::json* v = find(key);
        const double x = v ? r_.number(*v, at(key)) : fallback;
        if (x < lo || x > hi || (lo_open && x == lo))
            fail(key, "value " + nlohmann::json(x).dump() + " outside " + (lo_open ? "(" : "[") + nlohmann::json(lo).dump() +
                          ", " + nlohmann::json(hi).dump() + "]");
        spec_.config[key] = x;
    }
    /// An optional boolean.
    void flag(const char* key, bool fallback) {
        accept(key);
        const nlohmann::json* v = find(key);
        if (v && !v->is_boolean()) fail(key, "expected true or false, got " + v->dump());
        spec_.config[key] = v ? v->get<bool>() : fallback;
    }
    /// "activation" (a fused activation, default identity) and "activation_alpha".
    void fused_activation() {
        accept("activation");
        const nlohmann::json* a = find("activation");
        const std::string act = !a ? "identity" : (a->is_string() ? a->get<std::string>() : "?");
        static const char* fusable[] = {"identity", "linear", "none", "relu", "leaky_relu", "elu", "gelu",
                                        "gelu_tanh", "silu", "tanh", "sigmoid", "softplus"};
        bool ok = false;
        for (const char* f : fusable) ok = ok || act == f;
        if (!ok) fail("activation", "unknown fused activation \"" + act + "\"");
        spec_.config["activation"] = (act == "linear" || act == "none") ? "identity" : act;
        number("activation_alpha", act == "leaky_relu" ? 0.01 : (act == "elu" ? 1.0 : 0.0), -1e30, 1e30);
    }

    // For fields of other forms:
    /// Marks `key` as known and returns its value in the input (nullptr when absent).
    const nlohmann::json* find(const char* key) {
        accept(key);
        const auto it = in_.find(key);
        return it == in_.end() ? nullptr : &*it;
    }
    void accept(const char* key) { known_.push_back(key); }
    nlohmann::json& config() noexcept { return spec_.config; }
    const nlohmann::json& input() const noexcept { return in_; }
    /// Stores the layer under another type name (an alias such as gelu_tanh).
    void rename(std::string type) { spec_.type = std::move(type); }
    std::uint64_t integer(const nlohmann::json& v, const std::string& where, std::uint64_t lo, std::uint64_t hi) const {
        return r_.integer(v, where, lo, hi);
    }
    /// The JSON path of a key ("graph.layers[3].kernel_size").
    std::string at(const std::string& key) const { return spec_.path + "." + key; }
    [[noreturn]] void fail(const std::string& key, const std::string& reason) const { r_.fail(at(key), reason); }
    [[noreturn]] void fail_layer(const std::string& reason) const { r_.fail(spec_.path, reason); }

    /// Fails for an input key no field accepted ("type", "params", "name" always are).
    void refuse_unknown(const std::string& type) const {
        for (auto it = in_.begin(); it != in_.end(); ++it) {
            const std::string& k = it.key();
            bool ok = k == "type" || k == "params" || k == "name";
            for (const char* a : known_) ok = ok || k == a;
            if (!ok) fail(k, "unknown key for a " + type + " layer");
        }
    }

private:
    const detail::SpecReader& r_;
    const nlohmann::json& in_;
    LayerSpec& spec_;
    std::vector<const char*> known_;
};

namespace detail {

inline Activation fused_activation_of(const LayerSpec& s) {
    return Activation::from_name(s.text("activation"), s.number("activation_alpha"));
}
inline unsupported_error unsupported_config(const LayerSpec& s, const std::string& source, const std::string& what) {
    return unsupported_error(source + ": " + s.path + ": " + what + " is not supported by the engine");
}

}  // namespace detail

/// The layer types. Each derives from LayerTypeBase, which gives the
/// defaults: no fields, no parameters, PyTorch's reset_parameters() rule,
/// not fusable, no epilogue.
namespace layer_types {

struct LayerTypeBase {
    static void fields(LayerFields&) {}
    static ParameterShapes parameters(const LayerSpec&) { return {}; }
    static std::optional<Activation> activation(const LayerSpec&) { return std::nullopt; }
    static constexpr bool has_epilogue = false;
    /// PyTorch: a matrix weight (rank >= 2) and the bias beside it are
    /// kaiming_uniform(a = sqrt(5)) = U(+-1/sqrt(fan_in)); a rank-1 "weight"
    /// (norm layers) and "running_var" 1; everything else 0.
    static InitRule init(const ParameterInfo& p, bool has_matrix_weight) {
        if ((p.name == "weight" && p.shape.rank() >= 2) || (p.name == "bias" && has_matrix_weight)) return {true, 0.0};
        if (p.name == "weight" || p.name == "running_var") return {false, 1.0};
        return {false, 0.0};
    }
};

struct Dense : LayerTypeBase {
    static constexpr bool has_epilogue = true;
    static void fields(LayerFields& f) {
        f.size("in_features", 1, detail::max_features);
        f.size("out_features", 1, detail::max_features);
        f.flag("bias", true);
        f.fused_activation();
    }
    static ParameterShapes parameters(const LayerSpec& s) {
        ParameterShapes out{{"weight", {s.size("out_features"), s.size("in_features")}}};
        if (s.flag("bias")) out.push_back({"bias", {s.size("out_features")}});
        return out;
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::Dense<T>>(s.size("in_features"), s.size("out_features"), detail::fused_activation_of(s),
                                              s.flag("bias"));
    }
};

struct Conv1d : LayerTypeBase {
    static constexpr bool has_epilogue = true;
    // Shared with ConvTranspose1d (which has output_padding and integer padding only).
    static void conv_fields(LayerFields& f, bool transpose) {
        const std::uint64_t F = detail::max_features, W = detail::max_window;
        f.size("in_channels", 1, F);
        f.size("out_channels", 1, F);
        f.size("kernel_size", 1, W);
        f.size("stride", 1, W, 1);
        f.size("dilation", 1, W, 1);
        f.size("groups", 1, F, 1);
        f.flag("bias", true);
        const nlohmann::json* pad = f.find("padding");
        if (!transpose && pad && pad->is_string()) {
            const std::string p = pad->get<std::string>();
            if (p != "same" && p != "valid") f.fail("padding", "expected an integer, \"same\" or \"valid\", got \"" + p + "\"");
            f.config()["padding"] = p;
        } else if (!transpose && pad && pad->is_array()) {  // [left, right]
            if (pad->size() != 2) f.fail("padding", "expected [left, right]");
            f.config()["padding"] = {f.integer((*pad)[0], f.at("padding[0]"), 0, W), f.integer((*pad)[1], f.at("padding[1]"), 0, W)};
        } else {
            f.size("padding", 0, W, 0);
        }
        if (transpose) {
            f.size("output_padding", 0, W, 0);
            const std::uint64_t op = f.config()["output_padding"], s = f.config()["stride"], d = f.config()["dilation"];
            if (op >= std::max(s, d)) f.fail("output_padding", "must be smaller than stride or dilation");
        }
        const std::uint64_t g = f.config()["groups"];
        if (f.config()["in_channels"].get<std::uint64_t>() % g || f.config()["out_channels"].get<std::uint64_t>() % g)
            f.fail("groups", "in_channels and out_channels must be divisible by groups");
        f.fused_activation();
    }
    static void fields(LayerFields& f) { conv_fields(f, false); }
    static ParameterShapes parameters(const LayerSpec& s) {
        ParameterShapes out{{"weight", {s.size("out_channels"), s.size("in_channels") / s.size("groups"), s.size("kernel_size")}}};
        if (s.flag("bias")) out.push_back({"bias", {s.size("out_channels")}});
        return out;
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<Conv1D<T>>(s.size("in_channels"), s.size("out_channels"), s.size("kernel_size"),
                                           s.size("stride"), Padding::from_json(s.config.at("padding")), s.size("dilation"),
                                           s.size("groups"), detail::fused_activation_of(s), s.flag("bias"));
    }
};

struct ConvTranspose1d : LayerTypeBase {
    static constexpr bool has_epilogue = true;
    static void fields(LayerFields& f) { Conv1d::conv_fields(f, true); }
    static ParameterShapes parameters(const LayerSpec& s) {
        ParameterShapes out{{"weight", {s.size("in_channels"), s.size("out_channels") / s.size("groups"), s.size("kernel_size")}}};
        if (s.flag("bias")) out.push_back({"bias", {s.size("out_channels")}});
        return out;
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<ConvTranspose1D<T>>(s.size("in_channels"), s.size("out_channels"), s.size("kernel_size"),
                                                    s.size("stride"), s.size("padding"), s.size("output_padding"),
                                                    s.size("dilation"), s.size("groups"), detail::fused_activation_of(s),
                                                    s.flag("bias"));
    }
};

struct BatchNorm1d : LayerTypeBase {
    static void fields(LayerFields& f) {
        f.size("num_features", 1, detail::max_features);
        f.number("eps", 1e-5, 0.0, 1.0, true);
        f.number("momentum", 0.1, 0.0, 1.0);  // training only
        f.flag("affine", true);
    }
    static ParameterShapes parameters(const LayerSpec& s) {
        const std::size_t n = s.size("num_features");
        ParameterShapes out;
        if (s.flag("affine")) out = {{"weight", {n}}, {"bias", {n}}};
        out.push_back({"running_mean", {n}});
        out.push_back({"running_var", {n}});
        return out;
    }
    // Without affine the engine's layer keeps weight 1, bias 0.
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::BatchNorm1d<T>>(s.size("num_features"), s.number("eps"), s.number("momentum"));
    }
};

struct LayerNorm : LayerTypeBase {
    static void fields(LayerFields& f) {
        f.size("normalized_shape", 1, detail::max_features);
        f.number("eps", 1e-5, 0.0, 1.0, true);
        f.flag("elementwise_affine", true);
    }
    static ParameterShapes parameters(const LayerSpec& s) {
        if (!s.flag("elementwise_affine")) return {};
        return {{"weight", {s.size("normalized_shape")}}, {"bias", {s.size("normalized_shape")}}};
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::LayerNorm<T>>(s.size("normalized_shape"), s.number("eps"), s.flag("elementwise_affine"));
    }
};

struct MaxPool1d : LayerTypeBase {
    static void fields(LayerFields& f) {
        f.size("kernel_size", 1, detail::max_window);
        const std::uint64_t k = f.config()["kernel_size"];
        f.size("stride", 1, detail::max_window, k);
        f.size("padding", 0, k / 2, 0);  // PyTorch: at most half the kernel
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::MaxPool1d<T>>(s.size("kernel_size"), s.size("stride"), s.size("padding"));
    }
};

struct AvgPool1d : LayerTypeBase {
    static void fields(LayerFields& f) {
        MaxPool1d::fields(f);
        f.flag("count_include_pad", true);
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string& source) {
        if (!s.flag("count_include_pad") && s.size("padding") > 0)
            throw detail::unsupported_config(s, source, "avg_pool1d with count_include_pad false");
        return std::make_unique<nn::AvgPool1d<T>>(s.size("kernel_size"), s.size("stride"), s.size("padding"));
    }
};

struct GlobalAvgPool1d : LayerTypeBase {
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec&, const std::string&) {
        return std::make_unique<nn::GlobalAvgPool1d<T>>();
    }
};

struct Flatten : LayerTypeBase {
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec&, const std::string&) {
        return std::make_unique<nn::Flatten<T>>();
    }
};

struct Reshape : LayerTypeBase {
    static void fields(LayerFields& f) {
        const nlohmann::json* s = f.find("shape");
        if (!s) f.fail_layer("missing \"shape\"");
        if (!s->is_array() || s->empty() || s->size() > 2) f.fail("shape", "expected 1 or 2 dimensions (no batch)");
        f.config()["shape"] = nlohmann::json::array();
        for (std::size_t i = 0; i < s->size(); ++i)
            f.config()["shape"].push_back(f.integer((*s)[i], f.at("shape[" + std::to_string(i) + "]"), 1, detail::max_features));
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::Reshape<T>>(Shape(s.config.at("shape").get<std::vector<std::size_t>>()));
    }
};

struct BlockDense : LayerTypeBase {  // nn/layers/block_dense.hpp: "blocks" [[in, out], ...], "identity_blocks" [b, ...]
    static bool is_identity(const LayerSpec& s, std::size_t b) {
        const auto it = s.config.find("identity_blocks");
        if (it == s.config.end()) return false;
        for (const auto& i : *it)
            if (i.get<std::size_t>() == b) return true;
        return false;
    }
    static void fields(LayerFields& f) {
        const nlohmann::json* b = f.find("blocks");
        if (!b) f.fail_layer("missing \"blocks\"");
        if (!b->is_array() || b->empty() || b->size() > detail::max_features)
            f.fail("blocks", "expected a non-empty array of [in, out]");
        f.config()["blocks"] = nlohmann::json::array();
        for (std::size_t i = 0; i < b->size(); ++i) {
            const std::string w = f.at("blocks[" + std::to_string(i) + "]");
            const nlohmann::json& e = (*b)[i];
            if (!e.is_array() || e.size() != 2) f.fail("blocks[" + std::to_string(i) + "]", "expected [in, out]");
            f.config()["blocks"].push_back(
                {f.integer(e[0], w + "[0]", 1, detail::max_features), f.integer(e[1], w + "[1]", 1, detail::max_features)});
        }
        f.flag("bias", true);
        // Optional, and kept out of the config when absent (files from before it read unchanged).
        const nlohmann::json* id = f.find("identity_blocks");
        if (!id) return;
        if (!id->is_array()) f.fail("identity_blocks", "expected an array of block indices");
        const nlohmann::json& blocks = f.config()["blocks"];
        std::vector<bool> seen(blocks.size(), false);
        f.config()["identity_blocks"] = nlohmann::json::array();
        for (std::size_t i = 0; i < id->size(); ++i) {
            const std::string key = "identity_blocks[" + std::to_string(i) + "]";
            const std::size_t b = f.integer((*id)[i], f.at(key), 0, blocks.size() - 1);
            if (seen[b]) f.fail(key, "block " + std::to_string(b) + " is listed twice");
            if (blocks[b][0] != blocks[b][1])
                f.fail(key, "block " + std::to_string(b) + " maps " + blocks[b][0].dump() + " features to " + blocks[b][1].dump() +
                                " (an identity block needs in == out)");
            seen[b] = true;
            f.config()["identity_blocks"].push_back(b);
        }
        if (id->empty()) f.config().erase("identity_blocks");
    }
    static ParameterShapes parameters(const LayerSpec& s) {
        ParameterShapes out;
        const nlohmann::json& blocks = s.config.at("blocks");
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            if (is_identity(s, b)) continue;  // copied through: no parameters
            const std::size_t in = blocks[b][0].get<std::size_t>(), o = blocks[b][1].get<std::size_t>();
            out.push_back({"block" + std::to_string(b) + ".weight", {o, in}});
            if (s.flag("bias")) out.push_back({"block" + std::to_string(b) + ".bias", {o}});
        }
        return out;
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string& source) {
        return std::make_unique<nn::BlockDense<T>>(
            nn::BlockDense<T>::blocks_from_json(s.config.at("blocks"), source + ": " + s.path, s.config.value("identity_blocks", nlohmann::json())),
            s.flag("bias"));
    }
    /// nn.Linear's rule per block: weight and bias U(+-1/sqrt(in_b)).
    static InitRule init(const ParameterInfo& p, bool) {
        const std::size_t dot = p.name.find('.');
        return {true, 0.0, p.name.substr(0, dot) + ".weight"};
    }
};

struct MaskedBlockMean : LayerTypeBase {  // nn/layers/masked_block_mean.hpp: M blocks of width w, then M presence bits
    static void fields(LayerFields& f) {
        f.size("blocks", 1, detail::max_features);
        f.size("width", 1, detail::max_features);
        if (f.config()["blocks"].get<std::uint64_t>() * (f.config()["width"].get<std::uint64_t>() + 1) > detail::max_features)
            f.fail_layer("blocks x (width + 1) input features exceed " + std::to_string(detail::max_features));
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::MaskedBlockMean<T>>(s.size("blocks"), s.size("width"));
    }
};

struct Dropout : LayerTypeBase {
    static void fields(LayerFields& f) { f.number("p", 0.5, 0.0, 1.0); }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<nn::Dropout<T>>(s.number("p"));
    }
};

struct Softmax : LayerTypeBase {
    static void fields(LayerFields& f) {
        const nlohmann::json* d = f.find("dim");
        if (d && !(d->is_number_integer() && (d->get<std::int64_t>() == -1 || d->get<std::int64_t>() == 1)))
            f.fail("dim", "only softmax over the features (dim 1 or -1) is supported");
        f.config()["dim"] = -1;
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec&, const std::string&) {
        return std::make_unique<nn::Softmax<T>>();
    }
};

struct PRelu : LayerTypeBase {
    static void fields(LayerFields& f) { f.size("num_parameters", 1, detail::max_features, 1); }
    static ParameterShapes parameters(const LayerSpec& s) { return {{"weight", {s.size("num_parameters")}}}; }
    static InitRule init(const ParameterInfo&, bool) { return {false, 0.25}; }  // PyTorch's PReLU init
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<PReLU<T>>(s.size("num_parameters"));
    }
};

// --- element-wise activations (ActivationLayer) --------------------------

struct ActivationBase : LayerTypeBase {
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<ActivationLayer<T>>(Activation::from_name(s.type));
    }
    // relu, silu, tanh, sigmoid: fused by name.
    static std::optional<Activation> activation(const LayerSpec& s) { return Activation::from_name(s.type); }
};

/// "identity": kept as a layer, never fused (nothing to fuse).
struct Identity : ActivationBase {
    static std::optional<Activation> activation(const LayerSpec&) { return std::nullopt; }
};

struct LeakyRelu : ActivationBase {
    // PyTorch calls it negative_slope, the engine's config() alpha.
    static void fields(LayerFields& f) {
        const bool alpha = f.input().contains("alpha");
        if (alpha && f.input().contains("negative_slope")) f.fail_layer("give negative_slope or alpha, not both");
        f.number(alpha ? "alpha" : "negative_slope", 0.01, -1e30, 1e30);
        if (alpha) f.config()["negative_slope"] = f.config()["alpha"], f.config().erase("alpha");
    }
    static std::optional<Activation> activation(const LayerSpec& s) { return Activation::leaky_relu(s.number("negative_slope")); }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<ActivationLayer<T>>(*activation(s));
    }
};

struct Elu : ActivationBase {
    static void fields(LayerFields& f) { f.number("alpha", 1.0, -1e30, 1e30); }
    static std::optional<Activation> activation(const LayerSpec& s) { return Activation::elu(s.number("alpha")); }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<ActivationLayer<T>>(*activation(s));
    }
};

struct Gelu : ActivationBase {
    static void fields(LayerFields& f) {
        const nlohmann::json* a = f.find("approximate");
        const std::string ap = !a ? "none" : (a->is_string() ? a->get<std::string>() : "?");
        if (ap != "none" && ap != "tanh") f.fail("approximate", "expected \"none\" or \"tanh\"");
        f.config()["approximate"] = ap;
    }
    static std::optional<Activation> activation(const LayerSpec& s) {
        return s.text("approximate") == "tanh" ? Activation::gelu_tanh() : Activation::gelu();
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string&) {
        return std::make_unique<ActivationLayer<T>>(*activation(s));
    }
};

/// "gelu_tanh": the engine's name for gelu with approximate "tanh" (stored as gelu).
struct GeluTanh : Gelu {
    static void fields(LayerFields& f) {
        f.rename("gelu");
        f.config()["approximate"] = "tanh";
    }
};

struct Softplus : ActivationBase {
    static void fields(LayerFields& f) {
        f.number("beta", 1.0, 0.0, 1e30, true);
        f.number("threshold", 20.0, -1e30, 1e30);
    }
    // The engine's softplus is PyTorch's default (beta 1, threshold 20).
    static bool is_default(const LayerSpec& s) { return s.number("beta") == 1.0 && s.number("threshold") == 20.0; }
    static std::optional<Activation> activation(const LayerSpec& s) {
        if (!is_default(s)) return std::nullopt;
        return Activation::softplus();
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string& source) {
        if (!is_default(s)) throw detail::unsupported_config(s, source, "softplus with beta != 1 or threshold != 20");
        return std::make_unique<ActivationLayer<T>>(Activation::softplus());
    }
};

}  // namespace layer_types

/// A layer type as the table holds it: its name and its struct's functions.
struct LayerType {
    const char* name;
    void (*fields)(LayerFields&);
    ParameterShapes (*parameters)(const LayerSpec&);
    std::optional<Activation> (*activation)(const LayerSpec&);
    bool has_epilogue;
    InitRule (*init)(const ParameterInfo&, bool has_matrix_weight);
    std::unique_ptr<Layer<float>> (*make_float)(const LayerSpec&, const std::string&);
    std::unique_ptr<Layer<double>> (*make_double)(const LayerSpec&, const std::string&);

    template <class T>
    std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string& source) const {
        static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "layers are float or double");
        if constexpr (std::is_same<T, float>::value) return make_float(s, source);
        else return make_double(s, source);
    }
};

/// The table entry of a layer type struct.
template <class D>
constexpr LayerType describe_layer_type(const char* name) {
    return {name, &D::fields, &D::parameters, &D::activation, D::has_epilogue, &D::init,
            &D::template make<float>, &D::template make<double>};
}

/// Every layer type of the architecture JSON, by name. Adding a type: its
/// struct in layer_types (or beside its layer) and one line here.
inline constexpr LayerType layer_type_table[] = {
    describe_layer_type<layer_types::Dense>("dense"),
    describe_layer_type<layer_types::BlockDense>("block_dense"),
    describe_layer_type<layer_types::MaskedBlockMean>("masked_block_mean"),
    describe_layer_type<layer_types::Conv1d>("conv1d"),
    describe_layer_type<layer_types::ConvTranspose1d>("conv_transpose1d"),
    describe_layer_type<layer_types::BatchNorm1d>("batch_norm1d"),
    describe_layer_type<layer_types::LayerNorm>("layer_norm"),
    describe_layer_type<layer_types::MaxPool1d>("max_pool1d"),
    describe_layer_type<layer_types::AvgPool1d>("avg_pool1d"),
    describe_layer_type<layer_types::GlobalAvgPool1d>("global_avg_pool1d"),
    describe_layer_type<layer_types::Flatten>("flatten"),
    describe_layer_type<layer_types::Reshape>("reshape"),
    describe_layer_type<layer_types::Dropout>("dropout"),
    describe_layer_type<layer_types::Softmax>("softmax"),
    describe_layer_type<layer_types::PRelu>("prelu"),
    describe_layer_type<layer_types::Identity>("identity"),
    describe_layer_type<layer_types::ActivationBase>("relu"),
    describe_layer_type<layer_types::LeakyRelu>("leaky_relu"),
    describe_layer_type<layer_types::Elu>("elu"),
    describe_layer_type<layer_types::Gelu>("gelu"),
    describe_layer_type<layer_types::GeluTanh>("gelu_tanh"),
    describe_layer_type<layer_types::ActivationBase>("silu"),
    describe_layer_type<layer_types::ActivationBase>("tanh"),
    describe_layer_type<layer_types::ActivationBase>("sigmoid"),
    describe_layer_type<layer_types::Softplus>("softplus"),
};

/// The table entry for a type name; nullptr for an unknown name.
inline const LayerType* find_layer_type(std::string_view name) noexcept {
    for (const LayerType& t : layer_type_table)
        if (name == t.name) return &t;
    return nullptr;
}

inline ParameterShapes LayerSpec::parameter_shapes() const {
    const LayerType* t = find_layer_type(type);
    if (!t) throw value_error("nn::LayerSpec: unknown layer type \"" + type + "\"");
    return t->parameters(*this);
}

namespace detail {

// One layer object of an architecture JSON at `where`; unnamed parameters
// get `default_prefix` + their name ("3.weight", "encoder.0.bias").
inline LayerSpec read_layer_spec(const SpecReader& r, const nlohmann::json& in, const std::string& where,
                                 const std::string& default_prefix) {
    if (!in.is_object()) r.fail(where, "a layer must be a JSON object");
    const nlohmann::json& t = r.member(in, where, "type");
    if (!t.is_string()) r.fail(where + ".type", "expected a string");
    LayerSpec spec;
    spec.type = t.get<std::string>();
    spec.path = where;
    spec.config = nlohmann::json::object();
    const std::string written = spec.type;
    const LayerType* type = find_layer_type(written);
    if (!type) r.fail(where + ".type", "unknown layer type \"" + written + "\"");
    LayerFields fields(r, in, spec);
    type->fields(fields);
    fields.refuse_unknown(written);

    const ParameterShapes needed = spec.parameter_shapes();
    const auto p = in.find("params");
    if (p != in.end() && !p->is_object()) r.fail(where + ".params", "expected an object of parameter -> tensor name");
    for (const auto& n : needed) {
        // Unnamed parameters take PyTorch's nn.Sequential names, so a
        // hand-written architecture and an exported model agree.
        if (p == in.end() || p->find(n.first) == p->end()) {
            spec.params[n.first] = default_prefix + n.first;
            continue;
        }
        const nlohmann::json& name = (*p)[n.first];
        if (!name.is_string() || name.get_ref<const std::string&>().empty())
            r.fail(where + ".params." + n.first, "expected a tensor name");
        spec.params[n.first] = name.get<std::string>();
    }
    if (p != in.end())
        for (auto it = p->begin(); it != p->end(); ++it)
            if (spec.params.find(it.key()) == spec.params.end())
                r.fail(where + ".params." + it.key(), "a " + written + " layer has no parameter \"" + it.key() + "\"");
    return spec;
}

}  // namespace detail

/// Validates one layer object of the architecture JSON (defaults filled in).
/// Throws parse_error naming `source` and the JSON path `where`.
inline LayerSpec parse_layer_spec(const nlohmann::json& layer, const std::string& source = "<memory>",
                                  const std::string& where = "layer", const std::string& default_prefix = "") {
    try {
        return detail::read_layer_spec(detail::SpecReader(source), layer, where, default_prefix);
    } catch (const nlohmann::json::exception& e) {  // a value of an unexpected JSON type
        throw parse_error(source, where, std::string("malformed layer: ") + e.what());
    }
}

/// The engine layer for a validated spec (parameters zero or identity).
/// Throws unsupported_error for configurations the engine lacks.
template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerSpec& spec, const std::string& source = "<memory>") {
    const LayerType* t = find_layer_type(spec.type);
    if (!t) throw value_error(source + ": " + spec.path + ": unknown layer type \"" + spec.type + "\"");
    return t->make<T>(spec, source);
}

/// The layer described by `j`, the inverse of Layer::config() (any layer
/// object of the architecture JSON; "params" is ignored). Throws
/// parse_error for an unknown type or missing / malformed fields.
template <class T>
std::unique_ptr<Layer<T>> layer_from_config(const nlohmann::json& j) {
    return make_layer<T>(parse_layer_spec(j, "nn::layer_from_config"), "nn::layer_from_config");
}

/// The initialisation rule of a built layer's parameter (its type's init();
/// PyTorch's reset_parameters() rule for a type not in the table).
inline InitRule init_rule(const std::string& type, const ParameterInfo& p, bool has_matrix_weight) {
    const LayerType* t = find_layer_type(type);
    return t ? t->init(p, has_matrix_weight) : layer_types::LayerTypeBase::init(p, has_matrix_weight);
}

}  // namespace corespec::nn

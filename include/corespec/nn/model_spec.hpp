// corespec/nn/model_spec.hpp - the architecture JSON of a corespec model file,
// parsed and validated (docs/model_format.md describes the schema).
//
// This header knows nothing of the engine's layers: it turns a JSON text into
// a ModelSpec whose every hyper-parameter has been checked (types, ranges,
// consistency such as channels divisible by groups) and which can say, for
// each layer, the exact shape of every parameter tensor it needs. The loader
// (serialize.hpp) compares those shapes with the safetensors file before it
// constructs a layer, so a hostile file can never make it allocate more than
// the file itself holds.
//
// Errors are parse_error(source, location, reason) with the JSON path of the
// offending value as location ("graph.layers[3].kernel_size").
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/nn/json_input.hpp"

namespace corespec::nn {

/// One layer of the architecture: its type, validated hyper-parameters and
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

    /// The parameters this layer needs, with PyTorch's names and layouts, in
    /// declaration order. `params` names the tensor of each; one the JSON
    /// leaves out takes PyTorch's nn.Sequential name, "INDEX.weight" (with
    /// the part's prefix in a VAE or multi-head graph: "encoder.0.weight").
    std::vector<std::pair<std::string, std::vector<std::size_t>>> parameter_shapes() const;
};

/// A chain of layers.
struct SequentialSpec {
    std::vector<LayerSpec> layers;
};

/// A whole model file's architecture.
struct ModelSpec {
    enum class Kind { sequential, vae, multi_head };

    std::string dtype;                      ///< "float32" or "float64": the dtype of every parameter tensor
    std::vector<std::size_t> input_shape;   ///< per sample (no batch); empty when the file does not say
    Kind kind = Kind::sequential;
    SequentialSpec sequential;              ///< kind == sequential
    SequentialSpec encoder, mean, logvar, decoder;  ///< kind == vae
    SequentialSpec trunk;                   ///< kind == multi_head
    std::vector<std::pair<std::string, SequentialSpec>> heads;  ///< kind == multi_head, in output order
    bool has_selftest = false;
    std::string selftest_input, selftest_output;  ///< tensor names
    double selftest_rtol = 0.0;             ///< 0: the loader's default for the scalar type
    nlohmann::json json;                    ///< the document as read

    /// Every sequential part, with its JSON path ("graph", "graph.encoder", ...).
    std::vector<std::pair<std::string, const SequentialSpec*>> parts() const {
        std::vector<std::pair<std::string, const SequentialSpec*>> out;
        switch (kind) {
            case Kind::sequential: out.push_back({"graph", &sequential}); break;
            case Kind::vae:
                out.push_back({"graph.encoder", &encoder});
                out.push_back({"graph.mean", &mean});
                out.push_back({"graph.logvar", &logvar});
                out.push_back({"graph.decoder", &decoder});
                break;
            case Kind::multi_head:
                out.push_back({"graph.trunk", &trunk});
                for (const auto& h : heads) out.push_back({"graph.heads." + h.first, &h.second});
                break;
        }
        return out;
    }
};

/// The format name and the newest version this reader understands.
inline constexpr const char* model_format_name = "corespec.nn";
inline constexpr int model_format_version = 1;
/// The safetensors __metadata__ key holding the architecture JSON.
inline constexpr const char* model_metadata_key = "corespec.model";

namespace detail {

// Bounds that keep a hostile architecture from requesting absurd work; real
// spectra models are far inside them.
inline constexpr std::uint64_t max_features = std::uint64_t(1) << 24;
inline constexpr std::uint64_t max_window = std::uint64_t(1) << 16;  // kernel, stride, dilation, padding

class SpecParser {
public:
    explicit SpecParser(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& reason) const {
        throw parse_error(source_, where, reason);
    }

    const nlohmann::json& member(const nlohmann::json& obj, const std::string& where, const char* key) const {
        const auto it = obj.find(key);
        if (it == obj.end()) fail(where, std::string("missing \"") + key + "\"");
        return *it;
    }

    std::uint64_t integer(const nlohmann::json& v, const std::string& where, std::uint64_t lo, std::uint64_t hi) const {
        if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0))
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

    // Copies `key` (or its default) into cfg after checking it.
    void int_key(const nlohmann::json& in, nlohmann::json& cfg, const std::string& where, const char* key,
                 std::uint64_t lo, std::uint64_t hi, const std::uint64_t* def = nullptr) const {
        const auto it = in.find(key);
        if (it == in.end()) {
            if (!def) fail(where, std::string("missing \"") + key + "\"");
            cfg[key] = *def;
            return;
        }
        cfg[key] = integer(*it, where + "." + key, lo, hi);
    }
    void num_key(const nlohmann::json& in, nlohmann::json& cfg, const std::string& where, const char* key, double def,
                 double lo, double hi, bool lo_open = false) const {
        const auto it = in.find(key);
        const double x = it == in.end() ? def : number(*it, where + "." + key);
        if (x < lo || x > hi || (lo_open && x == lo))
            fail(where + "." + key, "value " + nlohmann::json(x).dump() + " outside " + (lo_open ? "(" : "[") +
                                        nlohmann::json(lo).dump() + ", " + nlohmann::json(hi).dump() + "]");
        cfg[key] = x;
    }
    void bool_key(const nlohmann::json& in, nlohmann::json& cfg, const std::string& where, const char* key, bool def) const {
        const auto it = in.find(key);
        if (it == in.end()) {
            cfg[key] = def;
            return;
        }
        if (!it->is_boolean()) fail(where + "." + key, "expected true or false, got " + it->dump());
        cfg[key] = it->get<bool>();
    }

    LayerSpec layer(const nlohmann::json& in, const std::string& where, const std::string& default_prefix) const;
    /// `prefix` starts the default tensor names of its layers' parameters
    /// ("" for the graph, "encoder.", "heads.<name>.", ...).
    SequentialSpec sequential(const nlohmann::json& in, const std::string& where, const std::string& prefix) const;
    ModelSpec model(const nlohmann::json& doc) const;

private:
    std::string source_;
};

inline LayerSpec SpecParser::layer(const nlohmann::json& in, const std::string& where,
                                   const std::string& default_prefix) const {
    if (!in.is_object()) fail(where, "a layer must be a JSON object");
    const nlohmann::json& t = member(in, where, "type");
    if (!t.is_string()) fail(where + ".type", "expected a string");
    LayerSpec spec;
    spec.type = t.get<std::string>();
    spec.path = where;
    nlohmann::json& cfg = spec.config;
    cfg = nlohmann::json::object();
    const std::string& ty = spec.type;
    static constexpr std::uint64_t zero = 0, one = 1;
    const std::uint64_t F = max_features, W = max_window;
    std::vector<const char*> keys;  // the accepted hyper-parameter keys

    if (ty == "dense") {
        keys = {"in_features", "out_features", "bias"};
        int_key(in, cfg, where, "in_features", 1, F);
        int_key(in, cfg, where, "out_features", 1, F);
        bool_key(in, cfg, where, "bias", true);
    } else if (ty == "block_dense") {  // nn/layers/block_dense.hpp: [[in, out], ...]
        keys = {"blocks", "bias"};
        const nlohmann::json& b = member(in, where, "blocks");
        if (!b.is_array() || b.empty() || b.size() > F) fail(where + ".blocks", "expected a non-empty array of [in, out]");
        cfg["blocks"] = nlohmann::json::array();
        for (std::size_t i = 0; i < b.size(); ++i) {
            const std::string w = where + ".blocks[" + std::to_string(i) + "]";
            if (!b[i].is_array() || b[i].size() != 2) fail(w, "expected [in, out]");
            cfg["blocks"].push_back({integer(b[i][0], w + "[0]", 1, F), integer(b[i][1], w + "[1]", 1, F)});
        }
        bool_key(in, cfg, where, "bias", true);
    } else if (ty == "conv1d" || ty == "conv_transpose1d") {
        const bool tr = ty == "conv_transpose1d";
        keys = {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"};
        if (tr) keys.push_back("output_padding");
        int_key(in, cfg, where, "in_channels", 1, F);
        int_key(in, cfg, where, "out_channels", 1, F);
        int_key(in, cfg, where, "kernel_size", 1, W);
        int_key(in, cfg, where, "stride", 1, W, &one);
        int_key(in, cfg, where, "dilation", 1, W, &one);
        int_key(in, cfg, where, "groups", 1, F, &one);
        bool_key(in, cfg, where, "bias", true);
        const auto pad = in.find("padding");
        if (!tr && pad != in.end() && pad->is_string()) {
            const std::string p = pad->get<std::string>();
            if (p != "same" && p != "valid") fail(where + ".padding", "expected an integer, \"same\" or \"valid\", got \"" + p + "\"");
            cfg["padding"] = p;
        } else if (!tr && pad != in.end() && pad->is_array()) {  // [left, right]
            if (pad->size() != 2) fail(where + ".padding", "expected [left, right]");
            cfg["padding"] = {integer((*pad)[0], where + ".padding[0]", 0, W), integer((*pad)[1], where + ".padding[1]", 0, W)};
        } else {
            int_key(in, cfg, where, "padding", 0, W, &zero);
        }
        if (tr) {
            int_key(in, cfg, where, "output_padding", 0, W, &zero);
            const std::uint64_t op = cfg["output_padding"], s = cfg["stride"], d = cfg["dilation"];
            if (op >= std::max(s, d)) fail(where + ".output_padding", "must be smaller than stride or dilation");
        }
        const std::uint64_t g = cfg["groups"];
        if (cfg["in_channels"].get<std::uint64_t>() % g || cfg["out_channels"].get<std::uint64_t>() % g)
            fail(where + ".groups", "in_channels and out_channels must be divisible by groups");
    } else if (ty == "batch_norm1d") {
        keys = {"num_features", "eps", "affine", "momentum"};
        int_key(in, cfg, where, "num_features", 1, F);
        num_key(in, cfg, where, "eps", 1e-5, 0.0, 1.0, true);
        num_key(in, cfg, where, "momentum", 0.1, 0.0, 1.0);  // training only
        bool_key(in, cfg, where, "affine", true);
    } else if (ty == "layer_norm") {
        keys = {"normalized_shape", "eps", "elementwise_affine"};
        int_key(in, cfg, where, "normalized_shape", 1, F);
        num_key(in, cfg, where, "eps", 1e-5, 0.0, 1.0, true);
        bool_key(in, cfg, where, "elementwise_affine", true);
    } else if (ty == "max_pool1d" || ty == "avg_pool1d") {
        keys = {"kernel_size", "stride", "padding"};
        int_key(in, cfg, where, "kernel_size", 1, W);
        const std::uint64_t k = cfg["kernel_size"];
        int_key(in, cfg, where, "stride", 1, W, &k);
        int_key(in, cfg, where, "padding", 0, k / 2, &zero);  // PyTorch: at most half the kernel
        if (ty == "avg_pool1d") {
            keys.push_back("count_include_pad");
            bool_key(in, cfg, where, "count_include_pad", true);
        }
    } else if (ty == "global_avg_pool1d" || ty == "flatten" || ty == "relu" || ty == "silu" || ty == "tanh" ||
               ty == "sigmoid") {
    } else if (ty == "reshape") {
        keys = {"shape"};
        const nlohmann::json& s = member(in, where, "shape");
        if (!s.is_array() || s.empty() || s.size() > 2) fail(where + ".shape", "expected 1 or 2 dimensions (no batch)");
        cfg["shape"] = nlohmann::json::array();
        for (std::size_t i = 0; i < s.size(); ++i)
            cfg["shape"].push_back(integer(s[i], where + ".shape[" + std::to_string(i) + "]", 1, F));
    } else if (ty == "dropout") {
        keys = {"p"};
        num_key(in, cfg, where, "p", 0.5, 0.0, 1.0);
    } else if (ty == "leaky_relu") {
        // PyTorch calls it negative_slope, the engine's config() alpha.
        keys = {"negative_slope", "alpha"};
        if (in.contains("negative_slope") && in.contains("alpha")) fail(where, "give negative_slope or alpha, not both");
        num_key(in, cfg, where, "negative_slope", 0.01, -1e30, 1e30);
        if (in.contains("alpha")) num_key(in, cfg, where, "alpha", 0.01, -1e30, 1e30), cfg["negative_slope"] = cfg["alpha"];
        cfg.erase("alpha");
    } else if (ty == "elu") {
        keys = {"alpha"};
        num_key(in, cfg, where, "alpha", 1.0, -1e30, 1e30);
    } else if (ty == "gelu_tanh") {  // the engine's name for gelu with approximate "tanh"
        spec.type = "gelu";
        cfg["approximate"] = "tanh";
    } else if (ty == "prelu") {
        keys = {"num_parameters"};
        int_key(in, cfg, where, "num_parameters", 1, F, &one);
    } else if (ty == "gelu") {
        keys = {"approximate"};
        const auto a = in.find("approximate");
        const std::string ap = a == in.end() ? "none" : (a->is_string() ? a->get<std::string>() : "?");
        if (ap != "none" && ap != "tanh") fail(where + ".approximate", "expected \"none\" or \"tanh\"");
        cfg["approximate"] = ap;
    } else if (ty == "softplus") {
        keys = {"beta", "threshold"};
        num_key(in, cfg, where, "beta", 1.0, 0.0, 1e30, true);
        num_key(in, cfg, where, "threshold", 20.0, -1e30, 1e30);
    } else if (ty == "softmax") {
        keys = {"dim"};
        const auto d = in.find("dim");
        if (d != in.end() && !(d->is_number_integer() && (d->get<std::int64_t>() == -1 || d->get<std::int64_t>() == 1)))
            fail(where + ".dim", "only softmax over the features (dim 1 or -1) is supported");
        cfg["dim"] = -1;
    } else {
        fail(where + ".type", "unknown layer type \"" + ty + "\"");
    }

    // Dense and convolutions may carry a fused activation (what the engine's
    // layers write in their config()); a following activation layer is the
    // other, PyTorch-like spelling of the same thing.
    if (ty == "dense" || ty == "conv1d" || ty == "conv_transpose1d") {
        keys.push_back("activation");
        keys.push_back("activation_alpha");
        const auto a = in.find("activation");
        const std::string act = a == in.end() ? "identity" : (a->is_string() ? a->get<std::string>() : "?");
        static const char* fusable[] = {"identity", "linear", "none", "relu", "leaky_relu", "elu", "gelu",
                                        "gelu_tanh", "silu", "tanh", "sigmoid", "softplus"};
        bool ok = false;
        for (const char* f : fusable) ok = ok || act == f;
        if (!ok) fail(where + ".activation", "unknown fused activation \"" + act + "\"");
        cfg["activation"] = (act == "linear" || act == "none") ? "identity" : act;
        const double def_alpha = act == "leaky_relu" ? 0.01 : (act == "elu" ? 1.0 : 0.0);
        num_key(in, cfg, where, "activation_alpha", def_alpha, -1e30, 1e30);
    }

    for (auto it = in.begin(); it != in.end(); ++it) {
        const std::string& k = it.key();
        if (k == "type" || k == "params" || k == "name") continue;
        bool known = false;
        for (const char* a : keys) known = known || k == a;
        if (!known) fail(where + "." + k, "unknown key for a " + ty + " layer");
    }

    const auto needed = spec.parameter_shapes();
    const auto p = in.find("params");
    if (p != in.end() && !p->is_object()) fail(where + ".params", "expected an object of parameter -> tensor name");
    for (const auto& n : needed) {
        // Unnamed parameters take PyTorch's nn.Sequential names ("0.weight",
        // "encoder.3.bias"), so a hand-written architecture and an exported
        // model agree.
        if (p == in.end() || p->find(n.first) == p->end()) {
            spec.params[n.first] = default_prefix + n.first;
            continue;
        }
        const nlohmann::json& name = (*p)[n.first];
        if (!name.is_string() || name.get_ref<const std::string&>().empty())
            fail(where + ".params." + n.first, "expected a tensor name");
        spec.params[n.first] = name.get<std::string>();
    }
    if (p != in.end())
        for (auto it = p->begin(); it != p->end(); ++it)
            if (spec.params.find(it.key()) == spec.params.end())
                fail(where + ".params." + it.key(), "a " + ty + " layer has no parameter \"" + it.key() + "\"");
    return spec;
}

inline SequentialSpec SpecParser::sequential(const nlohmann::json& in, const std::string& where,
                                             const std::string& prefix) const {
    if (!in.is_object()) fail(where, "expected an object {\"type\": \"sequential\", \"layers\": [...]}");
    const nlohmann::json& t = member(in, where, "type");
    if (!t.is_string() || t.get<std::string>() != "sequential") fail(where + ".type", "expected \"sequential\"");
    const nlohmann::json& layers = member(in, where, "layers");
    if (!layers.is_array()) fail(where + ".layers", "expected an array");
    SequentialSpec s;
    for (std::size_t i = 0; i < layers.size(); ++i)
        s.layers.push_back(layer(layers[i], where + ".layers[" + std::to_string(i) + "]", prefix + std::to_string(i) + "."));
    return s;
}

inline ModelSpec SpecParser::model(const nlohmann::json& doc) const {
    if (!doc.is_object()) fail("(root)", "the architecture must be a JSON object");
    ModelSpec m;
    m.json = doc;
    const nlohmann::json& format = member(doc, "(root)", "format");
    if (!format.is_string() || format.get<std::string>() != model_format_name)
        fail("format", std::string("expected \"") + model_format_name + "\"");
    const nlohmann::json& version = member(doc, "(root)", "version");
    if (!version.is_number_integer() || version.get<std::int64_t>() < 1) fail("version", "expected a positive integer");
    if (version.get<std::int64_t>() > model_format_version)
        throw unsupported_error(source_ + ": model format version " + version.dump() + " is newer than this reader (" +
                                std::to_string(model_format_version) + ")");
    const nlohmann::json& dtype = member(doc, "(root)", "dtype");
    if (!dtype.is_string() || (dtype.get<std::string>() != "float32" && dtype.get<std::string>() != "float64"))
        fail("dtype", "expected \"float32\" or \"float64\"");
    m.dtype = dtype.get<std::string>();

    if (const auto s = doc.find("input_shape"); s != doc.end()) {
        if (!s->is_array() || s->empty() || s->size() > 2) fail("input_shape", "expected 1 or 2 dimensions (no batch)");
        for (std::size_t i = 0; i < s->size(); ++i)
            m.input_shape.push_back(static_cast<std::size_t>(integer((*s)[i], "input_shape[" + std::to_string(i) + "]", 1, max_features)));
    }

    const nlohmann::json& g = member(doc, "(root)", "graph");
    if (!g.is_object()) fail("graph", "expected an object");
    const nlohmann::json& kind = member(g, "graph", "type");
    const std::string k = kind.is_string() ? kind.get<std::string>() : "";
    if (k == "sequential") {
        m.kind = ModelSpec::Kind::sequential;
        m.sequential = sequential(g, "graph", "");
    } else if (k == "vae") {
        m.kind = ModelSpec::Kind::vae;
        m.encoder = sequential(member(g, "graph", "encoder"), "graph.encoder", "encoder.");
        m.mean = sequential(member(g, "graph", "mean"), "graph.mean", "mean.");
        m.logvar = sequential(member(g, "graph", "logvar"), "graph.logvar", "logvar.");
        m.decoder = sequential(member(g, "graph", "decoder"), "graph.decoder", "decoder.");
    } else if (k == "multi_head") {
        m.kind = ModelSpec::Kind::multi_head;
        m.trunk = sequential(member(g, "graph", "trunk"), "graph.trunk", "trunk.");
        const nlohmann::json& heads = member(g, "graph", "heads");
        if (!heads.is_array() || heads.empty()) fail("graph.heads", "expected a non-empty array of heads");
        for (std::size_t i = 0; i < heads.size(); ++i) {
            const std::string where = "graph.heads[" + std::to_string(i) + "]";
            if (!heads[i].is_object()) fail(where, "expected an object");
            const nlohmann::json& name = member(heads[i], where, "name");
            if (!name.is_string() || name.get_ref<const std::string&>().empty()) fail(where + ".name", "expected a name");
            for (const auto& h : m.heads)
                if (h.first == name.get<std::string>()) fail(where + ".name", "duplicate head name");
            m.heads.push_back({name.get<std::string>(), sequential(heads[i], where, "heads." + name.get<std::string>() + ".")});
        }
    } else {
        fail("graph.type", "unknown graph type " + kind.dump() + " (expected sequential, vae or multi_head)");
    }

    if (const auto st = doc.find("selftest"); st != doc.end()) {
        if (!st->is_object()) fail("selftest", "expected an object");
        const nlohmann::json& i = member(*st, "selftest", "input");
        const nlohmann::json& o = member(*st, "selftest", "output");
        if (!i.is_string() || !o.is_string()) fail("selftest", "input and output must be tensor names");
        m.has_selftest = true;
        m.selftest_input = i.get<std::string>();
        m.selftest_output = o.get<std::string>();
        if (const auto r = st->find("rtol"); r != st->end()) {
            m.selftest_rtol = number(*r, "selftest.rtol");
            if (!(m.selftest_rtol > 0.0 && m.selftest_rtol < 1.0)) fail("selftest.rtol", "expected a value in (0, 1)");
        }
    }
    return m;
}

}  // namespace detail

inline std::vector<std::pair<std::string, std::vector<std::size_t>>> LayerSpec::parameter_shapes() const {
    std::vector<std::pair<std::string, std::vector<std::size_t>>> out;
    if (type == "dense") {
        out.push_back({"weight", {size("out_features"), size("in_features")}});
        if (flag("bias")) out.push_back({"bias", {size("out_features")}});
    } else if (type == "block_dense") {
        const auto& blocks = config.at("blocks");
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            const std::size_t bi = blocks[b][0].get<std::size_t>(), bo = blocks[b][1].get<std::size_t>();
            out.push_back({"block" + std::to_string(b) + ".weight", {bo, bi}});
            if (flag("bias")) out.push_back({"block" + std::to_string(b) + ".bias", {bo}});
        }
    } else if (type == "conv1d") {
        out.push_back({"weight", {size("out_channels"), size("in_channels") / size("groups"), size("kernel_size")}});
        if (flag("bias")) out.push_back({"bias", {size("out_channels")}});
    } else if (type == "conv_transpose1d") {
        out.push_back({"weight", {size("in_channels"), size("out_channels") / size("groups"), size("kernel_size")}});
        if (flag("bias")) out.push_back({"bias", {size("out_channels")}});
    } else if (type == "batch_norm1d") {
        const std::size_t n = size("num_features");
        if (flag("affine")) {
            out.push_back({"weight", {n}});
            out.push_back({"bias", {n}});
        }
        out.push_back({"running_mean", {n}});
        out.push_back({"running_var", {n}});
    } else if (type == "layer_norm") {
        if (flag("elementwise_affine")) {
            out.push_back({"weight", {size("normalized_shape")}});
            out.push_back({"bias", {size("normalized_shape")}});
        }
    } else if (type == "prelu") {
        out.push_back({"weight", {size("num_parameters")}});
    }
    return out;
}

/// Validates an already parsed architecture document (same errors).
inline ModelSpec model_spec_from_json(const nlohmann::json& doc, const std::string& source = "<memory>") {
    try {
        return detail::SpecParser(source).model(doc);
    } catch (const nlohmann::json::exception& e) {  // a value of an unexpected JSON type
        throw parse_error(source, "(root)", std::string("malformed architecture: ") + e.what());
    }
}

/// Parses and validates an architecture JSON text. `source` names it in
/// errors. Throws parse_error (JSON syntax, or beyond JsonLimits' size and
/// nesting depth: byte offset; schema: JSON path), unsupported_error for a
/// newer format version.
inline ModelSpec parse_model_spec(std::string_view text, const std::string& source = "<memory>") {
    return model_spec_from_json(parse_bounded_json(text, source, "architecture"), source);
}

}  // namespace corespec::nn

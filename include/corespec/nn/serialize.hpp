// corespec/nn/serialize.hpp - load and save run-time models in the corespec
// model format (docs/model_format.md): weights in safetensors, architecture
// JSON in its __metadata__ (or in a separate JSON file naming the weights),
// and an optional self-test checked at load.
//
//   auto model = corespec::nn::load_model<float>("mlp.safetensors");
//   corespec::nn::Workspace<float> ws;
//   model.forward(in, out, ws);                 // in: [batch, 702] -> out: [batch, 8]
//   corespec::nn::save_model(model, "copy.safetensors");
//
// At load, BatchNorm1d following a Dense / Conv1D / ConvTranspose1D layer is
// folded into that layer's weights and bias, and an activation following such
// a layer is fused into its GEMM epilogue; the model computes the same
// function with fewer passes over memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/kernels/activation.hpp"
#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/block_dense.hpp"
#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/norm.hpp"
#include "corespec/nn/layers/pool.hpp"
#include "corespec/nn/layers/shape.hpp"
#include "corespec/nn/model_spec.hpp"
#include "corespec/nn/models/vae.hpp"
#include "corespec/nn/safetensors.hpp"
#include "corespec/nn/sequential.hpp"
#include "corespec/nn/tensor.hpp"
#include "corespec/nn/workspace.hpp"

namespace corespec::nn {

/// A model file's self-test failed: the stored input did not give the stored
/// output within the tolerance (wrong weights, wrong architecture, or an
/// engine bug). The message gives the error and the tolerance.
class selftest_error : public value_error {
public:
    selftest_error(const std::string& message, double error, double tolerance)
        : value_error(message), error_(error), tolerance_(tolerance) {}
    double error() const noexcept { return error_; }
    double tolerance() const noexcept { return tolerance_; }

private:
    double error_, tolerance_;
};

/// max_i |y_i - ref_i| / max_i |ref_i| (the norm-wise relative error in the
/// max norm; 0 when both are all zero, the absolute error when ref is zero).
/// NaN anywhere gives +inf.
template <class A, class B>
double max_relative_error(span<const A> y, span<const B> ref) {
    if (y.size() != ref.size()) throw shape_error("max_relative_error", {ref.size()}, {y.size()});
    double diff = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double a = static_cast<double>(y[i]), b = static_cast<double>(ref[i]);
        if (std::isnan(a) != std::isnan(b) || (std::isnan(a) && std::isnan(b)))
            return std::numeric_limits<double>::infinity();
        if (a == b) continue;  // equal infinities too
        diff = std::max(diff, std::abs(a - b));
        scale = std::max(scale, std::abs(b));
    }
    for (std::size_t i = 0; i < ref.size(); ++i) scale = std::max(scale, std::abs(static_cast<double>(ref[i])));
    return diff == 0.0 ? 0.0 : (scale > 0.0 ? diff / scale : diff);
}

/// A model read from a file: a Sequential, a VAE (encoder -> mean / logvar,
/// decoder) or a trunk with several heads, all made of the engine's layers.
/// const and thread-safe like Sequential: one Workspace per thread.
template <class T>
class Model {
public:
    using Kind = ModelSpec::Kind;

    Model() = default;

    Kind kind() const noexcept { return kind_; }

private:
    static Sequential<T> concatenated(std::initializer_list<const Sequential<T>*> chains) {
        Sequential<T> s;
        for (const Sequential<T>* c : chains)
            for (std::size_t i = 0; i < c->size(); ++i) s.add(c->layer(i).clone());
        return s;
    }

public:
    /// The architecture as loaded (its JSON is spec().json).
    const ModelSpec& spec() const noexcept { return spec_; }
    /// Per-sample input shape from the file; empty if the file does not say.
    const std::vector<std::size_t>& input_shape() const noexcept { return spec_.input_shape; }

    /// The named parts: "graph" (sequential), "encoder", "mean", "logvar",
    /// "decoder" (vae), "trunk" and "heads.<name>" (multi_head).
    std::size_t part_count() const noexcept { return parts_.size(); }
    const std::string& part_name(std::size_t i) const { return parts_.at(i).first; }
    Sequential<T>& part(const std::string& name) { return parts_[index(name)].second; }
    const Sequential<T>& part(const std::string& name) const { return parts_[index(name)].second; }

    /// The differentiable chain from the input to one output, as one
    /// Sequential (a copy): the graph of a sequential model; a VAE's encoder
    /// then mean head (the latent mean); a multi-head model's trunk then the
    /// head named `head` (its name, or its 0-based index as text; the first
    /// head when empty). Throws value_error for an unknown head, or a head
    /// given for a model that has none. This is what explain::ModelGradient
    /// differentiates.
    Sequential<T> chain(const std::string& head = "") const {
        if (kind_ != Kind::multi_head && !head.empty()) throw value_error("nn::Model::chain: only multi-head models have heads");
        switch (kind_) {
            case Kind::sequential: return parts_[0].second;
            case Kind::vae: return concatenated({&part("encoder"), &part("mean")});
            case Kind::multi_head: return concatenated({&parts_[0].second, &part(head_part(head))});
        }
        throw unsupported_error("nn::Model::chain: unknown model kind");
    }

    /// The part name ("heads.<name>") of a multi-head model's head given by
    /// name or 0-based index; the first head when empty. Throws value_error.
    std::string head_part(const std::string& head) const {
        if (kind_ != Kind::multi_head || parts_.size() < 2) throw value_error("nn::Model: not a multi-head model");
        if (head.empty()) return parts_[1].first;
        for (std::size_t i = 1; i < parts_.size(); ++i)
            if (parts_[i].first == "heads." + head) return parts_[i].first;
        if (!head.empty() && head.find_first_not_of("0123456789") == std::string::npos && head.size() < 9) {
            const std::size_t index = std::stoul(head);
            if (index + 1 < parts_.size()) return parts_[index + 1].first;
        }
        std::string names;
        for (std::size_t i = 1; i < parts_.size(); ++i) names += (names.empty() ? "" : ", ") + parts_[i].first.substr(6);
        throw value_error("no head '" + head + "' (heads: " + names + "; or an index below " + std::to_string(parts_.size() - 1) + ")");
    }

    /// Output shape (batch first) of forward for an input shape (batch first).
    /// Throws shape_error when the input does not fit.
    Shape output_shape(const Shape& in) const {
        check_input(in);
        switch (kind_) {
            case Kind::sequential: return parts_[0].second.output_shape(in);
            case Kind::vae: return part("decoder").output_shape(part("mean").output_shape(part("encoder").output_shape(in)));
            case Kind::multi_head: {
                const Shape h = parts_[0].second.output_shape(in);
                std::size_t features = 0;
                for (std::size_t i = 1; i < parts_.size(); ++i) features += parts_[i].second.output_shape(h).drop_batch().size();
                return Shape{in.rank() ? in[0] : 1, features};
            }
        }
        return in;
    }

    /// The largest tensor (elements) any layer produces for an input shape
    /// (batch first): a bound on forward's scratch, and a guard against
    /// files whose layers would blow up a small input. Throws shape_error.
    std::size_t peak_activation_size(const Shape& in) const {
        check_input(in);
        std::size_t peak = in.size();
        auto walk = [&peak](const Sequential<T>& seq, Shape s) {
            for (std::size_t i = 0; i < seq.size(); ++i) {
                s = seq.layer(i).output_shape(s);
                peak = std::max(peak, s.size());
            }
            return s;
        };
        switch (kind_) {
            case Kind::sequential: walk(parts_[0].second, in); break;
            case Kind::vae: {
                const Shape h = walk(part("encoder"), in);
                walk(part("logvar"), h);
                walk(part("decoder"), walk(part("mean"), h));
                break;
            }
            case Kind::multi_head: {
                const Shape h = walk(parts_[0].second, in);
                for (std::size_t i = 1; i < parts_.size(); ++i) walk(parts_[i].second, h);
                break;
            }
        }
        return peak;
    }

    /// out = model(in): the Sequential; the VAE's reconstruction through the
    /// latent mean (deterministic); the heads' outputs, each flattened per
    /// sample, concatenated along the features in file order.
    /// Throws shape_error for an input of the wrong shape.
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const {
        const Shape want = output_shape(in.shape());
        if (want != out.shape()) throw shape_error("nn::Model output", want.to_vector(), out.shape().to_vector());
        switch (kind_) {
            case Kind::sequential: parts_[0].second.forward(in, out, ws); return;
            case Kind::vae: {
                typename Workspace<T>::Frame frame(ws);
                const Sequential<T>& enc = part("encoder");
                const Sequential<T>& mean = part("mean");
                const Shape hs = enc.output_shape(in.shape());
                TensorView<T> h(ws.allocate(hs.size()), hs);
                enc.forward(in, h, ws);
                const Shape zs = mean.output_shape(hs);
                TensorView<T> z(ws.allocate(zs.size()), zs);
                mean.forward(h, z, ws);
                part("decoder").forward(z, out, ws);
                return;
            }
            case Kind::multi_head: {
                typename Workspace<T>::Frame frame(ws);
                const Shape hs = parts_[0].second.output_shape(in.shape());
                TensorView<T> h(ws.allocate(hs.size()), hs);
                parts_[0].second.forward(in, h, ws);
                const std::size_t batch = in.batch(), total = want.drop_batch().size();
                std::size_t column = 0;
                for (std::size_t i = 1; i < parts_.size(); ++i) {
                    typename Workspace<T>::Frame inner(ws);
                    const Shape os = parts_[i].second.output_shape(hs);
                    TensorView<T> o(ws.allocate(os.size()), os);
                    parts_[i].second.forward(h, o, ws);
                    const std::size_t n = os.drop_batch().size();
                    for (std::size_t b = 0; b < batch; ++b)
                        std::copy(o.data() + b * n, o.data() + (b + 1) * n, out.data() + b * total + column);
                    column += n;
                }
                return;
            }
        }
    }

    /// forward on the caller's pool (one workspace per thread), as
    /// Sequential::forward_parallel: guided chunks of samples, results
    /// equal forward's bit for bit.
    void forward_parallel(ConstTensorView<T> in, TensorView<T> out, span<Workspace<T>> workspaces, ThreadPool& pool) const {
        const Shape want = output_shape(in.shape());
        if (want != out.shape()) throw shape_error("nn::Model output", want.to_vector(), out.shape().to_vector());
        detail::guided_batches(pool, workspaces, in.batch(), "nn::Model::forward_parallel",
                               [&](std::size_t first, std::size_t n, Workspace<T>& ws) {
                                   forward(in.batch_slice(first, n), out.batch_slice(first, n), ws);
                               });
    }

    // --- VAE --------------------------------------------------------------

    /// Latent mean and log-variance of each input sample (VAE models only;
    /// value_error otherwise).
    void encode(ConstTensorView<T> in, TensorView<T> mean, TensorView<T> logvar, Workspace<T>& ws) const {
        require_vae("encode");
        check_input(in.shape());
        typename Workspace<T>::Frame frame(ws);
        const Sequential<T>& enc = part("encoder");
        const Shape hs = enc.output_shape(in.shape());
        TensorView<T> h(ws.allocate(hs.size()), hs);
        enc.forward(in, h, ws);
        part("mean").forward(h, mean, ws);
        part("logvar").forward(h, logvar, ws);
    }

    /// The decoder's output for latent vectors z [batch, latent] (VAE only).
    void decode(ConstTensorView<T> z, TensorView<T> out, Workspace<T>& ws) const {
        require_vae("decode");
        part("decoder").forward(z, out, ws);
    }

    /// The engine's Vae with copies of this model's parts (VAE models with an
    /// input_shape only; value_error otherwise).
    Vae<T> to_vae() const {
        require_vae("to_vae");
        if (spec_.input_shape.empty()) throw value_error("nn::Model::to_vae: the file gives no input_shape");
        return Vae<T>(part("encoder"), part("mean"), part("logvar"), part("decoder"), Shape(spec_.input_shape));
    }

    /// The engine's MultiHead with copies of this model's parts (multi-head models only).
    MultiHead<T> to_multi_head() const {
        if (kind_ != Kind::multi_head) throw value_error("nn::Model::to_multi_head: the model is not multi-head");
        std::vector<std::string> names;
        std::vector<Sequential<T>> heads;
        for (std::size_t i = 1; i < parts_.size(); ++i) {
            names.push_back(parts_[i].first.substr(6));  // strip "heads."
            heads.push_back(parts_[i].second);
        }
        return MultiHead<T>(parts_[0].second, std::move(names), std::move(heads));
    }

    // --- building (used by the loader) -------------------------------------

    Model(ModelSpec spec, std::vector<std::pair<std::string, Sequential<T>>> parts)
        : spec_(std::move(spec)), kind_(spec_.kind), parts_(std::move(parts)) {}

private:
    std::size_t index(const std::string& name) const {
        for (std::size_t i = 0; i < parts_.size(); ++i)
            if (parts_[i].first == name) return i;
        throw value_error("nn::Model: no part named '" + name + "'");
    }
    void require_vae(const char* what) const {
        if (kind_ != Kind::vae) throw value_error(std::string("nn::Model::") + what + ": the model is not a VAE");
    }
    void check_input(const Shape& in) const {
        if (spec_.input_shape.empty()) return;
        if (in.rank() != spec_.input_shape.size() + 1 || in.drop_batch().to_vector() != spec_.input_shape) {
            std::vector<std::size_t> want{in.rank() ? in[0] : 0};
            want.insert(want.end(), spec_.input_shape.begin(), spec_.input_shape.end());
            throw shape_error("nn::Model input", want, in.to_vector());
        }
    }

    ModelSpec spec_;
    Kind kind_ = Kind::sequential;
    std::vector<std::pair<std::string, Sequential<T>>> parts_;
};

/// How load_model treats a file.
struct LoadOptions {
    bool verify = true;           ///< run the file's self-test (if it has one); throws selftest_error
    bool fold_batch_norm = true;  ///< fold BatchNorm1d into the preceding Dense / Conv layer
    bool fuse_activations = true; ///< fuse a following activation into Dense / Conv layers
};

namespace detail {

/// The model format's name for the engine's value type.
template <class T>
const char* model_dtype() noexcept {
    return std::is_same<T, float>::value ? "float32" : "float64";
}

inline bool is_foldable_target(const std::string& type) {
    return type == "dense" || type == "conv1d" || type == "conv_transpose1d";
}
inline bool is_fusable_activation(const LayerSpec& s) {
    const std::string& t = s.type;
    if (t == "softplus") return s.number("beta") == 1.0 && s.number("threshold") == 20.0;
    return t == "relu" || t == "leaky_relu" || t == "elu" || t == "gelu" || t == "silu" || t == "tanh" || t == "sigmoid";
}
// The Activation of an activation layer (only for is_fusable_activation or
// the plain activation layer types).
inline Activation activation_of(const LayerSpec& s) {
    const std::string& t = s.type;
    if (t == "leaky_relu") return Activation::leaky_relu(s.number("negative_slope"));
    if (t == "elu") return Activation::elu(s.number("alpha"));
    if (t == "gelu") return s.text("approximate") == "tanh" ? Activation::gelu_tanh() : Activation::gelu();
    return Activation::from_name(t);
}

// One layer to construct: its spec (with the final hyper-parameters) and its
// parameter values (double, PyTorch layouts) by name.
struct PendingLayer {
    LayerSpec spec;
    std::map<std::string, std::vector<double>> values;
};

// Reads a parameter tensor, checking presence, dtype and shape.
inline std::vector<double> read_parameter(const SafeTensors& st, const ModelSpec& model, const LayerSpec& layer,
                                          const std::string& param, const std::vector<std::size_t>& shape,
                                          const std::string& source) {
    const std::string& tensor = layer.params.at(param);
    const std::string where = layer.path + ".params." + param;
    if (!st.contains(tensor)) throw parse_error(source, where, "tensor '" + tensor + "' is not in the file");
    const TensorData& t = st.at(tensor);
    const DType want = model.dtype == "float32" ? DType::F32 : DType::F64;
    if (t.dtype != want)
        throw parse_error(source, where, std::string("dtype mismatch: tensor '") + tensor + "' is " + dtype_name(t.dtype) +
                                             ", the model declares " + model.dtype);
    if (t.shape != shape) throw shape_error(source + ": " + where + " (tensor '" + tensor + "')", shape, t.shape);
    return t.to_vector<double>();
}

// Folds BatchNorm1d (eval: y = (x - mean) / sqrt(var + eps) * gamma + beta)
// into the layer before it: per output channel o, w *= s_o, b = (b - mean) * s_o + beta.
inline void fold_batch_norm(PendingLayer& target, const PendingLayer& bn) {
    const std::size_t n = bn.spec.size("num_features");
    const double eps = bn.spec.number("eps");
    const bool affine = bn.spec.flag("affine");
    std::vector<double> scale(n), shift(n);
    for (std::size_t o = 0; o < n; ++o) {
        const double g = affine ? bn.values.at("weight")[o] : 1.0;
        const double beta = affine ? bn.values.at("bias")[o] : 0.0;
        scale[o] = g / std::sqrt(bn.values.at("running_var")[o] + eps);
        shift[o] = beta - bn.values.at("running_mean")[o] * scale[o];
    }
    LayerSpec& s = target.spec;
    std::vector<double>& w = target.values.at("weight");
    if (s.type == "dense") {
        const std::size_t in = s.size("in_features");
        for (std::size_t o = 0; o < n; ++o)
            for (std::size_t i = 0; i < in; ++i) w[o * in + i] *= scale[o];
    } else if (s.type == "conv1d") {
        const std::size_t per = w.size() / n;  // [out, in/groups, k]
        for (std::size_t o = 0; o < n; ++o)
            for (std::size_t i = 0; i < per; ++i) w[o * per + i] *= scale[o];
    } else {  // conv_transpose1d: [in, out/groups, k], output channel = group * (out/groups) + j
        const std::size_t groups = s.size("groups"), in = s.size("in_channels"), k = s.size("kernel_size");
        const std::size_t out_g = n / groups, in_g = in / groups;
        for (std::size_t c = 0; c < in; ++c)
            for (std::size_t j = 0; j < out_g; ++j)
                for (std::size_t t = 0; t < k; ++t) w[(c * out_g + j) * k + t] *= scale[(c / in_g) * out_g + j];
    }
    std::vector<double> b(n, 0.0);
    if (s.flag("bias")) b = target.values.at("bias");
    for (std::size_t o = 0; o < n; ++o) b[o] = b[o] * scale[o] + shift[o];
    target.values["bias"] = std::move(b);
    s.config["bias"] = true;
}

inline std::size_t out_features_of(const LayerSpec& s) {
    return s.type == "dense" ? s.size("out_features") : s.size("out_channels");
}

inline Activation fused_activation(const LayerSpec& s) {
    return Activation::from_name(s.text("activation"), s.number("activation_alpha"));
}

// Constructs the engine layer for a validated spec (parameters zero or
// identity). Throws unsupported_error for configurations the engine lacks.
template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerSpec& s, const std::string& source) {
    const std::string& t = s.type;
    auto unsupported = [&](const std::string& what) {
        return unsupported_error(source + ": " + s.path + ": " + what + " is not supported by the engine");
    };
    if (t == "dense") return std::make_unique<Dense<T>>(s.size("in_features"), s.size("out_features"), fused_activation(s), s.flag("bias"));
    if (t == "block_dense")
        return std::make_unique<BlockDense<T>>(BlockDense<T>::blocks_from_json(s.config.at("blocks"), source + ": " + s.path), s.flag("bias"));
    if (t == "conv1d")
        return std::make_unique<Conv1D<T>>(s.size("in_channels"), s.size("out_channels"), s.size("kernel_size"),
                                           s.size("stride"), Padding::from_json(s.config.at("padding")), s.size("dilation"),
                                           s.size("groups"), fused_activation(s), s.flag("bias"));
    if (t == "conv_transpose1d")
        return std::make_unique<ConvTranspose1D<T>>(s.size("in_channels"), s.size("out_channels"), s.size("kernel_size"),
                                                    s.size("stride"), s.size("padding"), s.size("output_padding"),
                                                    s.size("dilation"), s.size("groups"), fused_activation(s), s.flag("bias"));
    if (t == "batch_norm1d") return std::make_unique<BatchNorm1d<T>>(s.size("num_features"), s.number("eps"), s.number("momentum"));
    if (t == "layer_norm")
        return std::make_unique<LayerNorm<T>>(s.size("normalized_shape"), s.number("eps"), s.flag("elementwise_affine"));
    if (t == "max_pool1d") return std::make_unique<MaxPool1d<T>>(s.size("kernel_size"), s.size("stride"), s.size("padding"));
    if (t == "avg_pool1d") {
        if (!s.flag("count_include_pad") && s.size("padding") > 0) throw unsupported("avg_pool1d with count_include_pad false");
        return std::make_unique<AvgPool1d<T>>(s.size("kernel_size"), s.size("stride"), s.size("padding"));
    }
    if (t == "global_avg_pool1d") return std::make_unique<GlobalAvgPool1d<T>>();
    if (t == "flatten") return std::make_unique<Flatten<T>>();
    if (t == "reshape") return std::make_unique<Reshape<T>>(Shape(s.config.at("shape").get<std::vector<std::size_t>>()));
    if (t == "dropout") return std::make_unique<Dropout<T>>(s.number("p"));
    if (t == "softmax") return std::make_unique<Softmax<T>>();
    if (t == "prelu") return std::make_unique<PReLU<T>>(s.size("num_parameters"));
    if (t == "softplus" && !is_fusable_activation(s)) throw unsupported("softplus with beta != 1 or threshold != 20");
    return std::make_unique<ActivationLayer<T>>(activation_of(s));
}

template <class T>
Sequential<T> build_sequential(const SequentialSpec& seq, const ModelSpec& model, const SafeTensors& st,
                               const std::string& source, const LoadOptions& opt) {
    // Read and check every parameter before any layer is constructed, so
    // that allocations are bounded by what the file holds.
    std::vector<PendingLayer> pending;
    for (const LayerSpec& l : seq.layers) {
        PendingLayer p{l, {}};
        for (const auto& ps : l.parameter_shapes())
            p.values[ps.first] = read_parameter(st, model, l, ps.first, ps.second, source);
        pending.push_back(std::move(p));
    }
    std::vector<PendingLayer> merged;
    for (std::size_t i = 0; i < pending.size(); ++i) {
        PendingLayer cur = std::move(pending[i]);
        if (is_foldable_target(cur.spec.type)) {
            const bool fused_already = cur.spec.text("activation") != "identity";
            if (opt.fold_batch_norm && !fused_already && i + 1 < pending.size() &&
                pending[i + 1].spec.type == "batch_norm1d") {
                const LayerSpec& bn = pending[i + 1].spec;
                if (bn.size("num_features") != out_features_of(cur.spec))
                    throw shape_error(source + ": " + bn.path + " num_features after " + cur.spec.path,
                                      {out_features_of(cur.spec)}, {bn.size("num_features")});
                fold_batch_norm(cur, pending[i + 1]);
                ++i;
            }
            if (opt.fuse_activations && cur.spec.text("activation") == "identity" && i + 1 < pending.size() &&
                is_fusable_activation(pending[i + 1].spec)) {
                const Activation a = activation_of(pending[i + 1].spec);
                cur.spec.config["activation"] = a.name();
                cur.spec.config["activation_alpha"] = a.alpha;
                ++i;
            }
        }
        merged.push_back(std::move(cur));
    }

    Sequential<T> out;
    for (PendingLayer& p : merged) {
        std::unique_ptr<Layer<T>> layer = make_layer<T>(p.spec, source);
        for (const ParameterInfo& info : layer->parameter_info()) {
            const auto v = p.values.find(info.name);
            span<T> dst = layer->parameter(info.name);
            if (v == p.values.end()) {
                // Parameters the file format does not carry for this layer
                // (e.g. BatchNorm1d without affine) keep their identity values.
                continue;
            }
            if (v->second.size() != dst.size())
                throw shape_error(source + ": " + p.spec.path + "." + info.name, info.shape.to_vector(), {v->second.size()});
            for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<T>(v->second[i]);
        }
        layer->parameters_changed();
        out.add(std::move(layer));
    }
    return out;
}

}  // namespace detail

/// The default self-test tolerance: 1e-5 when the file or T is float32,
/// 1e-12 when both are double (norm-wise relative error, see max_relative_error).
template <class T>
double default_selftest_tolerance(const ModelSpec& spec) {
    return (std::is_same<T, float>::value || spec.dtype == "float32") ? 1e-5 : 1e-12;
}

/// Runs the self-test stored in `st` on `model` and returns its error; throws
/// selftest_error when it exceeds the tolerance, parse_error/shape_error
/// when the stored tensors are missing or do not fit the model.
template <class T>
double run_selftest(const Model<T>& model, const SafeTensors& st, const std::string& source = "<memory>") {
    const ModelSpec& spec = model.spec();
    if (!spec.has_selftest) return 0.0;
    for (const std::string* n : {&spec.selftest_input, &spec.selftest_output})
        if (!st.contains(*n)) throw parse_error(source, "selftest", "tensor '" + *n + "' is not in the file");
    const TensorData& ti = st.at(spec.selftest_input);
    const TensorData& to = st.at(spec.selftest_output);
    if (ti.shape.empty() || ti.shape.size() > Shape::max_rank)
        throw parse_error(source, "selftest.input", "the self-test input must have rank 1 to 3 (batch first)");
    const Shape in_shape(ti.shape);
    const Shape out_shape = model.output_shape(in_shape);
    if (out_shape.to_vector() != to.shape) throw shape_error(source + ": selftest.output", out_shape.to_vector(), to.shape);
    // A hostile file could chain layers that grow a small input enormously.
    constexpr std::size_t limit = std::size_t(1) << 26;
    if (model.peak_activation_size(in_shape) > limit)
        throw parse_error(source, "selftest", "the self-test would need an activation of more than 2^26 elements");
    const std::vector<T> x = ti.to_vector<T>();
    const std::vector<double> ref = to.to_vector<double>();
    std::vector<T> y(out_shape.size());
    Workspace<T> ws;
    model.forward(ConstTensorView<T>(x.data(), in_shape), TensorView<T>(y.data(), out_shape), ws);
    const double err = max_relative_error(span<const T>(y.data(), y.size()), span<const double>(ref.data(), ref.size()));
    const double tol = spec.selftest_rtol > 0 ? spec.selftest_rtol : default_selftest_tolerance<T>(spec);
    if (!(err <= tol)) {
        std::ostringstream msg;
        msg << source << ": self-test failed: relative error " << err << " > tolerance " << tol;
        throw selftest_error(msg.str(), err, tol);
    }
    return err;
}

/// Builds a model from an architecture and the tensors it names. Throws
/// parse_error (missing tensors, dtype mismatches), shape_error (tensor
/// shapes, layer chains that do not fit), unsupported_error (a layer
/// configuration the engine cannot run), selftest_error.
template <class T>
Model<T> build_model(ModelSpec spec, const SafeTensors& st, const std::string& source = "<memory>",
                     const LoadOptions& opt = {}) {
    std::vector<std::pair<std::string, Sequential<T>>> parts;
    for (const auto& part : spec.parts()) {
        std::string name = part.first == "graph" ? "graph" : part.first.substr(6);  // strip "graph."
        parts.push_back({std::move(name), detail::build_sequential<T>(*part.second, spec, st, source, opt)});
    }
    Model<T> model(std::move(spec), std::move(parts));
    // Check that the chain fits the declared input shape now, not at the first call.
    if (!model.input_shape().empty()) {
        Shape one(model.input_shape());
        (void)model.output_shape(one.with_batch(1));
    }
    if (opt.verify) run_selftest(model, st, source);
    return model;
}

/// Parses a model from a safetensors image in memory (architecture in
/// __metadata__["corespec.model"]).
template <class T>
Model<T> load_model_from_memory(const unsigned char* data, std::size_t size, const std::string& source = "<memory>",
                                const LoadOptions& opt = {}) {
    const SafeTensors st = SafeTensors::parse(data, size, source);
    const auto it = st.metadata.find(model_metadata_key);
    if (it == st.metadata.end())
        throw parse_error(source, "__metadata__", std::string("no \"") + model_metadata_key +
                                                      "\" entry: not a corespec model file");
    return build_model<T>(parse_model_spec(it->second, source), st, source, opt);
}

/// A model file read and validated, before any layer is built: its
/// architecture, its tensors and the name used in messages.
struct ModelFile {
    ModelSpec spec;
    SafeTensors tensors;
    std::string source;
};

/// Reads a model file: either one .safetensors file carrying its
/// architecture in __metadata__, or an architecture .json file whose
/// "weights" names a safetensors file (relative to the JSON file's folder).
/// Throws io_error, parse_error, unsupported_error (newer format version).
inline ModelFile read_model_file(const std::string& path) {
    const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
    std::size_t first = 0;
    while (first < bytes.size() && (bytes[first] == ' ' || bytes[first] == '\n' || bytes[first] == '\r' || bytes[first] == '\t'))
        ++first;
    if (first < bytes.size() && bytes[first] == '{') {  // a JSON architecture file
        const nlohmann::json doc = parse_bounded_json(
            std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path, "architecture");
        if (!doc.is_object() || !doc.contains("weights") || !doc["weights"].is_string())
            throw parse_error(path, "weights", "an architecture file needs \"weights\": the safetensors file name");
        std::string weights = doc["weights"].get<std::string>();
        if (weights.empty() || weights[0] != '/') {
            const std::size_t slash = path.find_last_of('/');
            if (slash != std::string::npos) weights = path.substr(0, slash + 1) + weights;
        }
        ModelSpec spec = model_spec_from_json(doc, path);
        return ModelFile{std::move(spec), SafeTensors::read(weights), weights};
    }
    SafeTensors st = SafeTensors::parse(bytes.data(), bytes.size(), path);
    const auto it = st.metadata.find(model_metadata_key);
    if (it == st.metadata.end())
        throw parse_error(path, "__metadata__", std::string("no \"") + model_metadata_key + "\" entry: not a corespec model file");
    ModelSpec spec = parse_model_spec(it->second, path);
    return ModelFile{std::move(spec), std::move(st), path};
}

/// Loads a model file (see read_model_file). The weights are converted to T
/// (a float64 file loads as float and vice versa). Throws io_error,
/// parse_error, shape_error, unsupported_error, selftest_error.
template <class T>
Model<T> load_model(const std::string& path, const LoadOptions& opt = {}) {
    ModelFile f = read_model_file(path);
    return build_model<T>(std::move(f.spec), f.tensors, f.source, opt);
}

// --- saving ----------------------------------------------------------------

namespace detail {

// The architecture JSON of a Sequential: each layer's config() with the
// tensor names "<prefix><index>.<parameter>", and its tensors into `st`.
template <class T>
nlohmann::json sequential_json(const Sequential<T>& seq, const std::string& prefix, SafeTensors& st) {
    nlohmann::json layers = nlohmann::json::array();
    for (std::size_t i = 0; i < seq.size(); ++i) {
        const Layer<T>& l = seq.layer(i);
        nlohmann::json cfg = l.config();
        nlohmann::json params = nlohmann::json::object();
        for (const ParameterInfo& p : l.parameter_info()) {
            const std::string name = prefix + std::to_string(i) + "." + p.name;
            params[p.name] = name;
            st.add<T>(name, p.shape.to_vector(), l.parameter(p.name));
        }
        if (!params.empty()) cfg["params"] = params;
        layers.push_back(std::move(cfg));
    }
    return {{"type", "sequential"}, {"layers", layers}};
}

}  // namespace detail

/// What save_model stores besides the model.
template <class T>
struct SaveOptions {
    /// Optional self-test batch (batch first): stored with the model's output for it.
    ConstTensorView<T> selftest_input{};
    /// Per-sample input shape to record (defaults to the self-test input's, or the model's).
    std::vector<std::size_t> input_shape{};
    std::string description{};
};

/// The safetensors image of a model (architecture in __metadata__).
template <class T>
SafeTensors model_to_safetensors(const Model<T>& model, const SaveOptions<T>& opt = {}) {
    SafeTensors st;
    nlohmann::json graph;
    switch (model.kind()) {
        case ModelSpec::Kind::sequential: graph = detail::sequential_json(model.part("graph"), "", st); break;
        case ModelSpec::Kind::vae:
            graph = {{"type", "vae"}};
            for (const char* p : {"encoder", "mean", "logvar", "decoder"})
                graph[p] = detail::sequential_json(model.part(p), std::string(p) + ".", st);
            break;
        case ModelSpec::Kind::multi_head: {
            graph = {{"type", "multi_head"}, {"trunk", detail::sequential_json(model.part("trunk"), "trunk.", st)}};
            nlohmann::json heads = nlohmann::json::array();
            for (std::size_t i = 1; i < model.part_count(); ++i) {
                const std::string name = model.part_name(i).substr(6);  // strip "heads."
                nlohmann::json h = detail::sequential_json(model.part(model.part_name(i)), "heads." + name + ".", st);
                h["name"] = name;
                heads.push_back(std::move(h));
            }
            graph["heads"] = heads;
            break;
        }
    }
    nlohmann::json doc = {{"format", model_format_name}, {"version", model_format_version},
                          {"dtype", detail::model_dtype<T>()}, {"graph", graph}};
    std::vector<std::size_t> shape = opt.input_shape;
    if (shape.empty() && !opt.selftest_input.empty()) shape = opt.selftest_input.shape().drop_batch().to_vector();
    if (shape.empty()) shape = model.input_shape();
    if (!shape.empty()) doc["input_shape"] = shape;
    if (!opt.description.empty()) doc["description"] = opt.description;
    if (!opt.selftest_input.empty()) {
        const ConstTensorView<T> x = opt.selftest_input;
        const Shape os = model.output_shape(x.shape());
        std::vector<T> y(os.size());
        Workspace<T> ws;
        model.forward(x, TensorView<T>(y.data(), os), ws);
        st.add<T>("selftest.input", x.shape().to_vector(), span<const T>(x.data(), x.size()));
        st.add<T>("selftest.output", os.to_vector(), span<const T>(y.data(), y.size()));
        doc["selftest"] = {{"input", "selftest.input"}, {"output", "selftest.output"}};
    }
    // Validate what we write with the reader's own rules.
    (void)model_spec_from_json(doc, "save_model");
    st.metadata["format"] = model_format_name;
    st.metadata[model_metadata_key] = doc.dump();
    return st;
}

/// Writes a model to one .safetensors file. Throws io_error, and parse_error
/// if a layer's configuration cannot be expressed in the format.
template <class T>
void save_model(const Model<T>& model, const std::string& path, const SaveOptions<T>& opt = {}) {
    model_to_safetensors(model, opt).write(path);
}

namespace detail {

/// The spec of a model built in code: its kind, dtype and input shape.
template <class T>
ModelSpec bare_spec(ModelSpec::Kind kind, std::vector<std::size_t> input_shape) {
    ModelSpec spec;
    spec.dtype = model_dtype<T>();
    spec.kind = kind;
    spec.input_shape = std::move(input_shape);
    return spec;
}

}  // namespace detail

/// Wraps a Sequential built in code as a Model (input_shape: per sample, may be empty).
template <class T>
Model<T> make_model(Sequential<T> seq, std::vector<std::size_t> input_shape = {}) {
    ModelSpec spec = detail::bare_spec<T>(ModelSpec::Kind::sequential, std::move(input_shape));
    std::vector<std::pair<std::string, Sequential<T>>> parts;
    parts.push_back({"graph", std::move(seq)});
    return Model<T>(std::move(spec), std::move(parts));
}

/// Wraps the engine's Vae as a Model (its parts are moved).
template <class T>
Model<T> make_model(Vae<T> vae) {
    ModelSpec spec = detail::bare_spec<T>(ModelSpec::Kind::vae, vae.input_shape().to_vector());
    std::vector<std::pair<std::string, Sequential<T>>> parts;
    parts.push_back({"encoder", std::move(vae.body())});
    parts.push_back({"mean", std::move(vae.mean_head())});
    parts.push_back({"logvar", std::move(vae.logvar_head())});
    parts.push_back({"decoder", std::move(vae.decoder())});
    return Model<T>(std::move(spec), std::move(parts));
}

/// Wraps the engine's MultiHead as a Model (its parts are moved).
template <class T>
Model<T> make_model(MultiHead<T> mh, std::vector<std::size_t> input_shape = {}) {
    ModelSpec spec = detail::bare_spec<T>(ModelSpec::Kind::multi_head, std::move(input_shape));
    std::vector<std::pair<std::string, Sequential<T>>> parts;
    parts.push_back({"trunk", std::move(mh.trunk())});
    for (std::size_t i = 0; i < mh.head_count(); ++i) parts.push_back({"heads." + mh.head_name(i), std::move(mh.head(i))});
    return Model<T>(std::move(spec), std::move(parts));
}

/// Saves the engine's Vae.
template <class T>
void save_model(const Vae<T>& vae, const std::string& path, const SaveOptions<T>& opt = {}) {
    save_model(make_model<T>(vae), path, opt);
}

/// Saves the engine's MultiHead.
template <class T>
void save_model(const MultiHead<T>& mh, const std::string& path, const SaveOptions<T>& opt = {}) {
    save_model(make_model<T>(mh, opt.input_shape), path, opt);
}

/// Saves a Sequential built in code.
template <class T>
void save_model(const Sequential<T>& seq, const std::string& path, const SaveOptions<T>& opt = {}) {
    save_model(make_model<T>(seq), path, opt);
}

}  // namespace corespec::nn

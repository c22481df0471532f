// corespec/nn/model.hpp - the one model type: a small graph of named chains.
//
//   sequential   graph                                  forward: graph(x)
//   vae          encoder -> mean, logvar; decoder       forward: decoder(mean(encoder(x)))
//   multi_head   trunk -> heads (named, in order)       forward: the heads' outputs side by side
//
// load_model (serialize.hpp) returns one, and code builds one from
// Sequentials with the constructors below; Vae<T> and MultiHead<T> are
// other names for it (models/vae.hpp makes the study-2 VAE). Its chains are
// reached by typed accessors (graph(), encoder(), mean_head(), head("name"),
// ...), each throwing value_error when the model has no such chain.
// const and thread-safe like Sequential: one Workspace per thread.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/nn/model_spec.hpp"
#include "corespec/nn/sequential.hpp"
#include "corespec/nn/tensor.hpp"
#include "corespec/nn/workspace.hpp"

namespace corespec::nn {

namespace detail {

/// The model format's name for the engine's value type.
template <class T>
const char* model_dtype() noexcept {
    return std::is_same<T, float>::value ? "float32" : "float64";
}

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

template <class T>
class Model {
public:
    using Kind = ModelSpec::Kind;
    using Parts = std::vector<std::pair<std::string, Sequential<T>>>;

    Model() = default;

    /// A sequential model (input_shape: per sample, may be empty).
    explicit Model(Sequential<T> graph, std::vector<std::size_t> input_shape = {})
        : Model(detail::bare_spec<T>(Kind::sequential, std::move(input_shape)), one_part("graph", std::move(graph))) {}

    /// A VAE: encoder -> (mean, logvar) heads -> latent z -> decoder. The two
    /// heads must map the encoder's output to the same [batch, latent], and
    /// the decoder [batch, latent] back to the input. Shapes are checked
    /// against `input_sample_shape` (no batch); throws shape_error.
    Model(Sequential<T> encoder, Sequential<T> mean, Sequential<T> logvar, Sequential<T> decoder, Shape input_sample_shape)
        : Model(detail::bare_spec<T>(Kind::vae, input_sample_shape.to_vector()),
                vae_parts(std::move(encoder), std::move(mean), std::move(logvar), std::move(decoder))) {
        const Shape in = input_sample_shape.with_batch(1);
        const Shape out = decoder_chain().output_shape(Shape{1, latent_});
        if (out != in) throw shape_error("nn::Model (VAE) decoder output", in.to_vector(), out.to_vector());
    }

    /// A shared trunk and named heads (e.g. element contents + defect logits).
    /// Throws value_error unless there is one unique, non-empty name per head.
    Model(Sequential<T> trunk, std::vector<std::string> names, std::vector<Sequential<T>> heads,
          std::vector<std::size_t> input_shape = {})
        : Model(detail::bare_spec<T>(Kind::multi_head, std::move(input_shape)),
                head_parts(std::move(trunk), std::move(names), std::move(heads))) {}

    /// What the loader builds: a validated spec and its chains by part name
    /// ("graph"; "encoder", "mean", "logvar", "decoder"; "trunk", "heads.<name>").
    Model(ModelSpec spec, Parts parts) : spec_(std::move(spec)), kind_(spec_.kind), parts_(std::move(parts)) {
        const std::size_t want = kind_ == Kind::vae ? 4 : 1;
        if (parts_.size() < want || (kind_ != Kind::multi_head && parts_.size() != want) ||
            (kind_ == Kind::multi_head && parts_.size() < 2))
            throw value_error("nn::Model: wrong number of chains for the model kind");
        static const std::size_t prefix = std::string("heads.").size();
        if (kind_ == Kind::multi_head)
            for (std::size_t i = 1; i < parts_.size(); ++i) head_names_.push_back(parts_[i].first.substr(prefix));
        if (kind_ == Kind::vae && !spec_.input_shape.empty()) {  // without it, shapes are checked per call
            const Shape h = encoder().output_shape(Shape(spec_.input_shape).with_batch(1));
            const Shape m = mean_head().output_shape(h), v = logvar_head().output_shape(h);
            if (m != v || m.rank() != 2) throw shape_error("nn::Model (VAE) mean / log-variance heads", m.to_vector(), v.to_vector());
            latent_ = m[1];
        }
    }

    Kind kind() const noexcept { return kind_; }
    /// The architecture (its JSON is spec().json for a loaded model).
    const ModelSpec& spec() const noexcept { return spec_; }
    /// Per-sample input shape; empty if the file (or the builder) does not say.
    const std::vector<std::size_t>& input_shape() const noexcept { return spec_.input_shape; }

    // --- the chains ---------------------------------------------------------

    /// A sequential model's layers.
    Sequential<T>& graph() { return chain_of(Kind::sequential, "graph"); }
    const Sequential<T>& graph() const { return const_cast<Model*>(this)->graph(); }
    /// A VAE's encoder body and its heads and decoder.
    Sequential<T>& encoder() { return chain_of(Kind::vae, "encoder"); }
    Sequential<T>& mean_head() { return chain_of(Kind::vae, "mean"); }
    Sequential<T>& logvar_head() { return chain_of(Kind::vae, "logvar"); }
    Sequential<T>& decoder() { return chain_of(Kind::vae, "decoder"); }
    const Sequential<T>& encoder() const { return const_cast<Model*>(this)->encoder(); }
    const Sequential<T>& mean_head() const { return const_cast<Model*>(this)->mean_head(); }
    const Sequential<T>& logvar_head() const { return const_cast<Model*>(this)->logvar_head(); }
    const Sequential<T>& decoder() const { return const_cast<Model*>(this)->decoder(); }
    /// A multi-head model's trunk and heads (by 0-based index or by name).
    Sequential<T>& trunk() { return chain_of(Kind::multi_head, "trunk"); }
    const Sequential<T>& trunk() const { return const_cast<Model*>(this)->trunk(); }
    std::size_t head_count() const noexcept { return kind_ == Kind::multi_head ? parts_.size() - 1 : 0; }
    const std::string& head_name(std::size_t i) const { return head_names_[check_head(i)]; }
    Sequential<T>& head(std::size_t i) { return parts_[1 + check_head(i)].second; }
    const Sequential<T>& head(std::size_t i) const { return parts_[1 + check_head(i)].second; }
    Sequential<T>& head(const std::string& name) { return head(head_index(name)); }
    const Sequential<T>& head(const std::string& name) const { return head(head_index(name)); }

    /// The index of a head given by name or by its 0-based index as text; the
    /// first head when empty. Throws value_error naming the heads.
    std::size_t head_index(const std::string& head) const {
        if (kind_ != Kind::multi_head) throw value_error("nn::Model: not a multi-head model");
        if (head.empty()) return 0;
        for (std::size_t i = 0; i < head_count(); ++i)
            if (head_name(i) == head) return i;
        if (head.find_first_not_of("0123456789") == std::string::npos && head.size() < 9 && std::stoul(head) < head_count())
            return std::stoul(head);
        std::string names;
        for (std::size_t i = 0; i < head_count(); ++i) names += (names.empty() ? "" : ", ") + head_name(i);
        throw value_error("no head '" + head + "' (heads: " + names + "; or an index below " + std::to_string(head_count()) + ")");
    }

    /// The differentiable chain from the input to one output, as one
    /// Sequential (a copy): the graph of a sequential model; a VAE's encoder
    /// then mean head (encoder_mean()); a multi-head model's trunk then one
    /// head (head_index's rules). Throws value_error for an unknown head, or
    /// a head given for a model that has none. explain::ModelGradient
    /// differentiates this.
    Sequential<T> chain(const std::string& head = "") const {
        if (kind_ != Kind::multi_head && !head.empty()) throw value_error("nn::Model::chain: only multi-head models have heads");
        switch (kind_) {
            case Kind::sequential: return graph();
            case Kind::vae: return encoder_mean();
            case Kind::multi_head: return concatenated({&trunk(), &this->head(head_index(head))});
        }
        throw unsupported_error("nn::Model::chain: unknown model kind");
    }
    /// A VAE's encoder then its mean head (the latent mean), as one Sequential.
    Sequential<T> encoder_mean() const { return concatenated({&encoder(), &mean_head()}); }

    // --- running -------------------------------------------------------------

    /// Output shape (batch first) of forward for an input shape (batch first).
    /// Throws shape_error when the input does not fit.
    Shape output_shape(const Shape& in) const {
        check_input(in);
        switch (kind_) {
            case Kind::sequential: return graph().output_shape(in);
            case Kind::vae: return decoder().output_shape(mean_head().output_shape(encoder().output_shape(in)));
            case Kind::multi_head: {
                const Shape h = trunk().output_shape(in);
                std::size_t features = 0;
                for (std::size_t i = 0; i < head_count(); ++i) features += head(i).output_shape(h).drop_batch().size();
                return Shape{in.rank() ? in[0] : 1, features};
            }
        }
        return in;
    }
    /// Output shape of head i for an input shape (multi-head models).
    Shape output_shape(std::size_t i, const Shape& in) const { return head(i).output_shape(trunk().output_shape(in)); }

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
            case Kind::sequential: walk(graph(), in); break;
            case Kind::vae: {
                const Shape h = walk(encoder(), in);
                walk(logvar_head(), h);
                walk(decoder(), walk(mean_head(), h));
                break;
            }
            case Kind::multi_head: {
                const Shape h = walk(trunk(), in);
                for (std::size_t i = 0; i < head_count(); ++i) walk(head(i), h);
                break;
            }
        }
        return peak;
    }

    /// out = model(in): the graph; the VAE's reconstruction through the
    /// latent mean (deterministic, = reconstruct); the heads' outputs, each
    /// flattened per sample, concatenated along the features in file order.
    /// Throws shape_error for an input or output of the wrong shape.
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const {
        const Shape want = output_shape(in.shape());
        if (want != out.shape()) throw shape_error("nn::Model output", want.to_vector(), out.shape().to_vector());
        switch (kind_) {
            case Kind::sequential: graph().forward(in, out, ws); return;
            case Kind::vae: {
                typename Workspace<T>::Frame frame(ws);
                const Shape hs = encoder().output_shape(in.shape());
                TensorView<T> h(ws.allocate(hs.size()), hs);
                encoder().forward(in, h, ws);
                const Shape zs = mean_head().output_shape(hs);
                TensorView<T> z(ws.allocate(zs.size()), zs);
                mean_head().forward(h, z, ws);
                decoder().forward(z, out, ws);
                return;
            }
            case Kind::multi_head: {
                typename Workspace<T>::Frame frame(ws);
                const Shape hs = trunk().output_shape(in.shape());
                TensorView<T> h(ws.allocate(hs.size()), hs);
                trunk().forward(in, h, ws);
                const std::size_t batch = in.batch(), total = want.drop_batch().size();
                std::size_t column = 0;
                for (std::size_t i = 0; i < head_count(); ++i) {
                    typename Workspace<T>::Frame inner(ws);
                    const Shape os = head(i).output_shape(hs);
                    TensorView<T> o(ws.allocate(os.size()), os);
                    head(i).forward(h, o, ws);
                    const std::size_t n = os.drop_batch().size();
                    for (std::size_t b = 0; b < batch; ++b)
                        std::copy(o.data() + b * n, o.data() + (b + 1) * n, out.data() + b * total + column);
                    column += n;
                }
                return;
            }
        }
    }

    /// A multi-head model's heads into separate outputs: outs[i] receives
    /// head i's output (outs.size() == head_count()).
    void forward(ConstTensorView<T> x, span<const TensorView<T>> outs, Workspace<T>& ws) const {
        if (outs.size() != head_count()) throw shape_error("nn::Model head outputs", {head_count()}, {outs.size()});
        check_input(x.shape());
        typename Workspace<T>::Frame frame(ws);
        const Shape hs = trunk().output_shape(x.shape());
        TensorView<T> h(ws.allocate(hs.size()), hs);
        trunk().forward(x, h, ws);
        for (std::size_t i = 0; i < head_count(); ++i) head(i).forward(h, outs[i], ws);
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

    // --- VAE -----------------------------------------------------------------

    /// The latent size (VAE models; value_error otherwise).
    std::size_t latent_size() const {
        require_vae("latent_size");
        if (!latent_) throw value_error("nn::Model::latent_size: the model gives no input_shape");
        return latent_;
    }

    /// Latent mean and log-variance [batch, latent] of each input sample. An
    /// empty `logvar` skips the log-variance head (the mean alone).
    void encode(ConstTensorView<T> in, TensorView<T> mean, TensorView<T> logvar, Workspace<T>& ws) const {
        require_vae("encode");
        check_input(in.shape());
        typename Workspace<T>::Frame frame(ws);
        const Shape hs = encoder().output_shape(in.shape());
        TensorView<T> h(ws.allocate(hs.size()), hs);
        encoder().forward(in, h, ws);
        mean_head().forward(h, mean, ws);
        if (!logvar.empty()) logvar_head().forward(h, logvar, ws);
    }

    /// z = mean + exp(logvar / 2) * eps (the reparameterisation), element-wise.
    static void reparameterize(ConstTensorView<T> mean, ConstTensorView<T> logvar, ConstTensorView<T> eps, TensorView<T> z) {
        if (mean.shape() != logvar.shape() || mean.shape() != eps.shape() || mean.shape() != z.shape())
            throw shape_error("nn::Model::reparameterize", mean.shape().to_vector(), z.shape().to_vector());
        for (std::size_t i = 0; i < z.size(); ++i) z[i] = mean[i] + std::exp(logvar[i] / T(2)) * eps[i];
    }

    /// The decoder's output for latent vectors z [batch, latent].
    void decode(ConstTensorView<T> z, TensorView<T> out, Workspace<T>& ws) const {
        require_vae("decode");
        decoder().forward(z, out, ws);
    }

    /// decode(mean(x)): the deterministic reconstruction (forward of a VAE).
    void reconstruct(ConstTensorView<T> x, TensorView<T> out, Workspace<T>& ws) const {
        require_vae("reconstruct");
        forward(x, out, ws);
    }

    /// Decodes out.batch() draws z ~ N(0, I) from `rng` (e.g. std::mt19937_64).
    template <class Rng>
    void sample(Rng& rng, TensorView<T> out, Workspace<T>& ws) const {
        require_vae("sample");
        typename Workspace<T>::Frame frame(ws);
        const Shape ls{out.batch(), latent_size()};
        TensorView<T> z(ws.allocate(ls.size()), ls);
        std::normal_distribution<double> n01(0.0, 1.0);
        for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<T>(n01(rng));
        decode(z, out, ws);
    }

    /// Every chain's Layer::parameters_changed (after writing weights).
    void parameters_changed() {
        for (auto& p : parts_) p.second.parameters_changed();
    }

    /// The chains in file order with their part names (for the writer).
    const Parts& parts() const noexcept { return parts_; }

private:
    static Parts one_part(const char* name, Sequential<T> s) {
        Parts p;
        p.push_back({name, std::move(s)});
        return p;
    }
    static Parts vae_parts(Sequential<T> e, Sequential<T> m, Sequential<T> l, Sequential<T> d) {
        Parts p;
        p.push_back({"encoder", std::move(e)});
        p.push_back({"mean", std::move(m)});
        p.push_back({"logvar", std::move(l)});
        p.push_back({"decoder", std::move(d)});
        return p;
    }
    static Parts head_parts(Sequential<T> trunk, std::vector<std::string> names, std::vector<Sequential<T>> heads) {
        if (names.size() != heads.size() || heads.empty()) throw value_error("nn::Model: one name per head, at least one head");
        Parts p;
        p.push_back({"trunk", std::move(trunk)});
        for (std::size_t i = 0; i < heads.size(); ++i) {
            if (names[i].empty()) throw value_error("nn::Model: a head needs a name");
            for (std::size_t j = 0; j < i; ++j)
                if (names[j] == names[i]) throw value_error("nn::Model: duplicate head name '" + names[i] + "'");
            p.push_back({"heads." + names[i], std::move(heads[i])});
        }
        return p;
    }
    static Sequential<T> concatenated(std::initializer_list<const Sequential<T>*> chains) {
        Sequential<T> s;
        for (const Sequential<T>* c : chains)
            for (std::size_t i = 0; i < c->size(); ++i) s.add(c->layer(i).clone());
        return s;
    }

    Sequential<T>& chain_of(Kind kind, const char* name) {
        static const char* kinds[] = {"sequential", "vae", "multi_head"};
        if (kind_ != kind)
            throw value_error(std::string("nn::Model: a ") + kinds[static_cast<int>(kind_)] + " model has no " + name +
                              " (that is a " + kinds[static_cast<int>(kind)] + " model's)");
        for (auto& p : parts_)
            if (p.first == name) return p.second;
        throw value_error(std::string("nn::Model: no chain '") + name + "'");
    }
    Sequential<T>& decoder_chain() { return chain_of(Kind::vae, "decoder"); }
    std::size_t check_head(std::size_t i) const {
        if (i >= head_count())
            throw value_error("nn::Model: head " + std::to_string(i) + " of " + std::to_string(head_count()));
        return i;
    }
    void require_vae(const char* what) const {
        if (kind_ != Kind::vae) throw value_error(std::string("nn::Model::") + what + ": the model is not a VAE");
    }
    // Without allocating (forward runs it on every call).
    void check_input(const Shape& in) const {
        const std::vector<std::size_t>& sample = spec_.input_shape;
        if (sample.empty()) return;
        bool fits = in.rank() == sample.size() + 1;
        for (std::size_t i = 0; fits && i < sample.size(); ++i) fits = in[i + 1] == sample[i];
        if (!fits) {
            std::vector<std::size_t> want{in.rank() ? in[0] : 0};
            want.insert(want.end(), spec_.input_shape.begin(), spec_.input_shape.end());
            throw shape_error("nn::Model input", want, in.to_vector());
        }
    }

    ModelSpec spec_;
    Kind kind_ = Kind::sequential;
    Parts parts_;
    std::vector<std::string> head_names_;  // multi_head: parts_[1..] without "heads."
    std::size_t latent_ = 0;               // vae with an input_shape; 0 when unknown
};

/// Wraps a Sequential built in code as a Model (input_shape: per sample, may be empty).
template <class T>
Model<T> make_model(Sequential<T> seq, std::vector<std::size_t> input_shape = {}) {
    return Model<T>(std::move(seq), std::move(input_shape));
}

}  // namespace corespec::nn

// corespec/latent/classifier.hpp - labelled reference spectra in latent
// space, and the classifiers that label a measured spectrum by its latent
// mean: k nearest neighbours (study 2: 100 posterior samples per simulated
// spectrum, k = 10) and nearest centroid.
//
//   auto emb = latent::embed(encoder, x_ref.data(), n_ref, ws);         // posterior mean, logvar
//   auto pts = latent::sample_posterior(emb, labels, names, 100, seed);  // 100 draws per reference
//   latent::Classifier<float> knn(pts, {latent::Method::knn, 10, latent::Weighting::uniform});
//   auto scratch = knn.scratch(batch);
//   knn.classify(z, batch, out, scratch);                                // out[i].label, out[i].confidence
//
// Distances are squared Euclidean, computed for a batch of queries as one
// GEMM on the runtime-dispatched nn kernels: |z|^2 + (|p|^2 - 2 z.p).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/latent/encoder.hpp"
#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layers/detail.hpp"
#include "corespec/synth/random.hpp"

namespace corespec::latent {

/// Posterior of each reference spectrum: n x latent mean and log-variance.
template <class T>
struct Embedding {
    std::size_t dim = 0;
    std::vector<T> mean, logvar;
    std::size_t size() const noexcept { return dim ? mean.size() / dim : 0; }
};

/// Encodes n contiguous spectra of encoder.input_size() values.
template <class T>
Embedding<T> embed(const Encoder<T>& encoder, const T* x, std::size_t n, nn::Workspace<T>& ws, std::size_t batch = 256) {
    Embedding<T> e;
    e.dim = encoder.latent_size();
    e.mean.resize(n * e.dim);
    e.logvar.resize(n * e.dim);
    for (std::size_t b = 0; b < n; b += batch) {
        const std::size_t c = std::min(batch, n - b);
        encoder.encode(x + b * encoder.input_size(), c, e.mean.data() + b * e.dim, e.logvar.data() + b * e.dim, ws);
    }
    return e;
}

/// Labelled points in latent space: labels[i] in [0, class_names.size()).
template <class T>
struct LatentPoints {
    std::size_t dim = 0;
    std::vector<T> values;  ///< size() x dim, row-major
    std::vector<int> labels;
    std::vector<std::string> class_names;
    std::size_t size() const noexcept { return labels.size(); }
};

/// `samples` draws z = mean + exp(logvar / 2) * eps, eps ~ N(0, I), per
/// reference (reference i's draws come from its own stream
/// synth::mix_seed(seed, i), so they do not depend on the set's order or
/// size). samples = 0 keeps the means themselves. Throws value_error for a
/// label outside [0, class_names.size()) or a label count that differs
/// from the embedding's size.
template <class T>
LatentPoints<T> sample_posterior(const Embedding<T>& e, const std::vector<int>& labels,
                                 std::vector<std::string> class_names, std::size_t samples, std::uint64_t seed) {
    if (labels.size() != e.size())
        throw value_error("latent::sample_posterior: " + std::to_string(labels.size()) + " labels for " +
                          std::to_string(e.size()) + " embedded references");
    for (int l : labels)
        if (l < 0 || static_cast<std::size_t>(l) >= class_names.size())
            throw value_error("latent::sample_posterior: label " + std::to_string(l) + " outside [0, " +
                              std::to_string(class_names.size()) + ")");
    LatentPoints<T> p;
    p.dim = e.dim;
    p.class_names = std::move(class_names);
    const std::size_t per = samples ? samples : 1;
    p.values.reserve(e.size() * per * e.dim);
    for (std::size_t i = 0; i < e.size(); ++i) {
        synth::Random rng(synth::mix_seed(seed, i));
        for (std::size_t s = 0; s < per; ++s) {
            for (std::size_t j = 0; j < e.dim; ++j) {
                const double m = e.mean[i * e.dim + j], lv = e.logvar[i * e.dim + j];
                p.values.push_back(static_cast<T>(samples ? m + std::exp(lv / 2) * rng.normal() : m));
            }
            p.labels.push_back(labels[i]);
        }
    }
    return p;
}

enum class Method { knn, nearest_centroid };
enum class Weighting { uniform, inverse_distance };

/// How to classify (the "classifier" part of a stream description).
struct ClassifierOptions {
    Method method = Method::knn;
    std::size_t k = 10;                      ///< neighbours (knn only)
    Weighting weighting = Weighting::uniform;  ///< knn only

    nlohmann::json to_json() const {
        return {{"method", method == Method::knn ? "knn" : "nearest_centroid"},
                {"k", k},
                {"weighting", weighting == Weighting::uniform ? "uniform" : "inverse_distance"}};
    }
    /// Missing fields keep their defaults; throws value_error naming a bad or unknown field.
    static ClassifierOptions from_json(const nlohmann::json& j) {
        if (!j.is_object()) throw value_error("latent::ClassifierOptions: must be a JSON object");
        ClassifierOptions o;
        for (const auto& item : j.items()) {
            const std::string& key = item.key();
            const auto& v = item.value();
            if (key == "method" && v == "knn") o.method = Method::knn;
            else if (key == "method" && v == "nearest_centroid") o.method = Method::nearest_centroid;
            else if (key == "weighting" && v == "uniform") o.weighting = Weighting::uniform;
            else if (key == "weighting" && v == "inverse_distance") o.weighting = Weighting::inverse_distance;
            else if (key == "k" && v.is_number_unsigned() && v.get<std::size_t>() > 0) o.k = v.get<std::size_t>();
            else if (key == "method" || key == "weighting" || key == "k")
                throw value_error("latent::ClassifierOptions: field '" + key + "': bad value " + v.dump() +
                                  (key == "method"      ? " (knn or nearest_centroid)"
                                   : key == "weighting" ? " (uniform or inverse_distance)"
                                                        : " (a whole number > 0)"));
            else
                throw value_error("latent::ClassifierOptions: unknown field '" + key + "'");
        }
        return o;
    }
};

/// A label and how sure: label -1 when there is none (a failed spectrum).
template <class T>
struct Classification {
    int label = -1;
    T confidence = T(0);
};

/// kNN or nearest centroid over fixed latent points. Const and thread-safe
/// (one Scratch per thread).
///
/// kNN: the k points of smallest distance (equal distances: the lower
/// point index first) vote, with weight 1 (uniform) or 1 / distance
/// (inverse_distance; when some neighbours are at distance 0, only they
/// vote, as scikit-learn does). The label is the class of largest vote
/// (equal votes: the lower class id), its confidence that vote over the
/// sum of the votes.
/// Nearest centroid: the class whose mean point is nearest; confidence
/// (1 / d_c) / sum over classes of (1 / d_k), 1 at distance 0.
template <class T>
class Classifier {
public:
    /// Throws value_error for no points, k = 0 or k > points (knn), a label
    /// outside the class names, non-finite coordinates, or (centroid) a
    /// class without points.
    Classifier(LatentPoints<T> points, ClassifierOptions options = {}) : o_(options), classes_(points.class_names) {
        const std::size_t n = points.size();
        dim_ = points.dim;
        if (n == 0 || dim_ == 0) throw value_error("latent::Classifier: no reference points");
        if (points.values.size() != n * dim_)
            throw shape_error("latent::Classifier points", {n, dim_}, {points.values.size()});
        for (T v : points.values)
            if (!std::isfinite(v)) throw value_error("latent::Classifier: a reference point is not finite");
        for (int l : points.labels)
            if (l < 0 || static_cast<std::size_t>(l) >= classes_.size())
                throw value_error("latent::Classifier: label " + std::to_string(l) + " outside [0, " +
                                  std::to_string(classes_.size()) + ")");
        if (o_.method == Method::knn) {
            if (o_.k == 0 || o_.k > n)
                throw value_error("latent::Classifier: k = " + std::to_string(o_.k) + " needs 1 to " +
                                  std::to_string(n) + " reference points");
            labels_ = std::move(points.labels);
            set_points(points.values.data(), n);
        } else {
            std::vector<double> sum(classes_.size() * dim_, 0.0);
            std::vector<std::size_t> count(classes_.size(), 0);
            for (std::size_t i = 0; i < n; ++i) {
                const auto c = static_cast<std::size_t>(points.labels[i]);
                ++count[c];
                for (std::size_t j = 0; j < dim_; ++j) sum[c * dim_ + j] += points.values[i * dim_ + j];
            }
            std::vector<T> centroids(sum.size());
            for (std::size_t c = 0; c < classes_.size(); ++c) {
                if (count[c] == 0)
                    throw value_error("latent::Classifier: class '" + classes_[c] + "' has no points for its centroid");
                for (std::size_t j = 0; j < dim_; ++j)
                    centroids[c * dim_ + j] = static_cast<T>(sum[c * dim_ + j] / static_cast<double>(count[c]));
                labels_.push_back(static_cast<int>(c));
            }
            set_points(centroids.data(), classes_.size());
        }
    }

    const ClassifierOptions& options() const noexcept { return o_; }
    std::size_t dim() const noexcept { return dim_; }
    std::size_t point_count() const noexcept { return labels_.size(); }  ///< centroids for nearest_centroid
    const std::vector<std::string>& class_names() const noexcept { return classes_; }

    struct Scratch {
        std::size_t batch = 0;
        std::vector<T> dist;               // batch x points
        std::vector<std::size_t> nearest;  // k
        std::vector<T> nearest_d;          // k
        std::vector<double> votes;         // classes
    };
    Scratch scratch(std::size_t batch) const {
        const std::size_t k = o_.method == Method::knn ? o_.k : 1;
        return {batch, std::vector<T>(batch * point_count()), std::vector<std::size_t>(k), std::vector<T>(k),
                std::vector<double>(classes_.size())};
    }

    /// Squared distances of `batch` queries z (batch x dim) to every point:
    /// s.dist[i * point_count() + j].
    void distances(const T* z, std::size_t batch, Scratch& s) const {
        if (batch > s.batch) throw value_error("latent::Classifier: scratch for " + std::to_string(s.batch) +
                                               " queries, " + std::to_string(batch) + " given");
        const std::size_t n = point_count();
        nn::kernels::GemmArgs<T> g;
        g.m = batch, g.n = n, g.k = dim_;
        g.a = z, g.a_rs = static_cast<std::ptrdiff_t>(dim_), g.a_cs = 1;
        g.b_packed = packed_.data();
        g.c = s.dist.data(), g.c_rs = static_cast<std::ptrdiff_t>(n), g.c_cs = 1;
        g.bias_col = norms_.data();
        nn::kernels::default_table<T>().gemm(g);  // |p|^2 - 2 z.p
        for (std::size_t i = 0; i < batch; ++i) {
            T zz = 0;
            for (std::size_t j = 0; j < dim_; ++j) zz += z[i * dim_ + j] * z[i * dim_ + j];
            T* d = s.dist.data() + i * n;
            for (std::size_t j = 0; j < n; ++j) d[j] = std::max(d[j] + zz, T(0));  // rounding can go below 0
        }
    }

    /// Labels `batch` queries; a query with a non-finite coordinate gets label -1.
    void classify(const T* z, std::size_t batch, Classification<T>* out, Scratch& s) const {
        distances(z, batch, s);
        for (std::size_t i = 0; i < batch; ++i) {
            bool finite = true;
            for (std::size_t j = 0; j < dim_; ++j) finite = finite && std::isfinite(z[i * dim_ + j]);
            out[i] = finite ? (o_.method == Method::knn ? vote(s.dist.data() + i * point_count(), s)
                                                        : centroid(s.dist.data() + i * point_count(), s))
                            : Classification<T>{};
        }
    }
    Classification<T> classify(const T* z, Scratch& s) const {
        Classification<T> c;
        classify(z, 1, &c, s);
        return c;
    }

private:
    void set_points(const T* p, std::size_t n) {
        // B = -2 P^T (dim x n), packed once; bias |p_j|^2.
        std::vector<T> bt(dim_ * n);
        norms_.assign(n, T(0));
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t d = 0; d < dim_; ++d) {
                bt[d * n + j] = T(-2) * p[j * dim_ + d];
                norms_[j] += p[j * dim_ + d] * p[j * dim_ + d];
            }
        packed_.assign(nn::kernels::packed_size<T>(dim_, n), T(0));
        nn::kernels::pack_b(dim_, n, bt.data(), static_cast<std::ptrdiff_t>(n), 1, packed_.data());
    }

    Classification<T> vote(const T* d, Scratch& s) const {
        const std::size_t n = point_count(), k = o_.k;
        constexpr std::size_t block = 16;
        std::size_t found = 0;
        for (std::size_t j0 = 0; j0 < n; j0 += block) {
            const std::size_t j1 = std::min(n, j0 + block);
            if (found == k && j1 - j0 == block) {  // most blocks hold no point nearer than the k-th: skip them
                // Distances are >= 0 (or NaN), whose bit patterns order as their
                // values: an integer count over a fixed length, which the
                // compiler vectorises for any target (a float one it did not).
                // A block it lets through is tested exactly below.
                using Bits = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
                Bits worst;
                std::memcpy(&worst, &s.nearest_d[k - 1], sizeof(T));
                int nearer = 0;
                for (std::size_t j = 0; j < block; ++j) {
                    Bits b;
                    std::memcpy(&b, d + j0 + j, sizeof(T));
                    nearer += b < worst ? 1 : 0;
                }
                if (nearer == 0) continue;
            }
            for (std::size_t j = j0; j < j1; ++j) {  // insertion into the k best, stable for equal distances
                if (found == k && !(d[j] < s.nearest_d[k - 1])) continue;
                std::size_t pos = found < k ? found++ : k - 1;
                while (pos > 0 && d[j] < s.nearest_d[pos - 1]) {
                    s.nearest_d[pos] = s.nearest_d[pos - 1];
                    s.nearest[pos] = s.nearest[pos - 1];
                    --pos;
                }
                s.nearest_d[pos] = d[j];
                s.nearest[pos] = j;
            }
        }
        std::fill(s.votes.begin(), s.votes.end(), 0.0);
        const bool exact = o_.weighting == Weighting::inverse_distance && s.nearest_d[0] == T(0);
        for (std::size_t q = 0; q < k; ++q) {
            double w = 1.0;
            if (o_.weighting == Weighting::inverse_distance)
                w = exact ? (s.nearest_d[q] == T(0) ? 1.0 : 0.0) : 1.0 / std::sqrt(static_cast<double>(s.nearest_d[q]));
            s.votes[static_cast<std::size_t>(labels_[s.nearest[q]])] += w;
        }
        return best(s.votes);
    }

    Classification<T> centroid(const T* d, Scratch& s) const {
        const std::size_t c = static_cast<std::size_t>(std::min_element(d, d + point_count()) - d);
        if (d[c] == T(0)) return {labels_[c], T(1)};
        for (std::size_t j = 0; j < point_count(); ++j) s.votes[j] = 1.0 / std::sqrt(static_cast<double>(d[j]));
        Classification<T> r = best(s.votes);
        r.label = labels_[c];  // the nearest (best() agrees except for exact float ties)
        return r;
    }

    static Classification<T> best(const std::vector<double>& votes) {
        double total = 0;
        std::size_t top = 0;
        for (std::size_t c = 0; c < votes.size(); ++c) {
            total += votes[c];
            if (votes[c] > votes[top]) top = c;
        }
        return {static_cast<int>(top), static_cast<T>(total > 0 ? votes[top] / total : 0.0)};
    }

    ClassifierOptions o_;
    std::vector<std::string> classes_;
    std::size_t dim_ = 0;
    std::vector<int> labels_;
    nn::detail::aligned_vector<T> packed_;  // the GEMM loads its panels aligned
    std::vector<T> norms_;
};

}  // namespace corespec::latent

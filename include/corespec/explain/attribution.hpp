// corespec/explain/attribution.hpp - which input features (energy bins)
// drove a prediction.
//
// Every method needs only a Differentiable: the value of one output (head,
// class, latent coordinate) for a batch of inputs, and its gradient with
// respect to the inputs. ModelGradient adapts a Sequential; anything else
// (a multi-head graph, a VAE encoder's mean) can implement the two calls.
//
// Inputs are batches x [batch, features...]; attributions come back with the
// same shape and layout (std::vector<T>, sample after sample):
//   saliency              |d f / d x|
//   gradient_x_input      x * d f / d x
//   integrated_gradients  (x - x0) * mean over the path x0 -> x of d f / d x,
//                         with the completeness check sum = f(x) - f(x0)
//   smoothgrad            mean gradient over noisy copies of x
//   occlusion             f(x) - f(x with an energy window replaced), spread
//                         over the window's bins (window never crosses modalities)
// explain/aggregate.hpp maps them onto each modality's energy axis.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/fusion/feature_layout.hpp"
#include "corespec/nn/sequential.hpp"
#include "corespec/nn/serialize.hpp"
#include "corespec/nn/train/init.hpp"

namespace corespec::explain {

using nn::ConstTensorView;
using nn::Shape;
using nn::TensorView;

/// A model output that can be differentiated with respect to the input.
template <class T>
class Differentiable {
public:
    virtual ~Differentiable() = default;
    /// Outputs per sample for inputs of shape `input` (batch first).
    virtual std::size_t output_size(const Shape& input) = 0;
    /// f[b] = output `target` of sample b.
    virtual void value(ConstTensorView<T> x, std::size_t target, T* f) = 0;
    /// f[b] as value(), and grad (shape of x) = d f[b] / d x[b].
    virtual void gradient(ConstTensorView<T> x, std::size_t target, T* f, TensorView<T> grad) = 0;
};

/// A Sequential model as a Differentiable (output index over the flattened
/// per-sample output). Keeps its own workspace: one ModelGradient per thread.
template <class T>
class ModelGradient final : public Differentiable<T> {
public:
    explicit ModelGradient(const nn::Sequential<T>& model) : model_(model) {}

    /// A loaded model's differentiable chain (nn::Model::chain: the graph, a
    /// VAE's latent mean, or a multi-head model's `head`), held by value.
    explicit ModelGradient(const nn::Model<T>& model, const std::string& head = "")
        : owned_(std::make_unique<nn::Sequential<T>>(model.chain(head))), model_(*owned_) {}

    std::size_t output_size(const Shape& input) override {
        Shape s = model_.output_shape(input);
        return s.size() / (s[0] ? s[0] : 1);
    }

    /// Throws range_error for a target >= output_size, shape_error for
    /// inputs the model does not accept.
    void value(ConstTensorView<T> x, std::size_t target, T* f) override {
        Shape os = model_.output_shape(x.shape());
        const std::size_t per = check_target(os, target);
        typename nn::Workspace<T>::Frame frame(ws_);
        TensorView<T> out(ws_.allocate(os.size()), os);
        model_.forward(x, out, ws_);
        for (std::size_t b = 0; b < x.batch(); ++b) f[b] = out[b * per + target];
    }

    void gradient(ConstTensorView<T> x, std::size_t target, T* f, TensorView<T> grad) override {
        if (grad.shape() != x.shape()) throw shape_error("explain::ModelGradient gradient", x.shape().to_vector(), grad.shape().to_vector());
        Shape os = model_.output_shape(x.shape());
        const std::size_t per = check_target(os, target);
        typename nn::Workspace<T>::Frame frame(ws_);
        model_.forward_trace(x, acts_, ws_);
        ConstTensorView<T> out = acts_.back();
        TensorView<T> seed(ws_.allocate_zeroed(os.size()), os);
        for (std::size_t b = 0; b < x.batch(); ++b) {
            seed[b * per + target] = T(1);
            if (f) f[b] = out[b * per + target];
        }
        model_.backward(acts_, seed, grad, span<T>(), ws_);
    }

private:
    static std::size_t check_target(const Shape& os, std::size_t target) {
        const std::size_t per = os.size() / (os[0] ? os[0] : 1);
        if (target >= per)
            throw range_error("explain: output index " + std::to_string(target) + " out of range (model has " + std::to_string(per) + " outputs)");
        return per;
    }
    std::unique_ptr<nn::Sequential<T>> owned_;  // set when built from an nn::Model
    const nn::Sequential<T>& model_;
    nn::Workspace<T> ws_;
    std::vector<ConstTensorView<T>> acts_;
};

/// d f / d x for every sample of x (shape of x).
template <class T>
std::vector<T> gradient(Differentiable<T>& f, ConstTensorView<T> x, std::size_t target) {
    std::vector<T> g(x.size()), v(x.batch());
    f.gradient(x, target, v.data(), TensorView<T>(g.data(), x.shape()));
    return g;
}

/// Saliency: |d f / d x|.
template <class T>
std::vector<T> saliency(Differentiable<T>& f, ConstTensorView<T> x, std::size_t target) {
    std::vector<T> g = gradient(f, x, target);
    for (T& v : g) v = std::abs(v);
    return g;
}

/// Gradient x input.
template <class T>
std::vector<T> gradient_x_input(Differentiable<T>& f, ConstTensorView<T> x, std::size_t target) {
    std::vector<T> g = gradient(f, x, target);
    for (std::size_t i = 0; i < g.size(); ++i) g[i] *= x[i];
    return g;
}

struct IgOptions {
    std::size_t steps = 64;
    /// Quadrature of the path integral:
    ///   adaptive        midpoint rule on intervals refined where they fail their
    ///                   own completeness: a quarter of the budget on a uniform
    ///                   grid, then the intervals whose gradient estimate
    ///                   g(mid) . (x - x0) |I| differs most from the exact
    ///                   f(end) - f(start) (forward passes) are halved, until
    ///                   `steps` gradients are spent. ReLU networks are piecewise
    ///                   linear, so the error sits at a few switching points
    ///                   along the path; this is where the steps go.
    ///   gauss_legendre  `steps` Gauss-Legendre nodes on [0, 1] (Captum's default);
    ///                   nodes crowd towards both ends, where ReLU networks with
    ///                   small biases switch most units on or off
    ///   midpoint        gradients at (k + 1/2) / steps
    ///   trapezoid       gradients at k / steps, k = 0..steps (steps + 1 points)
    enum class Rule { adaptive, gauss_legendre, midpoint, trapezoid } rule = Rule::adaptive;
};

namespace detail {

/// Gauss-Legendre nodes and weights on [0, 1] (Newton on P_n; weights sum to 1).
inline void gauss_legendre(std::size_t n, std::vector<double>& nodes, std::vector<double>& weights) {
    const double pi = 3.14159265358979323846;
    nodes.assign(n, 0.0);
    weights.assign(n, 0.0);
    // P_n(x) by the three-term recurrence, and P_n'(x) from P_n and P_{n-1}.
    const auto legendre = [n](double x, double& derivative) {
        double p0 = 1, p1 = x;
        for (std::size_t k = 2; k <= n; ++k) {
            const double p2 = ((2.0 * static_cast<double>(k) - 1) * x * p1 - (static_cast<double>(k) - 1) * p0) / static_cast<double>(k);
            p0 = p1;
            p1 = p2;
        }
        derivative = static_cast<double>(n) * (x * p1 - p0) / (x * x - 1);
        return p1;
    };
    for (std::size_t i = 0; i < (n + 1) / 2; ++i) {
        double x = std::cos(pi * (static_cast<double>(i) + 0.75) / (static_cast<double>(n) + 0.5)), dp = 1;
        for (int it = 0; it < 100; ++it) {
            const double dx = legendre(x, dp) / dp;
            x -= dx;
            if (std::abs(dx) < 1e-15) break;
        }
        (void)legendre(x, dp);  // the derivative at the converged node
        const double w = 2 / ((1 - x * x) * dp * dp);
        nodes[i] = 0.5 * (1 - x);
        nodes[n - 1 - i] = 0.5 * (1 + x);
        weights[i] = weights[n - 1 - i] = 0.5 * w;
    }
}

}  // namespace detail

template <class T>
struct IgResult {
    std::vector<T> attributions;         ///< shape of x
    std::vector<double> f_input;         ///< f(x) per sample
    std::vector<double> f_baseline;      ///< f(baseline) per sample
    std::vector<double> attribution_sum; ///< sum of each sample's attributions
    /// |sum - (f(x) - f(x0))| / |f(x) - f(x0)| per sample (absolute error if
    /// f(x) == f(x0)): the completeness check; it shrinks with more steps.
    std::vector<double> completeness_error;
    double max_completeness_error() const {
        double m = 0;
        for (double e : completeness_error) m = std::max(m, e);
        return m;
    }
    /// sum_b |sum_b - delta_b| / sum_b |delta_b| over the batch: the
    /// completeness error relative to the typical output change (per-sample
    /// ratios blow up where f(x) happens to be close to f(x0)).
    double batch_completeness_error() const {
        double num = 0, den = 0;
        for (std::size_t b = 0; b < f_input.size(); ++b) {
            const double delta = f_input[b] - f_baseline[b];
            num += std::abs(attribution_sum[b] - delta);
            den += std::abs(delta);
        }
        return den > 0 ? num / den : num;
    }
};

namespace detail {

// Adaptive midpoint IG for one sample; adds to `attr` (size fs) and returns
// the attribution sum. See IgOptions::Rule::adaptive.
template <class T>
double adaptive_ig(Differentiable<T>& f, const T* xi, const std::vector<T>& base, const Shape& sample_shape1, std::size_t target,
                   std::size_t steps, double* attr, double& f_base, double& f_input) {
    const std::size_t fs = base.size();
    struct Interval {
        double a, c, fa, fc, fm, err;
        std::size_t g;  // row of its midpoint gradient in `grads`
    };
    auto point = [&](double alpha, T* dst) {
        for (std::size_t j = 0; j < fs; ++j)
            dst[j] = static_cast<T>(static_cast<double>(base[j]) + alpha * (static_cast<double>(xi[j]) - static_cast<double>(base[j])));
    };
    auto shape_of = [&](std::size_t rows) {
        Shape s = sample_shape1;
        s[0] = rows;
        return s;
    };
    std::vector<T> pts, vals, gbuf;
    std::vector<std::vector<double>> grads;  // midpoint gradients dotted per feature later
    const std::size_t n0 = std::max<std::size_t>(1, steps / 4);
    // Function values at the n0 + 1 boundaries.
    pts.resize((n0 + 1) * fs);
    vals.resize(n0 + 1);
    for (std::size_t i = 0; i <= n0; ++i) point(static_cast<double>(i) / static_cast<double>(n0), pts.data() + i * fs);
    f.value(ConstTensorView<T>(pts.data(), shape_of(n0 + 1)), target, vals.data());
    f_base = static_cast<double>(vals[0]);
    f_input = static_cast<double>(vals[n0]);
    std::vector<Interval> iv;
    for (std::size_t i = 0; i < n0; ++i)
        iv.push_back({static_cast<double>(i) / static_cast<double>(n0), static_cast<double>(i + 1) / static_cast<double>(n0),
                      static_cast<double>(vals[i]), static_cast<double>(vals[i + 1]), 0, 0, 0});
    std::vector<double> dx(fs);
    for (std::size_t j = 0; j < fs; ++j) dx[j] = static_cast<double>(xi[j]) - static_cast<double>(base[j]);
    // Evaluates the midpoint gradients of intervals `todo` (indices into iv).
    auto evaluate = [&](const std::vector<std::size_t>& todo) {
        const std::size_t k = todo.size();
        pts.resize(k * fs);
        vals.resize(k);
        gbuf.resize(k * fs);
        for (std::size_t t = 0; t < k; ++t) point(0.5 * (iv[todo[t]].a + iv[todo[t]].c), pts.data() + t * fs);
        f.gradient(ConstTensorView<T>(pts.data(), shape_of(k)), target, vals.data(), TensorView<T>(gbuf.data(), shape_of(k)));
        for (std::size_t t = 0; t < k; ++t) {
            Interval& I = iv[todo[t]];
            I.fm = static_cast<double>(vals[t]);
            I.g = grads.size();
            grads.emplace_back(gbuf.begin() + static_cast<std::ptrdiff_t>(t * fs), gbuf.begin() + static_cast<std::ptrdiff_t>((t + 1) * fs));
            double est = 0;
            for (std::size_t j = 0; j < fs; ++j) est += static_cast<double>(gbuf[t * fs + j]) * dx[j];
            I.err = std::abs((I.fc - I.fa) - est * (I.c - I.a));
        }
    };
    std::vector<std::size_t> todo(n0);
    for (std::size_t i = 0; i < n0; ++i) todo[i] = i;
    evaluate(todo);
    std::size_t used = n0;
    while (used + 2 <= steps) {
        // Halve the worst intervals, at most a quarter of them per round.
        std::vector<std::size_t> order(iv.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t p, std::size_t q) { return iv[p].err > iv[q].err || (iv[p].err == iv[q].err && p < q); });
        const std::size_t split = std::min((steps - used) / 2, std::max<std::size_t>(1, iv.size() / 4));
        if (iv[order[0]].err == 0) break;
        todo.clear();
        for (std::size_t s = 0; s < split; ++s) {
            Interval old = iv[order[s]];
            const double m = 0.5 * (old.a + old.c);
            iv[order[s]] = {old.a, m, old.fa, old.fm, 0, 0, 0};
            iv.push_back({m, old.c, old.fm, old.fc, 0, 0, 0});
            todo.push_back(order[s]);
            todo.push_back(iv.size() - 1);
        }
        evaluate(todo);
        used += todo.size();
    }
    double sum = 0;
    for (std::size_t j = 0; j < fs; ++j) {
        double avg = 0;
        for (const Interval& I : iv) avg += grads[I.g][j] * (I.c - I.a);
        attr[j] = dx[j] * avg;
        sum += attr[j];
    }
    return sum;
}

}  // namespace detail

/// Integrated gradients from `baseline` (one sample's size, the same for
/// every sample; empty = zeros) to each sample of x. Each sample's path is
/// evaluated as one batch of `steps` points. Throws value_error for steps
/// == 0, shape_error for a baseline of the wrong size.
template <class T>
IgResult<T> integrated_gradients(Differentiable<T>& f, ConstTensorView<T> x, std::size_t target, span<const T> baseline = {},
                                 IgOptions o = {}) {
    if (o.steps == 0) throw value_error("explain::integrated_gradients: steps must be > 0");
    const std::size_t n = x.batch(), fs = x.sample_size();
    if (!baseline.empty() && baseline.size() != fs)
        throw shape_error("explain::integrated_gradients baseline", {fs}, {baseline.size()});
    std::vector<T> base(fs, T(0));
    if (!baseline.empty()) std::copy(baseline.begin(), baseline.end(), base.begin());
    if (o.rule == IgOptions::Rule::adaptive) {
        IgResult<T> r;
        r.attributions.resize(x.size());
        Shape one = x.shape();
        one[0] = 1;
        std::vector<double> attr(fs);
        for (std::size_t b = 0; b < n; ++b) {
            double fb = 0, fx = 0;
            const double sum = detail::adaptive_ig(f, x.sample(b), base, one, target, o.steps, attr.data(), fb, fx);
            for (std::size_t j = 0; j < fs; ++j) r.attributions[b * fs + j] = static_cast<T>(attr[j]);
            r.f_baseline.push_back(fb);
            r.f_input.push_back(fx);
            r.attribution_sum.push_back(sum);
            const double delta = fx - fb;
            r.completeness_error.push_back(delta != 0 ? std::abs(sum - delta) / std::abs(delta) : std::abs(sum));
        }
        return r;
    }
    const std::size_t points = o.rule == IgOptions::Rule::trapezoid ? o.steps + 1 : o.steps;
    Shape ps = x.shape();
    ps[0] = points;
    std::vector<T> path(points * fs), grads(points * fs), vals(points), ends(2 * fs), endv(2), endg(2 * fs);
    std::vector<double> alpha(points), weight(points);
    if (o.rule == IgOptions::Rule::gauss_legendre) detail::gauss_legendre(points, alpha, weight);
    else for (std::size_t k = 0; k < points; ++k) {
        if (o.rule == IgOptions::Rule::midpoint) {
            alpha[k] = (static_cast<double>(k) + 0.5) / static_cast<double>(o.steps);
            weight[k] = 1.0 / static_cast<double>(o.steps);
        } else {
            alpha[k] = static_cast<double>(k) / static_cast<double>(o.steps);
            weight[k] = (k == 0 || k == o.steps ? 0.5 : 1.0) / static_cast<double>(o.steps);
        }
    }
    IgResult<T> r;
    r.attributions.resize(x.size());
    Shape es = x.shape();
    es[0] = 2;
    for (std::size_t b = 0; b < n; ++b) {
        const T* xi = x.sample(b);
        for (std::size_t k = 0; k < points; ++k)
            for (std::size_t j = 0; j < fs; ++j)
                path[k * fs + j] = static_cast<T>(static_cast<double>(base[j]) + alpha[k] * (static_cast<double>(xi[j]) - static_cast<double>(base[j])));
        f.gradient(ConstTensorView<T>(path.data(), ps), target, vals.data(), TensorView<T>(grads.data(), ps));
        std::copy(base.begin(), base.end(), ends.begin());
        std::copy(xi, xi + fs, ends.begin() + static_cast<std::ptrdiff_t>(fs));
        f.value(ConstTensorView<T>(ends.data(), es), target, endv.data());
        double sum = 0;
        for (std::size_t j = 0; j < fs; ++j) {
            double avg = 0;
            for (std::size_t k = 0; k < points; ++k) avg += weight[k] * static_cast<double>(grads[k * fs + j]);
            double a = (static_cast<double>(xi[j]) - static_cast<double>(base[j])) * avg;
            r.attributions[b * fs + j] = static_cast<T>(a);
            sum += a;
        }
        const double fb = static_cast<double>(endv[0]), fx = static_cast<double>(endv[1]);
        r.f_baseline.push_back(fb);
        r.f_input.push_back(fx);
        r.attribution_sum.push_back(sum);
        const double delta = fx - fb;
        r.completeness_error.push_back(delta != 0 ? std::abs(sum - delta) / std::abs(delta) : std::abs(sum));
    }
    return r;
}

struct SmoothGradOptions {
    std::size_t samples = 50;
    /// Noise standard deviation as a fraction of each sample's (max - min).
    double noise = 0.15;
    std::uint64_t seed = 0;
    /// Multiply the averaged gradient by the input (SmoothGrad x input).
    bool times_input = false;
};

/// SmoothGrad: the gradient averaged over `samples` noisy copies of each
/// sample (Gaussian noise, seeded). Throws value_error for samples == 0.
template <class T>
std::vector<T> smoothgrad(Differentiable<T>& f, ConstTensorView<T> x, std::size_t target, SmoothGradOptions o = {}) {
    if (o.samples == 0) throw value_error("explain::smoothgrad: samples must be > 0");
    const std::size_t n = x.batch(), fs = x.sample_size();
    Shape ps = x.shape();
    ps[0] = o.samples;
    std::vector<T> noisy(o.samples * fs), grads(o.samples * fs), vals(o.samples), out(x.size());
    nn::train::Random rng(o.seed);
    for (std::size_t b = 0; b < n; ++b) {
        const T* xi = x.sample(b);
        double lo = static_cast<double>(xi[0]), hi = lo;
        for (std::size_t j = 0; j < fs; ++j) lo = std::min(lo, static_cast<double>(xi[j])), hi = std::max(hi, static_cast<double>(xi[j]));
        const double sigma = o.noise * (hi - lo);
        for (std::size_t k = 0; k < o.samples; ++k)
            for (std::size_t j = 0; j < fs; ++j) noisy[k * fs + j] = static_cast<T>(static_cast<double>(xi[j]) + sigma * rng.normal());
        f.gradient(ConstTensorView<T>(noisy.data(), ps), target, vals.data(), TensorView<T>(grads.data(), ps));
        for (std::size_t j = 0; j < fs; ++j) {
            double s = 0;
            for (std::size_t k = 0; k < o.samples; ++k) s += static_cast<double>(grads[k * fs + j]);
            s /= static_cast<double>(o.samples);
            out[b * fs + j] = static_cast<T>(o.times_input ? s * static_cast<double>(xi[j]) : s);
        }
    }
    return out;
}

struct OcclusionOptions {
    std::size_t window = 5;  ///< bins per window
    std::size_t stride = 1;  ///< bins between window starts
    double fill = 0;         ///< value put into the occluded bins
};

/// Occlusion: for every window of `window` consecutive bins inside one
/// modality (sliding by `stride`; the last window ends at the modality's
/// end), delta = f(x) - f(x with the window set to `fill`); each bin gets the
/// mean delta of the windows covering it. The layout must span the sample
/// size (a FeatureLayout::single for one spectrum). Throws value_error for
/// window or stride 0, shape_error for a layout of the wrong size.
template <class T>
std::vector<T> occlusion(Differentiable<T>& f, ConstTensorView<T> x, std::size_t target, const fusion::FeatureLayout& layout,
                         OcclusionOptions o = {}) {
    if (o.window == 0 || o.stride == 0) throw value_error("explain::occlusion: window and stride must be > 0");
    const std::size_t n = x.batch(), fs = x.sample_size();
    if (layout.size() != fs) throw shape_error("explain::occlusion layout", {fs}, {layout.size()});
    // Window starts, per modality.
    std::vector<std::pair<std::size_t, std::size_t>> windows;
    for (const fusion::ModalitySlot& m : layout) {
        const std::size_t w = std::min(o.window, m.size());
        for (std::size_t s = 0;; s += o.stride) {
            const std::size_t start = std::min(s, m.size() - w);
            windows.push_back({m.offset + start, m.offset + start + w});
            if (start + w >= m.size()) break;
        }
    }
    const std::size_t nw = windows.size();
    Shape ws = x.shape();
    ws[0] = nw + 1;
    std::vector<T> batch((nw + 1) * fs), vals(nw + 1), out(x.size());
    std::vector<double> sum(fs), count(fs);
    for (std::size_t b = 0; b < n; ++b) {
        const T* xi = x.sample(b);
        for (std::size_t k = 0; k <= nw; ++k) std::copy(xi, xi + fs, batch.begin() + static_cast<std::ptrdiff_t>(k * fs));
        for (std::size_t k = 0; k < nw; ++k)
            for (std::size_t j = windows[k].first; j < windows[k].second; ++j) batch[(k + 1) * fs + j] = static_cast<T>(o.fill);
        f.value(ConstTensorView<T>(batch.data(), ws), target, vals.data());
        std::fill(sum.begin(), sum.end(), 0.0);
        std::fill(count.begin(), count.end(), 0.0);
        for (std::size_t k = 0; k < nw; ++k) {
            const double delta = static_cast<double>(vals[0]) - static_cast<double>(vals[k + 1]);
            for (std::size_t j = windows[k].first; j < windows[k].second; ++j) sum[j] += delta, count[j] += 1;
        }
        for (std::size_t j = 0; j < fs; ++j) out[b * fs + j] = static_cast<T>(count[j] > 0 ? sum[j] / count[j] : 0.0);
    }
    return out;
}

/// The Jacobian of all outputs with respect to one sample (rank-2 input
/// [1, features]): row k = d output_k / d x, [outputs x features]. For a VAE
/// encoder's mean this is the gradient of each latent coordinate.
template <class T>
std::vector<T> jacobian(Differentiable<T>& f, ConstTensorView<T> x) {
    if (x.batch() != 1) throw shape_error("explain::jacobian input (one sample)", {1, x.sample_size()}, x.shape().to_vector());
    const std::size_t outs = f.output_size(x.shape()), fs = x.sample_size();
    std::vector<T> jac(outs * fs);
    T v;
    for (std::size_t k = 0; k < outs; ++k) f.gradient(x, k, &v, TensorView<T>(jac.data() + k * fs, x.shape()));
    return jac;
}

/// Latent traversal: decodes z with coordinate `dim` replaced by each of
/// `values`, one output row per value ([values x decoder outputs]).
/// Throws range_error for dim >= z.size(), shape_error if the decoder does
/// not take z.size() inputs.
template <class T>
std::vector<T> latent_traversal(const nn::Sequential<T>& decoder, span<const T> z, std::size_t dim, span<const double> values) {
    if (dim >= z.size()) throw range_error("explain::latent_traversal: latent dimension " + std::to_string(dim) + " >= " + std::to_string(z.size()));
    const std::size_t nv = values.size(), nz = z.size();
    std::vector<T> zs(nv * nz);
    for (std::size_t k = 0; k < nv; ++k) {
        std::copy(z.begin(), z.end(), zs.begin() + static_cast<std::ptrdiff_t>(k * nz));
        zs[k * nz + dim] = static_cast<T>(values[k]);
    }
    Shape in{nv, nz};
    Shape os = decoder.output_shape(in);
    std::vector<T> out(os.size());
    nn::Workspace<T> ws;
    decoder.forward(ConstTensorView<T>(zs.data(), in), TensorView<T>(out.data(), os), ws);
    return out;
}

}  // namespace corespec::explain

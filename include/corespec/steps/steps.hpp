// corespec/steps/steps.hpp - every preprocessing and alignment operation as a
// step (step.hpp): parameters validated once, one call per spectrum, one
// PixelStatus, JSON in and out. The algorithms are those of prep/, align/ and
// grid/; a step only adapts their call shape and maps their status.
//
//   name              parameters (JSON fields)                         output axis
//   pre_edge          e0, edge_step, pre1, pre2, norm1, norm2, nnorm,  input axis
//                     nvict, npre, make_flat, min_edge_snr, output
//   eels_background   lo, hi, model, fit, polynomial_order, binned,    input axis
//                     zero_fill, max_iterations
//   zlp_align         max_shift, method, search_lo, search_hi           input axis minus max_shift at each end
//   crop              lo, hi                                           the channels in [lo, hi]
//   resample          lo, hi, step_size, relative_to, reference, method,    (lo, hi, step); relative energies
//                     out_of_range                                     when relative_to is "e0" / "energy"
//   normalize         kind                                             input axis
//   smooth            window, order                                    input axis (uniform only)
//   derivative        method, edge_order, window, order                input axis
//   broaden           sigma, lorentz_fwhm, lorentz_slope,              input axis
//                     lorentz_onset, shift, weight_by_energy, quadrature
//   deconvolve        method, companion; fourier_log: add_zlp, crop;   input axis (fourier_log with
//                     fourier_ratio: fwhm, threshold,                  crop: without the right taper)
//                     extrapolate_lowloss, extrapolate_coreloss
//                     (needs a companion signal per pixel, recipe.hpp)
// docs/preprocessing.md lists each field with its unit, default and range.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/core/status.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/relative_axis.hpp"
#include "corespec/grid/resample.hpp"
#include "corespec/prep/broadening.hpp"
#include "corespec/prep/eels_background.hpp"
#include "corespec/prep/low_loss.hpp"
#include "corespec/prep/normalize.hpp"
#include "corespec/prep/smoothing.hpp"
#include "corespec/prep/xas_normalize.hpp"
#include "corespec/steps/step.hpp"

namespace corespec::steps {

// ------------------------------------------------------------ status mapping

inline PixelStatus to_pixel_status(prep::Status s) noexcept {
    switch (s) {
        case prep::Status::ok: return PixelStatus::ok;
        case prep::Status::non_finite: return PixelStatus::non_finite;
        case prep::Status::constant: return PixelStatus::constant;
        case prep::Status::zero_divisor: return PixelStatus::zero_divisor;
    }
    return PixelStatus::non_finite;
}

inline PixelStatus to_pixel_status(prep::EdgeStatus s) noexcept {
    switch (s) {
        case prep::EdgeStatus::ok: return PixelStatus::ok;
        case prep::EdgeStatus::non_finite: return PixelStatus::non_finite;
        case prep::EdgeStatus::no_edge: return PixelStatus::no_edge;
        case prep::EdgeStatus::bad_window: return PixelStatus::bad_window;
    }
    return PixelStatus::non_finite;
}

inline PixelStatus to_pixel_status(prep::BackgroundStatus s) noexcept {
    switch (s) {
        case prep::BackgroundStatus::ok: return PixelStatus::ok;
        case prep::BackgroundStatus::empty_window: return PixelStatus::empty_window;
        case prep::BackgroundStatus::non_positive: return PixelStatus::non_positive;
        case prep::BackgroundStatus::non_finite: return PixelStatus::non_finite;
        case prep::BackgroundStatus::fit_failed: return PixelStatus::fit_failed;
        case prep::BackgroundStatus::outlier: return PixelStatus::outlier;
    }
    return PixelStatus::non_finite;
}

namespace detail {

template <class Derived>
class StepT : public Step {
public:
    std::string name() const override { return Derived::step_name; }
    std::unique_ptr<Step> clone() const override { return std::make_unique<Derived>(static_cast<const Derived&>(*this)); }
};

// The values as doubles (the algorithms of prep/ compute in double).
template <class T>
void to_double(span<const T> in, std::vector<double>& out) {
    out.resize(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = static_cast<double>(in[i]);
}

template <class T, class V>
void copy_out(const V& values, span<T> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(values[i]);
}

inline std::string window_text(double lo, double hi) {
    return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

}  // namespace detail

// ------------------------------------------------------------------ pre_edge

/// XAS pre-edge subtraction and post-edge normalisation: the recipe form of
/// prep::PreEdge (Larch semantics; one implementation, PreEdge::apply_one).
/// Output: the normalised (or flattened) spectrum on the input axis;
/// reports e0 and edge_step, and passes e0 on to later steps.
/// Status: non_finite, no_edge (flat, or edge_step below min_edge_snr times
/// the noise), bad_window (too few points for a fit window).
class PreEdgeStep : public detail::StepT<PreEdgeStep> {
public:
    static constexpr const char* step_name = "pre_edge";

    explicit PreEdgeStep(prep::PreEdgeParams params = {}, prep::PreEdgeOutput output = prep::PreEdgeOutput::norm)
        : pre_edge_{std::move(params), output} {
        // prep::PreEdgeParams::validate's checks, naming the JSON fields.
        pre_edge_.params.validate([](const std::string& field, const std::string& why) {
            throw step_error(step_name, field == "step" ? "edge_step" : field, why);
        });
        if (output == prep::PreEdgeOutput::none)
            throw step_error(step_name, "output", "a step must output a spectrum: \"norm\" or \"flat\"");
    }

    const prep::PreEdgeParams& params() const noexcept { return pre_edge_.params; }
    prep::PreEdgeOutput output() const noexcept { return pre_edge_.output; }
    bool finds_e0() const noexcept override { return true; }

    nlohmann::json to_json() const override {
        const auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
        const auto& p = pre_edge_.params;
        return {{"step", step_name},        {"e0", opt(p.e0)},       {"edge_step", opt(p.step)},
                {"pre1", opt(p.pre1)},      {"pre2", opt(p.pre2)},   {"norm1", opt(p.norm1)},
                {"norm2", opt(p.norm2)},    {"nnorm", opt(p.nnorm)}, {"nvict", p.nvict},
                {"npre", p.npre},           {"make_flat", p.make_flat}, {"min_edge_snr", p.min_edge_snr},
                {"output", pre_edge_.output == prep::PreEdgeOutput::norm ? "norm" : "flat"}};
    }

    static PreEdgeStep from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        prep::PreEdgeParams p;
        p.e0 = r.optional_number("e0");
        p.step = r.optional_number("edge_step");
        p.pre1 = r.optional_number("pre1");
        p.pre2 = r.optional_number("pre2");
        p.norm1 = r.optional_number("norm1");
        p.norm2 = r.optional_number("norm2");
        p.nnorm = r.optional_integer("nnorm");
        p.nvict = r.integer("nvict", p.nvict);
        p.npre = r.integer("npre", p.npre);
        p.make_flat = r.boolean("make_flat", p.make_flat);
        p.min_edge_snr = r.number("min_edge_snr", p.min_edge_snr);
        const auto out = r.choice("output", {"norm", "flat"}, 0);
        r.finish();
        return PreEdgeStep(p, out == 0 ? prep::PreEdgeOutput::norm : prep::PreEdgeOutput::flat);
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        return std::make_unique<Plan>(pre_edge_, input);
    }

private:
    // prep::PreEdge::apply_one with the energies computed once per plan.
    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(const prep::PreEdge& p, const grid::EnergyAxis& axis)
            : PreparedStepT<Plan>(axis), pre_edge_(p), energies_(axis.energies()) {}
        bool in_place() const noexcept override { return true; }
        std::vector<std::string> report_names() const override { return {"e0", "edge_step"}; }

        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState& st) const {
            thread_local std::vector<double> mu;
            double r[2];
            const auto status = pre_edge_.apply_one(span<const double>(energies_), in, out, r, mu);
            if (status != prep::EdgeStatus::ok) return to_pixel_status(status);
            st.e0 = r[0];
            if (st.reports) st.reports[0] = r[0], st.reports[1] = r[1];
            return PixelStatus::ok;
        }

    private:
        prep::PreEdge pre_edge_;
        std::vector<double> energies_;  // once per plan, not per spectrum
    };

    prep::PreEdge pre_edge_;
};

// ----------------------------------------------------------- eels_background

/// EELS pre-edge background fit and subtraction (prep::BackgroundRemover,
/// HyperSpy semantics). Output on the input axis; reports the fitted
/// parameters ({A, r}, {A, tau} or {c0..cn}). Status: empty_window,
/// non_positive, non_finite, fit_failed (least squares did not converge: no
/// output, unlike remove_background, which keeps the last iterate).
class BackgroundStep : public detail::StepT<BackgroundStep> {
public:
    static constexpr const char* step_name = "eels_background";

    explicit BackgroundStep(prep::BackgroundOptions o) : opt_(o) {
        detail::require_finite_field(step_name, "lo", opt_.lo);
        detail::require_finite_field(step_name, "hi", opt_.hi);
        if (!(opt_.hi > opt_.lo))
            throw step_error(step_name, "hi", "must exceed lo, got window " + detail::window_text(opt_.lo, opt_.hi));
        if (opt_.polynomial_order < 0 || opt_.polynomial_order > 10)
            throw step_error(step_name, "polynomial_order", "must be in [0, 10], got " +
                                                                std::to_string(opt_.polynomial_order));
        if (opt_.max_iterations < 1 || opt_.max_iterations > 100000)
            throw step_error(step_name, "max_iterations", "must be in [1, 100000], got " +
                                                              std::to_string(opt_.max_iterations));
    }

    const prep::BackgroundOptions& options() const noexcept { return opt_; }

    nlohmann::json to_json() const override {
        static const char* models[] = {"power_law", "exponential", "polynomial"};
        return {{"step", step_name},
                {"lo", opt_.lo},
                {"hi", opt_.hi},
                {"model", models[static_cast<int>(opt_.model)]},
                {"fit", opt_.fit == prep::BackgroundFit::fast ? "fast" : "least_squares"},
                {"polynomial_order", opt_.polynomial_order},
                {"binned", opt_.binned},
                {"zero_fill", opt_.zero_fill},
                {"max_iterations", opt_.max_iterations}};
    }

    static BackgroundStep from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        prep::BackgroundOptions o;
        o.lo = r.number("lo");
        o.hi = r.number("hi");
        o.model = static_cast<prep::BackgroundModel>(r.choice("model", {"power_law", "exponential", "polynomial"}, 0));
        o.fit = r.choice("fit", {"fast", "least_squares"}, 0) == 0 ? prep::BackgroundFit::fast
                                                                   : prep::BackgroundFit::least_squares;
        o.polynomial_order = r.integer("polynomial_order", o.polynomial_order);
        o.binned = r.boolean("binned", o.binned);
        o.zero_fill = r.boolean("zero_fill", o.zero_fill);
        o.max_iterations = r.integer("max_iterations", o.max_iterations);
        r.finish();
        return BackgroundStep(o);
    }

    std::optional<EnergyRange> check_range(std::optional<EnergyRange> before) const override {
        if (before && (opt_.lo < before->lo || opt_.hi > before->hi))
            throw step_error(step_name, "lo", "fit window " + detail::window_text(opt_.lo, opt_.hi) +
                                                  " lies outside the energies an earlier step leaves, " +
                                                  detail::window_text(before->lo, before->hi) +
                                                  " (remove the background before cropping or resampling)");
        return before;
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        try {
            return std::make_unique<Plan>(prep::BackgroundRemover(input, opt_));
        } catch (const step_error&) {
            throw;
        } catch (const error& e) {
            throw step_error(step_name, "lo", e.what());
        }
    }

private:
    class Plan : public PreparedStepT<Plan> {
    public:
        explicit Plan(prep::BackgroundRemover rm) : PreparedStepT<Plan>(rm.axis()), rm_(std::move(rm)) {}
        bool in_place() const noexcept override { return true; }
        std::vector<std::string> report_names() const override {
            switch (rm_.options().model) {
                case prep::BackgroundModel::power_law: return {"A", "r"};
                case prep::BackgroundModel::exponential: return {"A", "tau"};
                case prep::BackgroundModel::polynomial: break;
            }
            std::vector<std::string> names;
            for (std::size_t k = 0; k < rm_.parameter_count(); ++k) names.push_back("c" + std::to_string(k));
            return names;
        }

        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState& st) const {
            std::array<double, 11> p{};
            const span<double> params(p.data(), rm_.parameter_count());
            const auto status = rm_.fit(in, params);
            if (st.reports) std::copy(params.begin(), params.end(), st.reports);
            if (status != prep::BackgroundStatus::ok) return to_pixel_status(status);
            rm_.subtract(in, span<const double>(params.data(), params.size()), status, out);
            return PixelStatus::ok;
        }

    private:
        prep::BackgroundRemover rm_;
    };

    prep::BackgroundOptions opt_;
};

// ----------------------------------------------------------------- zlp_align

/// Puts the zero-loss peak of each spectrum at 0 eV: finds its centre c
/// (prep::zlp_centre) and writes y(E + c) by linear interpolation onto the
/// input channels at least max_shift inside both ends, so every spectrum
/// shares one output axis. The per-spectrum form of align::align_zero_loss
/// (which aligns on the image mean and crops to the common range, as
/// HyperSpy does). Reports zlp_centre. Status: non_finite (no finite
/// centre), out_of_range (|c| > max_shift).
class ZlpAlignStep : public detail::StepT<ZlpAlignStep> {
public:
    static constexpr const char* step_name = "zlp_align";

    explicit ZlpAlignStep(double max_shift = 5.0, prep::ZlpMethod method = prep::ZlpMethod::maximum,
                          std::optional<std::pair<double, double>> search = std::nullopt)
        : max_shift_(max_shift), method_(method), search_(search) {
        if (!(max_shift_ > 0.0) || !std::isfinite(max_shift_))
            throw step_error(step_name, "max_shift", "must be finite and > 0, got " + std::to_string(max_shift_));
        if (search_) {
            detail::require_finite_field(step_name, "search_lo", search_->first);
            detail::require_finite_field(step_name, "search_hi", search_->second);
            if (!(search_->second > search_->first)) throw step_error(step_name, "search_hi", "must exceed search_lo");
        }
    }

    nlohmann::json to_json() const override {
        static const char* methods[] = {"maximum", "parabola", "gaussian"};
        return {{"step", step_name},
                {"max_shift", max_shift_},
                {"method", methods[static_cast<int>(method_)]},
                {"search_lo", search_ ? nlohmann::json(search_->first) : nlohmann::json(nullptr)},
                {"search_hi", search_ ? nlohmann::json(search_->second) : nlohmann::json(nullptr)}};
    }

    static ZlpAlignStep from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        const double max_shift = r.number("max_shift", 5.0);
        const auto method = static_cast<prep::ZlpMethod>(r.choice("method", {"maximum", "parabola", "gaussian"}, 0));
        const auto lo = r.optional_number("search_lo"), hi = r.optional_number("search_hi");
        r.finish();
        if (lo.has_value() != hi.has_value())
            throw step_error(step_name, lo ? "search_hi" : "search_lo", "give both search_lo and search_hi, or neither");
        std::optional<std::pair<double, double>> search;
        if (lo) search = std::make_pair(*lo, *hi);
        return ZlpAlignStep(max_shift, method, search);
    }

    std::optional<EnergyRange> check_range(std::optional<EnergyRange>) const override {
        return std::nullopt;  // the energies move: unknown until the axis is seen
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        std::pair<std::size_t, std::size_t> w;
        try {
            w = input.window(input.front() + max_shift_, input.back() - max_shift_);
            prep::ZlpOptions zo{method_, search_};
            align::detail::zlp_search_range(input, zo);
        } catch (const error& e) {
            throw step_error(step_name, search_ ? "search_lo" : "max_shift", e.what());
        }
        return std::make_unique<Plan>(input, input.slice(w.first, w.second), prep::ZlpOptions{method_, search_},
                                      max_shift_);
    }

private:
    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(grid::EnergyAxis in, grid::EnergyAxis out, prep::ZlpOptions zo, double max_shift)
            : PreparedStepT<Plan>(std::move(out)), in_(std::move(in)), zo_(std::move(zo)), max_shift_(max_shift) {}
        std::vector<std::string> report_names() const override { return {"zlp_centre"}; }

        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState& st) const {
            const double c = prep::zlp_centre(grid::SpectrumView<const T>(in_, in), zo_);
            if (st.reports) st.reports[0] = c;
            if (!std::isfinite(c)) return PixelStatus::non_finite;
            if (!(std::abs(c) <= max_shift_)) return PixelStatus::out_of_range;
            const auto& ax = output_axis();
            for (std::size_t j = 0; j < ax.size(); ++j) {
                const double e = ax.energy(j) + c;
                const std::size_t k = in_.segment(e);
                const double x0 = in_.energy(k), x1 = in_.energy(k + 1);
                const double t = (e - x0) / (x1 - x0);
                const double y0 = static_cast<double>(in[k]), y1 = static_cast<double>(in[k + 1]);
                out[j] = static_cast<T>(y0 + t * (y1 - y0));
            }
            // The values moved by -c: the peak is now at 0 eV on the output axis.
            return corespec::all_finite(span<const T>(out.data(), out.size())) ? PixelStatus::ok : PixelStatus::non_finite;
        }

    private:
        grid::EnergyAxis in_;
        prep::ZlpOptions zo_;
        double max_shift_;
    };

    double max_shift_;
    prep::ZlpMethod method_;
    std::optional<std::pair<double, double>> search_;
};

// ---------------------------------------------------------------------- crop

/// The channels whose energies lie in [lo, hi] (grid::crop). A view: a
/// recipe passes the sub-range on without copying.
class Crop : public detail::StepT<Crop> {
public:
    static constexpr const char* step_name = "crop";

    Crop(double lo, double hi) : lo_(lo), hi_(hi) {
        detail::require_finite_field(step_name, "lo", lo_);
        detail::require_finite_field(step_name, "hi", hi_);
        if (!(hi_ > lo_)) throw step_error(step_name, "hi", "must exceed lo, got " + detail::window_text(lo_, hi_));
    }
    double lo() const noexcept { return lo_; }
    double hi() const noexcept { return hi_; }

    nlohmann::json to_json() const override { return {{"step", step_name}, {"lo", lo_}, {"hi", hi_}}; }
    static Crop from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        const double lo = r.number("lo"), hi = r.number("hi");
        r.finish();
        return Crop(lo, hi);
    }

    std::optional<EnergyRange> check_range(std::optional<EnergyRange> before) const override {
        if (!before) return EnergyRange{lo_, hi_};
        if (!(lo_ < before->hi && hi_ > before->lo))
            throw step_error(step_name, "lo", "crop " + detail::window_text(lo_, hi_) + " does not overlap " +
                                                  detail::window_text(before->lo, before->hi) +
                                                  ", the energies an earlier step leaves");
        return EnergyRange{std::max(lo_, before->lo), std::min(hi_, before->hi)};
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        try {
            const auto [first, last] = input.window(lo_, hi_);
            return std::make_unique<Plan>(input.slice(first, last), first, last);
        } catch (const error& e) {
            throw step_error(step_name, "lo", e.what());
        }
    }

private:
    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(grid::EnergyAxis out, std::size_t first, std::size_t last)
            : PreparedStepT<Plan>(std::move(out)), first_(first), last_(last) {}
        std::optional<std::pair<std::size_t, std::size_t>> channel_window() const noexcept override {
            return std::make_pair(first_, last_);
        }
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState&) const {
            std::copy(in.begin() + static_cast<std::ptrdiff_t>(first_), in.begin() + static_cast<std::ptrdiff_t>(last_),
                      out.begin());
            return PixelStatus::ok;
        }

    private:
        std::size_t first_, last_;
    };

    double lo_, hi_;
};

// ------------------------------------------------------------------ resample

/// Where a resampling grid's energies are measured from.
enum class GridReference { absolute, e0, energy };

/// Resampling onto the uniform grid (lo, hi, step) (grid::Resampler). With
/// relative_to "e0" the grid is e0 + [lo, hi] for each spectrum, e0 taken
/// from an earlier step (pre_edge); with "energy", reference + [lo, hi]. In
/// both relative cases the output axis holds the relative energies, the same
/// for every spectrum (the axis a model is trained on). Status: non_finite
/// (a channel that enters the result), no_edge (no e0 for this spectrum),
/// out_of_range (the grid around this spectrum's e0 leaves its axis, with
/// out_of_range "error").
class Resample : public detail::StepT<Resample> {
public:
    static constexpr const char* step_name = "resample";

    Resample(double lo, double hi, double step, GridReference relative_to = GridReference::absolute,
             double reference = 0.0, grid::ResampleOptions options = {})
        : grid_{lo, hi, step}, relative_to_(relative_to), reference_(reference), options_(options) {
        detail::require_finite_field(step_name, "lo", lo);
        detail::require_finite_field(step_name, "hi", hi);
        detail::require_finite_field(step_name, "step_size", step);
        if (!(step > 0.0)) throw step_error(step_name, "step_size", "must be > 0, got " + std::to_string(step));
        if (!(hi > lo)) throw step_error(step_name, "hi", "must exceed lo, got " + detail::window_text(lo, hi));
        try {
            relative_axis_ = std::make_shared<const grid::UniformAxis>(grid_.relative());
        } catch (const error& e) {
            throw step_error(step_name, "step_size", e.what());
        }
        if (relative_to_ == GridReference::energy) detail::require_finite_field(step_name, "reference", reference_);
    }

    const grid::RelativeGrid& grid() const noexcept { return grid_; }
    GridReference relative_to() const noexcept { return relative_to_; }
    bool needs_e0() const noexcept override { return relative_to_ == GridReference::e0; }

    nlohmann::json to_json() const override {
        static const char* refs[] = {"absolute", "e0", "energy"};
        static const char* methods[] = {"linear", "pchip", "rebin"};
        static const char* ranges[] = {"error", "zero", "hold"};
        nlohmann::json j = {{"step", step_name},
                            {"lo", grid_.lo},
                            {"hi", grid_.hi},
                            {"step_size", grid_.step},
                            {"relative_to", refs[static_cast<int>(relative_to_)]},
                            {"method", methods[static_cast<int>(options_.method)]},
                            {"out_of_range", ranges[static_cast<int>(options_.out_of_range)]}};
        if (relative_to_ == GridReference::energy) j["reference"] = reference_;
        return j;
    }

    static Resample from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        const double lo = r.number("lo"), hi = r.number("hi"), step = r.number("step_size");
        const auto ref = static_cast<GridReference>(r.choice("relative_to", {"absolute", "e0", "energy"}, 0));
        const double reference = ref == GridReference::energy ? r.number("reference") : 0.0;
        grid::ResampleOptions o;
        o.method = static_cast<grid::Method>(r.choice("method", {"linear", "pchip", "rebin"}, 0));
        o.out_of_range = static_cast<grid::OutOfRange>(r.choice("out_of_range", {"error", "zero", "hold"}, 0));
        r.finish();
        return Resample(lo, hi, step, ref, reference, o);
    }

    std::optional<EnergyRange> check_range(std::optional<EnergyRange> before) const override {
        const grid::UniformAxis& a = *relative_axis_;
        if (before && relative_to_ != GridReference::e0 && options_.out_of_range == grid::OutOfRange::error) {
            const double shift = relative_to_ == GridReference::energy ? reference_ : 0.0;
            const double tol = 1e-9 * std::max(std::abs(before->lo), std::abs(before->hi)) + 1e-12;
            if (a.front() + shift < before->lo - tol || a.back() + shift > before->hi + tol)
                throw step_error(step_name, "lo", "grid " + detail::window_text(a.front() + shift, a.back() + shift) +
                                                      " leaves " + detail::window_text(before->lo, before->hi) +
                                                      ", the energies an earlier step leaves");
        }
        return EnergyRange{a.front(), a.back()};
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        if (relative_to_ == GridReference::e0) return std::make_unique<RelativePlan>(input, *this);
        const double shift = relative_to_ == GridReference::energy ? reference_ : 0.0;
        try {
            return std::make_unique<FixedPlan>(grid::Resampler(input, grid_.absolute(shift), options_),
                                               *relative_axis_);
        } catch (const error& e) {
            throw step_error(step_name, "lo", e.what());
        }
    }

private:
    template <class T>
    static PixelStatus apply(const grid::Resampler& plan, span<const T> in, span<T> out) {
        try {
            plan.apply(in, out);
            return PixelStatus::ok;
        } catch (const value_error&) {
            return PixelStatus::non_finite;
        }
    }

    class FixedPlan : public PreparedStepT<FixedPlan> {
    public:
        FixedPlan(grid::Resampler plan, const grid::UniformAxis& out)
            : PreparedStepT<FixedPlan>(grid::EnergyAxis(out)), plan_(std::move(plan)) {}
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState&) const {
            return apply(plan_, in, out);
        }

    private:
        grid::Resampler plan_;
    };

    // A plan per spectrum: the grid moves with its e0.
    class RelativePlan : public PreparedStepT<RelativePlan> {
    public:
        RelativePlan(grid::EnergyAxis in, const Resample& s)
            : PreparedStepT<RelativePlan>(grid::EnergyAxis(*s.relative_axis_)), in_(std::move(in)), grid_(s.grid_),
              options_(s.options_) {}
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState& st) const {
            if (!std::isfinite(st.e0)) return PixelStatus::no_edge;
            std::optional<grid::Resampler> plan;
            try {
                plan.emplace(in_, grid_.absolute(st.e0), options_);
            } catch (const error&) {
                return PixelStatus::out_of_range;
            }
            return apply(*plan, in, out);
        }

    private:
        grid::EnergyAxis in_;
        grid::RelativeGrid grid_;
        grid::ResampleOptions options_;
    };

    grid::RelativeGrid grid_;
    GridReference relative_to_;
    double reference_;
    grid::ResampleOptions options_;
    std::shared_ptr<const grid::UniformAxis> relative_axis_;  // validated once
};

// ----------------------------------------------------------------- normalize

/// Per-spectrum intensity normalisation (prep::Normalize): min_max, max,
/// area, sum. Status: non_finite, constant, zero_divisor.
class NormalizeStep : public detail::StepT<NormalizeStep> {
public:
    static constexpr const char* step_name = "normalize";

    explicit NormalizeStep(prep::NormKind kind = prep::NormKind::min_max) : kind_(kind) {}
    prep::NormKind kind() const noexcept { return kind_; }

    nlohmann::json to_json() const override {
        static const char* kinds[] = {"min_max", "max", "area", "sum"};
        return {{"step", step_name}, {"kind", kinds[static_cast<int>(kind_)]}};
    }
    static NormalizeStep from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        const auto k = static_cast<prep::NormKind>(r.choice("kind", {"min_max", "max", "area", "sum"}, 0));
        r.finish();
        return NormalizeStep(k);
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        return std::make_unique<Plan>(input, kind_);
    }

private:
    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(const grid::EnergyAxis& a, prep::NormKind k) : PreparedStepT<Plan>(a), kind_(k) {}
        bool in_place() const noexcept override { return true; }
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState&) const {
            if (out.data() != in.data()) std::copy(in.begin(), in.end(), out.begin());
            return to_pixel_status(prep::detail::normalize_in_place(out, output_axis(), kind_));
        }

    private:
        prep::NormKind kind_;
    };

    prep::NormKind kind_;
};

// -------------------------------------------------------------------- smooth

/// Savitzky-Golay smoothing (prep::SavitzkyGolay, scipy savgol_filter
/// mode='interp'). Needs a uniform axis. Status: non_finite.
class Smooth : public detail::StepT<Smooth> {
public:
    static constexpr const char* step_name = "smooth";

    explicit Smooth(int window = 5, int order = 2) : sg_{window, order, 0, 1.0} { check(sg_, step_name); }

    nlohmann::json to_json() const override {
        return {{"step", step_name}, {"window", sg_.window}, {"order", sg_.order}};
    }
    static Smooth from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        const int w = r.integer("window", 5), o = r.integer("order", 2);
        r.finish();
        return Smooth(w, o);
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        return std::make_unique<Plan>(input, with_axis(sg_, input, step_name));
    }

    // Shared with Derivative (method "savgol").
    static void check(const prep::SavitzkyGolay& sg, const char* name) {
        if (sg.window < 1 || sg.window % 2 == 0 || sg.window > 10001)
            throw step_error(name, "window", "must be odd, in [1, 10001], got " + std::to_string(sg.window));
        if (sg.order < 0 || sg.order >= sg.window)
            throw step_error(name, "order", "must be in [0, window), got " + std::to_string(sg.order));
    }
    static prep::SavitzkyGolay with_axis(prep::SavitzkyGolay sg, const grid::EnergyAxis& input, const char* name) {
        if (!input.is_uniform())
            throw step_error(name, "window", "Savitzky-Golay needs a uniform axis; resample first");
        if (input.size() < static_cast<std::size_t>(sg.window))
            throw step_error(name, "window", "window " + std::to_string(sg.window) + " exceeds the " +
                                                 std::to_string(input.size()) + " channels of the axis");
        sg.delta = input.as_uniform().scale();
        return sg;
    }

    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(const grid::EnergyAxis& a, prep::SavitzkyGolay sg) : PreparedStepT<Plan>(a), sg_(sg) {}
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState&) const {
            if (!corespec::all_finite(in)) return PixelStatus::non_finite;
            sg_.apply(in, out);
            return PixelStatus::ok;
        }

    private:
        prep::SavitzkyGolay sg_;
    };

private:
    prep::SavitzkyGolay sg_;
};

// ---------------------------------------------------------------- derivative

/// d y / d E: "gradient" (prep::gradient, numpy.gradient on any axis,
/// edge_order 1 or 2) or "savgol" (Savitzky-Golay first derivative, uniform
/// axis). Status: non_finite.
class Derivative : public detail::StepT<Derivative> {
public:
    static constexpr const char* step_name = "derivative";
    enum class Method { gradient, savgol };

    explicit Derivative(Method method = Method::gradient, int edge_order = 1, int window = 5, int order = 2)
        : method_(method), edge_order_(edge_order), sg_{window, order, 1, 1.0} {
        if (edge_order_ != 1 && edge_order_ != 2)
            throw step_error(step_name, "edge_order", "must be 1 or 2, got " + std::to_string(edge_order_));
        if (method_ == Method::savgol) Smooth::check(sg_, step_name);
        if (method_ == Method::savgol && sg_.order < 1)
            throw step_error(step_name, "order", "a first derivative needs order >= 1");
    }

    nlohmann::json to_json() const override {
        return {{"step", step_name}, {"method", method_ == Method::gradient ? "gradient" : "savgol"},
                {"edge_order", edge_order_}, {"window", sg_.window}, {"order", sg_.order}};
    }
    static Derivative from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        const auto m = r.choice("method", {"gradient", "savgol"}, 0) == 0 ? Method::gradient : Method::savgol;
        const int e = r.integer("edge_order", 1), w = r.integer("window", 5), o = r.integer("order", 2);
        r.finish();
        return Derivative(m, e, w, o);
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        if (method_ == Method::savgol) return std::make_unique<Smooth::Plan>(input, Smooth::with_axis(sg_, input, step_name));
        if (input.size() < static_cast<std::size_t>(edge_order_) + 1)
            throw step_error(step_name, "edge_order", "too few channels for this edge order");
        return std::make_unique<GradientPlan>(input, edge_order_);
    }

private:
    class GradientPlan : public PreparedStepT<GradientPlan> {
    public:
        GradientPlan(const grid::EnergyAxis& a, int edge_order)
            : PreparedStepT<GradientPlan>(a), x_(a.energies()), edge_order_(edge_order) {}
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState&) const {
            if (!corespec::all_finite(in)) return PixelStatus::non_finite;
            detail::copy_out(prep::gradient(span<const double>(x_), in, edge_order_), out);
            return PixelStatus::ok;
        }

    private:
        std::vector<double> x_;
        int edge_order_;
    };

    Method method_;
    int edge_order_;
    prep::SavitzkyGolay sg_;
};

// ------------------------------------------------------------------- broaden

/// Gaussian / Lorentzian / Voigt broadening on the input axis (prep::Broaden).
/// Status: non_finite.
class BroadenStep : public detail::StepT<BroadenStep> {
public:
    static constexpr const char* step_name = "broaden";

    explicit BroadenStep(prep::Broaden b) : b_(b) {
        try {
            b_.validate();
        } catch (const error& e) {
            throw step_error(step_name, "sigma", e.what());
        }
    }
    const prep::Broaden& broaden() const noexcept { return b_; }

    nlohmann::json to_json() const override {
        return {{"step", step_name},
                {"sigma", b_.sigma},
                {"lorentz_fwhm", b_.lorentz_fwhm},
                {"lorentz_slope", b_.lorentz_slope},
                {"lorentz_onset", b_.lorentz_onset},
                {"shift", b_.shift},
                {"weight_by_energy", b_.weight_by_energy},
                {"quadrature", b_.quadrature == prep::Quadrature::trapezoid ? "trapezoid" : "uniform_mean"}};
    }
    static BroadenStep from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        prep::Broaden b;
        b.sigma = r.number("sigma", 0.0);
        b.lorentz_fwhm = r.number("lorentz_fwhm", 0.0);
        b.lorentz_slope = r.number("lorentz_slope", 0.0);
        b.lorentz_onset = r.number("lorentz_onset", 0.0);
        b.shift = r.number("shift", 0.0);
        b.weight_by_energy = r.boolean("weight_by_energy", false);
        b.quadrature = r.choice("quadrature", {"trapezoid", "uniform_mean"}, 0) == 0 ? prep::Quadrature::trapezoid
                                                                                  : prep::Quadrature::uniform_mean;
        r.finish();
        return BroadenStep(b);
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const override {
        return std::make_unique<Plan>(input, b_);
    }

private:
    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(const grid::EnergyAxis& a, prep::Broaden b) : PreparedStepT<Plan>(a), b_(b), x_(a.energies()) {}
        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState&) const {
            if (!corespec::all_finite(in)) return PixelStatus::non_finite;
            try {
                detail::copy_out(b_(span<const double>(x_), in, span<const double>(x_)), out);
            } catch (const value_error&) {
                return PixelStatus::non_finite;
            }
            return PixelStatus::ok;
        }

    private:
        prep::Broaden b_;
        std::vector<double> x_;
    };

    prep::Broaden b_;
};

// ---------------------------------------------------------------- deconvolve

/// Plural-scattering deconvolution with HyperSpy 1.7.3's algorithms
/// (prep/low_loss.hpp), by a second spectrum recorded with each pixel, its
/// companion signal (Step::companion(), passed with the run as
/// steps::Companions):
///   fourier_log   - the spectrum is a low loss, the companion ("zero_loss"
///                   by default) its zero-loss peak
///                   (prep::fourier_log_deconvolution; add_zlp, crop);
///   fourier_ratio - the spectrum is a core loss, the companion ("low_loss")
///                   its low loss (prep::fourier_ratio_deconvolution; fwhm,
///                   threshold, extrapolate_lowloss, extrapolate_coreloss);
///                   reports threshold, fwhm and i0 per spectrum.
/// Each pixel is deconvolved on its own, exactly as the direct call on that
/// spectrum and its companion (so the default threshold's tolerance is the
/// pixel's own, as HyperSpy on one spectrum). Both axes must be uniform.
/// Output on the input axis (fourier_log with crop: without the right taper).
/// Status: non_finite (NaN/Inf in either spectrum or the result),
/// fit_failed (no elastic threshold, zero-loss width or positive I0 found).
class Deconvolve : public detail::StepT<Deconvolve> {
public:
    static constexpr const char* step_name = "deconvolve";
    enum class Method { fourier_log, fourier_ratio };

    /// Fourier-log by the zero-loss peak.
    explicit Deconvolve(prep::FourierLogOptions o, std::string companion = "zero_loss")
        : method_(Method::fourier_log), companion_(std::move(companion)), log_(o) {
        check_name();
    }
    /// Fourier-ratio by the low-loss spectrum.
    explicit Deconvolve(prep::FourierRatioOptions o, std::string companion = "low_loss")
        : method_(Method::fourier_ratio), companion_(std::move(companion)), ratio_(o) {
        check_name();
        if (ratio_.fwhm && !(std::isfinite(*ratio_.fwhm) && *ratio_.fwhm > 0.0))
            throw step_error(step_name, "fwhm", "must be finite and > 0 eV, got " + std::to_string(*ratio_.fwhm));
        if (ratio_.threshold) detail::require_finite_field(step_name, "threshold", *ratio_.threshold);
    }

    Method method() const noexcept { return method_; }
    std::string companion() const override { return companion_; }

    nlohmann::json to_json() const override {
        const auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
        if (method_ == Method::fourier_log)
            return {{"step", step_name}, {"method", "fourier_log"}, {"companion", companion_},
                    {"add_zlp", log_.add_zlp}, {"crop", log_.crop}};
        return {{"step", step_name},
                {"method", "fourier_ratio"},
                {"companion", companion_},
                {"fwhm", opt(ratio_.fwhm)},
                {"threshold", opt(ratio_.threshold)},
                {"extrapolate_lowloss", ratio_.extrapolate_lowloss},
                {"extrapolate_coreloss", ratio_.extrapolate_coreloss}};
    }

    static Deconvolve from_json(const nlohmann::json& j) {
        detail::FieldReader r(j, step_name);
        if (!r.has("method")) throw step_error(step_name, "method", "missing: \"fourier_log\" or \"fourier_ratio\"");
        const bool log = r.choice("method", {"fourier_log", "fourier_ratio"}, 0) == 0;
        std::string companion = log ? "zero_loss" : "low_loss";
        if (r.has("companion")) companion = r.string("companion");
        if (log) {
            prep::FourierLogOptions o;
            o.add_zlp = r.boolean("add_zlp", o.add_zlp);
            o.crop = r.boolean("crop", o.crop);
            r.finish();
            return Deconvolve(o, companion);
        }
        prep::FourierRatioOptions o;
        o.fwhm = r.optional_number("fwhm");
        o.threshold = r.optional_number("threshold");
        o.extrapolate_lowloss = r.boolean("extrapolate_lowloss", o.extrapolate_lowloss);
        o.extrapolate_coreloss = r.boolean("extrapolate_coreloss", o.extrapolate_coreloss);
        r.finish();
        return Deconvolve(o, companion);
    }

    std::optional<EnergyRange> check_range(std::optional<EnergyRange> before) const override {
        if (method_ == Method::fourier_log && log_.crop) return std::nullopt;  // the taper's width depends on the size
        return before;
    }

    std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis&) const override {
        throw step_error(step_name, "companion",
                         "needs the companion signal \"" + companion_ + "\" (pass it with the run: steps::Companions)");
    }

    std::unique_ptr<PreparedStep> prepare_with_companion(const grid::EnergyAxis& input,
                                                         const grid::EnergyAxis& companion_axis) const override {
        if (!input.is_uniform()) throw step_error(step_name, "method", "deconvolution needs a uniform axis; resample first");
        if (!companion_axis.is_uniform())
            throw step_error(step_name, "companion", "the companion signal \"" + companion_ + "\" needs a uniform axis");
        const std::size_t n = input.size(), nc = companion_axis.size();
        const std::size_t taper = std::max<std::size_t>(20, static_cast<std::size_t>(std::nearbyint(0.02 * double(n))));
        if (2 * taper > n)
            throw step_error(step_name, "method", "the spectrum's " + std::to_string(n) +
                                                      " channels are fewer than its two Hanning tapers (" +
                                                      std::to_string(2 * taper) + ")");
        if (method_ == Method::fourier_log)
            return std::make_unique<Plan>(*this, input, companion_axis, log_.crop ? input.slice(0, n - taper) : input);
        if (nc < 40 || (ratio_.extrapolate_lowloss && nc < 100))
            throw step_error(step_name, "companion", "the low loss needs at least " +
                                                         std::string(ratio_.extrapolate_lowloss ? "100" : "40") +
                                                         " channels, got " + std::to_string(nc));
        try {
            if (ratio_.threshold) {
                const auto i = numeric::hyperspy_value2index(companion_axis, *ratio_.threshold);
                if (i < 0 || i >= static_cast<std::ptrdiff_t>(nc))
                    throw range_error("threshold " + std::to_string(*ratio_.threshold) + " eV is outside the low loss");
            } else {
                const auto [i1, i2] = numeric::hyperspy_value_range_to_indices(companion_axis, 1.0, 11.0);
                if (i2 < i1 + 10) throw value_error("the elastic threshold search [1, 11] eV spans fewer than 10 channels");
            }
        } catch (const step_error&) {
            throw;
        } catch (const error& e) {
            throw step_error(step_name, "threshold", e.what());
        }
        return std::make_unique<Plan>(*this, input, companion_axis, input);
    }

private:
    void check_name() const {
        if (companion_.empty()) throw step_error(step_name, "companion", "must name a signal");
        for (char c : companion_)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
                throw step_error(step_name, "companion", "a signal name holds letters, digits and '_', got \"" +
                                                             companion_ + "\"");
    }

    class Plan : public PreparedStepT<Plan> {
    public:
        Plan(const Deconvolve& s, grid::EnergyAxis in, grid::EnergyAxis companion, grid::EnergyAxis out)
            : PreparedStepT<Plan>(std::move(out)), method_(s.method_), log_(s.log_), ratio_(s.ratio_),
              in_(std::move(in)), companion_(std::move(companion)), in_u_(in_.as_uniform()),
              companion_u_(companion_.as_uniform()) {}
        std::vector<std::string> report_names() const override {
            if (method_ == Method::fourier_log) return {};
            return {"threshold", "fwhm", "i0"};
        }

        template <class T>
        PixelStatus go(span<const T> in, span<T> out, PixelState& st) const {
            const span<const T> c = st.companion<T>();
            if (c.size() != companion_.size()) return PixelStatus::bad_window;  // a runner without the companion
            if (!corespec::all_finite(in) || !corespec::all_finite(c)) return PixelStatus::non_finite;
            try {
                if (method_ == Method::fourier_log) {
                    detail::copy_out(
                        prep::fourier_log_deconvolution(in_u_, in, companion_u_, c, log_).values(),
                        out);
                } else {
                    prep::FourierRatioInfo info;
                    const auto r = prep::detail::fourier_ratio(in_, in, companion_, c, ratio_, &info);
                    if (st.reports) st.reports[0] = info.threshold, st.reports[1] = info.fwhm, st.reports[2] = info.i0;
                    detail::copy_out(r.values(), out);
                }
            } catch (const error&) {
                return PixelStatus::fit_failed;
            }
            return corespec::all_finite(span<const T>(out.data(), out.size())) ? PixelStatus::ok : PixelStatus::non_finite;
        }

    private:
        Method method_;
        prep::FourierLogOptions log_;
        prep::FourierRatioOptions ratio_;
        grid::EnergyAxis in_, companion_;
        grid::UniformAxis in_u_, companion_u_;  // checked once, at prepare
    };

    Method method_;
    std::string companion_;
    prep::FourierLogOptions log_;
    prep::FourierRatioOptions ratio_;
};

// ------------------------------------------------------------------ registry

/// The names every step answers to in JSON, in the order of this file.
inline const std::vector<std::string>& step_names() {
    static const std::vector<std::string> names = {
        PreEdgeStep::step_name, BackgroundStep::step_name, ZlpAlignStep::step_name, Crop::step_name,
        Resample::step_name,    NormalizeStep::step_name,  Smooth::step_name,       Derivative::step_name,
        BroadenStep::step_name, Deconvolve::step_name};
    return names;
}

/// A step from its JSON object. Throws step_error (unknown step, missing,
/// unknown, malformed or out-of-range field).
inline std::unique_ptr<Step> step_from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw step_error("step", "step", "a step must be a JSON object, got " + std::string(j.type_name()));
    if (!j.contains("step") || !j.at("step").is_string())
        throw step_error("step", "step", "each step needs a \"step\" field naming it");
    const std::string name = j.at("step").get<std::string>();
    if (name == PreEdgeStep::step_name) return PreEdgeStep::from_json(j).clone();
    if (name == BackgroundStep::step_name) return BackgroundStep::from_json(j).clone();
    if (name == ZlpAlignStep::step_name) return ZlpAlignStep::from_json(j).clone();
    if (name == Crop::step_name) return Crop::from_json(j).clone();
    if (name == Resample::step_name) return Resample::from_json(j).clone();
    if (name == NormalizeStep::step_name) return NormalizeStep::from_json(j).clone();
    if (name == Smooth::step_name) return Smooth::from_json(j).clone();
    if (name == Derivative::step_name) return Derivative::from_json(j).clone();
    if (name == BroadenStep::step_name) return BroadenStep::from_json(j).clone();
    if (name == Deconvolve::step_name) return Deconvolve::from_json(j).clone();
    std::string known;
    for (const auto& n : step_names()) known += (known.empty() ? "" : ", ") + n;
    throw step_error(name, "step", "unknown step \"" + name + "\"; known steps: " + known);
}

}  // namespace corespec::steps

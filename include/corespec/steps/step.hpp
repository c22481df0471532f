// corespec/steps/step.hpp - the step concept: one call shape for every
// preprocessing and alignment stage.
//
// A step is a value type holding its parameters, validated once when it is
// constructed (a bad value throws step_error naming the step and the field).
// It is planned for an input energy axis (`prepare`), which checks what can
// only be checked against the axis (a window inside it, a uniform spacing)
// and precomputes what every spectrum shares; the plan is then run on any
// number of spectra, each one contiguous values on that axis, writing values
// on the plan's output axis and returning a PixelStatus. Steps serialise to
// and from JSON objects {"step": name, field: value, ...}.
//
//   steps::Crop crop(500.0, 700.0);
//   auto plan = crop.prepare(spectrum.axis());      // throws step_error
//   plan->run(in, out, state);                       // one spectrum
//
// Steps are composed into a steps::Recipe (recipe.hpp), which runs them on
// a Spectrum, a SpectrumImage over threads, or a caller's raw buffer.
//
// A step that needs a second spectrum per pixel (deconvolution by the
// low-loss or zero-loss recorded with each core-loss spectrum) names it,
// companion(); the caller passes that signal by name with the run
// (steps::Companions), the recipe plans the step for both axes
// (prepare_with_companion) and hands each pixel its companion spectrum
// through PixelState::companion().
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/core/status.hpp"
#include "corespec/grid/energy_axis.hpp"

namespace corespec::steps {

/// A step (or recipe) parameter is missing, malformed or out of range, or a
/// step cannot run on the axis it is given. Names the step (and its place in
/// a recipe, when known) and the field.
class step_error : public value_error {
public:
    step_error(std::string step, std::string field, const std::string& reason)
        : value_error(step + ": field '" + field + "': " + reason), step_(std::move(step)),
          field_(std::move(field)) {}

    /// e.g. "eels_background" or "recipe step 2 (eels_background)".
    const std::string& step() const noexcept { return step_; }
    const std::string& field() const noexcept { return field_; }

private:
    std::string step_;
    std::string field_;
};

/// What one spectrum carries from step to step: the edge energy once a step
/// has found it (NaN before), and the slots where steps report numbers.
struct PixelState {
    double e0 = std::numeric_limits<double>::quiet_NaN();
    double* reports = nullptr;  ///< this step's report slots (PreparedStep::report_names())

    /// This pixel's spectrum of the companion signal the step asked for
    /// (Step::companion(), e.g. its low-loss), on the companion axis given
    /// to Step::prepare_with_companion; empty for a step without one.
    template <class T>
    span<const T> companion() const noexcept {
        if constexpr (std::is_same<T, float>::value) return companion_f_;
        else return companion_d_;
    }
    void set_companion(span<const float> c) noexcept { companion_f_ = c; }
    void set_companion(span<const double> c) noexcept { companion_d_ = c; }

private:
    span<const float> companion_f_;
    span<const double> companion_d_;
};

/// A step planned for one input axis. Const and thread-safe: one plan runs
/// every pixel of an image from several threads.
class PreparedStep {
public:
    explicit PreparedStep(grid::EnergyAxis output_axis) : output_axis_(std::move(output_axis)) {}
    virtual ~PreparedStep() = default;
    PreparedStep(const PreparedStep&) = delete;
    PreparedStep& operator=(const PreparedStep&) = delete;

    const grid::EnergyAxis& output_axis() const noexcept { return output_axis_; }

    /// True when `run` may be given out.data() == in.data() (same size).
    virtual bool in_place() const noexcept { return false; }
    /// For a step that only selects channels [first, last) of its input
    /// (crop): the range; a runner may then pass a view instead of copying.
    virtual std::optional<std::pair<std::size_t, std::size_t>> channel_window() const noexcept { return {}; }
    /// Names of the numbers this step reports per spectrum (e.g. "e0").
    virtual std::vector<std::string> report_names() const { return {}; }

    /// Values `in` (on the input axis) -> `out` (on output_axis()). When the
    /// status is not ok, `out` is unspecified (a runner fills it with NaN).
    virtual PixelStatus run(span<const float> in, span<float> out, PixelState& state) const = 0;
    virtual PixelStatus run(span<const double> in, span<double> out, PixelState& state) const = 0;

private:
    grid::EnergyAxis output_axis_;
};

/// Implements both scalar overloads of PreparedStep::run with one template,
/// Derived::template go<T>(in, out, state).
template <class Derived>
class PreparedStepT : public PreparedStep {
public:
    using PreparedStep::PreparedStep;
    PixelStatus run(span<const float> in, span<float> out, PixelState& state) const final {
        return static_cast<const Derived*>(this)->go(in, out, state);
    }
    PixelStatus run(span<const double> in, span<double> out, PixelState& state) const final {
        return static_cast<const Derived*>(this)->go(in, out, state);
    }
};

/// Energies a recipe knows before it sees data (after a crop or a resample),
/// used to reject a step order that cannot work (a fit window outside the grid).
struct EnergyRange {
    double lo, hi;
};

/// The interface of every step.
class Step {
public:
    virtual ~Step() = default;

    /// The step's name in JSON ("pre_edge", "eels_background", ...).
    virtual std::string name() const = 0;
    /// {"step": name(), every field}.
    virtual nlohmann::json to_json() const = 0;
    virtual std::unique_ptr<Step> clone() const = 0;
    /// Plans the step for `input`. Throws step_error when the step cannot
    /// run on this axis (a window outside it, an explicit axis where a
    /// uniform one is needed).
    virtual std::unique_ptr<PreparedStep> prepare(const grid::EnergyAxis& input) const = 0;
    /// The energies after this step, given those before it (nullopt: not
    /// known until data arrives). Throws step_error when the step cannot
    /// work on `before` whatever the data.
    virtual std::optional<EnergyRange> check_range(std::optional<EnergyRange> before) const { return before; }
    /// True for a step that reports e0 (so that later steps may use it).
    virtual bool finds_e0() const noexcept { return false; }
    /// True for a step that needs e0 from an earlier step.
    virtual bool needs_e0() const noexcept { return false; }

    /// The name of the second signal this step needs beside each spectrum
    /// (deconvolution: "low_loss" or "zero_loss"), passed with the run
    /// (steps::Companions); empty for a step that needs none.
    virtual std::string companion() const { return {}; }
    /// Plans a step that has a companion(), given the companion's axis (a
    /// step without one ignores it). The plan's run then reads the pixel's
    /// companion spectrum from PixelState::companion().
    virtual std::unique_ptr<PreparedStep> prepare_with_companion(const grid::EnergyAxis& input,
                                                                 const grid::EnergyAxis& companion_axis) const {
        (void)companion_axis;
        return prepare(input);
    }
};

namespace detail {

/// Reads the fields of one step's JSON object, checking types and that no
/// unknown field is left (a typo must not be silently ignored).
class FieldReader {
public:
    FieldReader(const nlohmann::json& j, std::string step) : j_(j), step_(std::move(step)) {
        if (!j_.is_object()) throw step_error(step_, "step", "a step must be a JSON object");
        used_.insert("step");
    }

    double number(const std::string& f) {
        const auto& v = get(f);
        if (!v.is_number()) throw step_error(step_, f, "must be a number, got " + std::string(v.type_name()));
        return v.get<double>();
    }
    double number(const std::string& f, double fallback) { return has(f) ? number(f) : fallback; }
    std::optional<double> optional_number(const std::string& f) {
        if (!has(f) || j_.at(f).is_null()) {
            used_.insert(f);
            return std::nullopt;
        }
        return number(f);
    }
    int integer(const std::string& f, int fallback) {
        if (!has(f)) return fallback;
        const auto& v = get(f);
        if (!v.is_number_integer()) throw step_error(step_, f, "must be an integer, got " + v.dump());
        const auto x = v.get<long long>();
        if (x < -1000000 || x > 1000000) throw step_error(step_, f, "integer out of range: " + v.dump());
        return static_cast<int>(x);
    }
    std::optional<int> optional_integer(const std::string& f) {
        if (!has(f) || j_.at(f).is_null()) {
            used_.insert(f);
            return std::nullopt;
        }
        return integer(f, 0);
    }
    bool boolean(const std::string& f, bool fallback) {
        if (!has(f)) return fallback;
        const auto& v = get(f);
        if (!v.is_boolean()) throw step_error(step_, f, "must be true or false, got " + v.dump());
        return v.get<bool>();
    }
    std::string string(const std::string& f) {
        const auto& v = get(f);
        if (!v.is_string()) throw step_error(step_, f, "must be a string, got " + v.dump());
        return v.get<std::string>();
    }
    /// One of `choices`, returned as its index.
    std::size_t choice(const std::string& f, const std::vector<std::string>& choices, std::size_t fallback) {
        if (!has(f)) return fallback;
        const auto& v = get(f);
        if (v.is_string())
            for (std::size_t i = 0; i < choices.size(); ++i)
                if (v.get<std::string>() == choices[i]) return i;
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
        throw step_error(step_, f, "must be one of " + list + ", got " + v.dump());
    }
    bool has(const std::string& f) const { return j_.contains(f); }

    /// Throws for a field no one asked for.
    void finish() const {
        for (const auto& item : j_.items())
            if (!used_.count(item.key())) throw step_error(step_, item.key(), "unknown field");
    }

private:
    const nlohmann::json& get(const std::string& f) {
        used_.insert(f);
        if (!j_.contains(f)) throw step_error(step_, f, "missing");
        return j_.at(f);
    }

    const nlohmann::json& j_;
    std::string step_;
    std::set<std::string> used_;
};

/// Throws step_error(step, field, ...) unless v is finite.
inline void require_finite_field(const std::string& step, const std::string& field, double v) {
    if (!std::isfinite(v)) throw step_error(step, field, "must be finite, got " + std::to_string(v));
}

}  // namespace detail

}  // namespace corespec::steps

// corespec/steps/recipe.hpp - an ordered list of steps, saved as JSON, run
// the same way on one spectrum, a spectrum image over threads, or a caller's
// raw buffer.
//
//   auto recipe = steps::Recipe()
//                     .then(steps::PreEdgeStep())
//                     .then(steps::Resample(-20, 60, 0.5, steps::GridReference::e0));
//   std::vector<float> x = recipe.values<float>(io::read_spectrum<double>(path));  // model input
//   auto r = recipe.run(image, 2);          // r.image, r.report.status, r.report.column("pre_edge.e0")
//   std::string text = recipe.dump();       // {"format": "corespec.recipe", "version": 1, "steps": [...]}
//
// The recipe checks the order of its steps when each is added (or loaded):
// a step that needs e0 needs an earlier step that finds it, and a fit window
// or grid must lie inside the energies that an earlier crop or resample
// leaves. Errors are step_error naming "recipe step <i> (<name>)" and the
// field. Every spectrum runs through the same code (Pipeline::run_pixel), so
// an image gives bit for bit the results of its pixels run one at a time.
// A spectrum whose step fails gets NaN values, the step's PixelStatus and
// the index of that step; the other spectra are unaffected.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/core/parallel.hpp"
#include "corespec/core/span.hpp"
#include "corespec/core/status.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/steps/step.hpp"
#include "corespec/steps/steps.hpp"

namespace corespec::steps {

/// A caller's block of spectra, not owned: `pixels` spectra of `channels`
/// values; value i of pixel p at data[p * pixel_stride + i * channel_stride].
/// Contiguous pixel-major data has pixel_stride = channels, channel_stride = 1;
/// an energy-slowest cube has pixel_stride = 1, channel_stride = pixels.
template <class T>
struct Block {
    T* data = nullptr;
    std::size_t pixels = 0;
    std::size_t channels = 0;
    std::ptrdiff_t pixel_stride = 0;
    std::ptrdiff_t channel_stride = 1;

    /// pixels x channels, contiguous, channels fastest.
    static Block contiguous(T* data, std::size_t pixels, std::size_t channels) {
        return {data, pixels, channels, static_cast<std::ptrdiff_t>(channels), 1};
    }
    strided_span<T> pixel(std::size_t p) const noexcept {
        return strided_span<T>(data + static_cast<std::ptrdiff_t>(p) * pixel_stride, channels, channel_stride);
    }
};

/// Per-spectrum outcome of a recipe run: a status, the failing step (npos
/// when ok) and the numbers the steps report (pixels x names, NaN when a
/// step did not run or failed before reporting).
struct RecipeReport {
    static constexpr std::uint16_t npos = 0xFFFF;

    std::vector<PixelStatus> status;
    std::vector<std::uint16_t> failed_step;
    std::vector<std::string> names;  ///< "<step>.<number>", e.g. "pre_edge.e0"
    std::vector<double> values;      ///< pixel-major: values[p * names.size() + k]

    std::size_t pixels() const noexcept { return status.size(); }
    std::size_t failed() const noexcept { return pixels() - corespec::count(status, PixelStatus::ok); }
    std::size_t count(PixelStatus s) const noexcept { return corespec::count(status, s); }

    /// Index of a reported number; throws value_error naming the known ones.
    std::size_t index(const std::string& name) const {
        for (std::size_t k = 0; k < names.size(); ++k)
            if (names[k] == name) return k;
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        throw value_error("RecipeReport: no reported number \"" + name + "\" (reported: " + known + ")");
    }
    double value(std::size_t pixel, const std::string& name) const { return values[pixel * names.size() + index(name)]; }
    std::vector<double> column(const std::string& name) const {
        const std::size_t k = index(name);
        std::vector<double> c(pixels());
        for (std::size_t p = 0; p < c.size(); ++p) c[p] = values[p * names.size() + k];
        return c;
    }
};

/// A recipe planned for one input axis. Const and thread-safe.
class Pipeline {
public:
    const grid::EnergyAxis& input_axis() const noexcept { return input_; }
    const grid::EnergyAxis& output_axis() const noexcept { return plans_.empty() ? input_ : plans_.back()->output_axis(); }
    const std::vector<std::string>& report_names() const noexcept { return names_; }
    std::size_t step_count() const noexcept { return plans_.size(); }

    /// Per-thread buffers: two spectra of the largest size along the chain.
    template <class T>
    struct Scratch {
        std::vector<T> a, b;
    };
    template <class T>
    Scratch<T> scratch() const {
        return {std::vector<T>(max_size_), std::vector<T>(max_size_)};
    }

    /// Runs every step on one spectrum `in` (on input_axis()), writing
    /// output_axis().size() values to `out` (which may be in.data() when `in`
    /// is contiguous, for an in-place run) and report_names().size() numbers
    /// to `reports`. Returns the status and the failing step (npos when ok).
    template <class T>
    std::pair<PixelStatus, std::uint16_t> run_pixel(strided_span<const T> in, T* out, double* reports,
                                                    Scratch<T>& s) const {
        const std::size_t m = output_axis().size();
        std::fill(reports, reports + names_.size(), std::numeric_limits<double>::quiet_NaN());
        // cur: the values so far; buf: which buffer holds them (-1: the caller's input).
        const T* cur = in.data();
        std::size_t n = in.size();
        int buf = -1;
        if (!in.contiguous()) {
            for (std::size_t i = 0; i < n; ++i) s.a[i] = in[i];
            cur = s.a.data();
            buf = 0;
        }
        PixelState state;
        for (std::size_t k = 0; k < plans_.size(); ++k) {
            const PreparedStep& step = *plans_[k];
            if (const auto w = step.channel_window()) {  // a crop: narrow the view, no copy
                cur += w->first;
                n = w->second - w->first;
                continue;
            }
            const std::size_t size = step.output_axis().size();
            T* dst;
            if (k == last_writer_ && size == m && (!overlaps(out, m, cur, n) || (out == cur && step.in_place()))) {
                dst = out;
            } else if (buf >= 0 && step.in_place()) {
                dst = const_cast<T*>(cur);  // cur is in our own scratch
            } else {
                dst = buf == 0 ? s.b.data() : s.a.data();
            }
            state.reports = reports + offsets_[k];
            const PixelStatus st = step.run(span<const T>(cur, n), span<T>(dst, size), state);
            if (st != PixelStatus::ok) {
                std::fill(out, out + m, std::numeric_limits<T>::quiet_NaN());
                return {st, static_cast<std::uint16_t>(k)};
            }
            buf = dst == out ? -2 : dst == s.a.data() ? 0 : dst == s.b.data() ? 1 : buf;
            cur = dst;
            n = size;
        }
        if (cur != out) std::copy(cur, cur + m, out);  // the last steps were views (or there were none)
        return {PixelStatus::ok, RecipeReport::npos};
    }

private:
    friend class Recipe;

    template <class T>
    static bool overlaps(const T* a, std::size_t na, const T* b, std::size_t nb) noexcept {
        const std::less<const T*> lt;
        return lt(a, b + nb) && lt(b, a + na);
    }

    grid::EnergyAxis input_;
    std::vector<std::unique_ptr<PreparedStep>> plans_;
    std::vector<std::size_t> offsets_;  // first report slot of each step
    std::vector<std::string> names_;
    std::size_t max_size_ = 0;
    std::size_t last_writer_ = std::numeric_limits<std::size_t>::max();  // last step that is not a view

    explicit Pipeline(grid::EnergyAxis input) : input_(std::move(input)) {}
};

template <class T>
struct RecipeSpectrum {
    grid::Spectrum<T> spectrum;  ///< on the recipe's output axis; NaN when status is not ok
    RecipeReport report;         ///< one pixel
    PixelStatus status() const noexcept { return report.status[0]; }
};

template <class T>
struct RecipeImage {
    grid::SpectrumImage<T> image;  ///< on the recipe's output axis; failed pixels are NaN
    RecipeReport report;
};

class Recipe {
public:
    static constexpr const char* format_name = "corespec.recipe";
    static constexpr int format_version = 1;

    Recipe() = default;
    Recipe(const Recipe& o) { *this = o; }
    Recipe& operator=(const Recipe& o) {
        if (this != &o) {
            steps_.clear();
            for (const auto& s : o.steps_) steps_.push_back(s->clone());
            range_ = o.range_;
            has_e0_ = o.has_e0_;
        }
        return *this;
    }
    Recipe(Recipe&&) noexcept = default;
    Recipe& operator=(Recipe&&) noexcept = default;

    /// Appends a step after checking that it can follow the ones before.
    /// Throws step_error naming "recipe step <i> (<name>)" and the field.
    Recipe& then(const Step& step) {
        const std::string where = "recipe step " + std::to_string(steps_.size()) + " (" + step.name() + ")";
        if (steps_.size() + 1 >= RecipeReport::npos) throw step_error(where, "steps", "too many steps");
        if (step.needs_e0() && !has_e0_)
            throw step_error(where, "relative_to", "\"e0\" needs an earlier step that finds e0 (pre_edge)");
        try {
            range_ = step.check_range(range_);
        } catch (const step_error& e) {
            throw step_error(where, e.field(), strip(e));
        }
        has_e0_ = has_e0_ || step.finds_e0();
        steps_.push_back(step.clone());
        return *this;
    }

    std::size_t size() const noexcept { return steps_.size(); }
    const Step& step(std::size_t i) const { return *steps_.at(i); }

    nlohmann::json to_json() const {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& s : steps_) list.push_back(s->to_json());
        return {{"format", format_name}, {"version", format_version}, {"steps", std::move(list)}};
    }
    std::string dump(int indent = 2) const { return to_json().dump(indent); }

    /// Throws step_error (field "format", "version" or "steps" for the
    /// envelope; the step's place, name and field for a step).
    static Recipe from_json(const nlohmann::json& j) {
        if (!j.is_object()) throw step_error("recipe", "format", "a recipe must be a JSON object");
        if (!j.contains("format") || j.at("format") != format_name)
            throw step_error("recipe", "format", std::string("must be \"") + format_name + "\"");
        if (!j.contains("version") || !j.at("version").is_number_integer())
            throw step_error("recipe", "version", "missing or not an integer");
        if (j.at("version").get<long long>() != format_version)
            throw step_error("recipe", "version", "version " + j.at("version").dump() + " is not supported (this is " +
                                                      std::to_string(format_version) + ")");
        for (const auto& item : j.items())
            if (item.key() != "format" && item.key() != "version" && item.key() != "steps")
                throw step_error("recipe", item.key(), "unknown field");
        if (!j.contains("steps") || !j.at("steps").is_array()) throw step_error("recipe", "steps", "must be an array");
        Recipe r;
        const auto& list = j.at("steps");
        for (std::size_t i = 0; i < list.size(); ++i) {
            std::unique_ptr<Step> s;
            try {
                s = step_from_json(list[i]);
            } catch (const step_error& e) {
                const std::string name = list[i].is_object() && list[i].contains("step") && list[i]["step"].is_string()
                                             ? list[i]["step"].get<std::string>()
                                             : std::string("?");
                throw step_error("recipe step " + std::to_string(i) + " (" + name + ")", e.field(), strip(e));
            }
            r.then(*s);
        }
        return r;
    }
    /// From JSON text; malformed JSON is a parse_error.
    static Recipe parse(const std::string& text) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw parse_error("<recipe>", "JSON", e.what());
        }
        return from_json(j);
    }

    /// Same steps with the same parameters (compares the JSON forms).
    bool operator==(const Recipe& o) const { return to_json() == o.to_json(); }
    bool operator!=(const Recipe& o) const { return !(*this == o); }

    /// Plans every step for `input`. Throws step_error naming the step that
    /// cannot run on the axis it receives.
    Pipeline prepare(const grid::EnergyAxis& input) const {
        Pipeline p(input);
        grid::EnergyAxis axis = input;
        p.max_size_ = input.size();
        for (std::size_t k = 0; k < steps_.size(); ++k) {
            const Step& s = *steps_[k];
            try {
                p.plans_.push_back(s.prepare(axis));
            } catch (const step_error& e) {
                throw step_error("recipe step " + std::to_string(k) + " (" + s.name() + ")", e.field(), strip(e));
            }
            const PreparedStep& plan = *p.plans_.back();
            p.offsets_.push_back(p.names_.size());
            for (const auto& n : plan.report_names()) p.names_.push_back(unique_name(p.names_, s.name() + "." + n));
            axis = plan.output_axis();
            p.max_size_ = std::max(p.max_size_, axis.size());
            if (!plan.channel_window()) p.last_writer_ = k;
        }
        return p;
    }

    /// Runs on a caller's block; `out` receives pixels x output_axis().size()
    /// values, contiguous (it may be in.data() for an in-place run when the
    /// block is contiguous and the output has the input's size). No copy of
    /// the input is made (a non-unit channel stride is gathered one
    /// spectrum at a time). Spreads the pixels over `threads` threads.
    template <class T>
    RecipeReport run(const Pipeline& plan, Block<const T> in, span<T> out, unsigned threads = 1) const {
        static_assert(std::is_floating_point<T>::value, "corespec::steps::Recipe: run on float or double values");
        const std::size_t m = plan.output_axis().size(), r = plan.report_names().size();
        if (in.channels != plan.input_axis().size())
            throw shape_error("Recipe::run block channels", {plan.input_axis().size()}, {in.channels});
        if (out.size() != in.pixels * m) throw shape_error("Recipe::run output", {in.pixels, m}, {out.size()});
        RecipeReport rep{std::vector<PixelStatus>(in.pixels), std::vector<std::uint16_t>(in.pixels),
                         plan.report_names(), std::vector<double>(in.pixels * r)};
        parallel_ranges(in.pixels, threads, [&](std::size_t b, std::size_t e) {
            auto scratch = plan.template scratch<T>();
            for (std::size_t p = b; p < e; ++p) {
                const auto [st, k] = plan.run_pixel<T>(in.pixel(p), out.data() + p * m, rep.values.data() + p * r, scratch);
                rep.status[p] = st;
                rep.failed_step[p] = k;
            }
        });
        return rep;
    }
    template <class T>
    RecipeReport run(const grid::EnergyAxis& axis, Block<const T> in, span<T> out, unsigned threads = 1) const {
        return run(prepare(axis), in, out, threads);
    }

    /// One spectrum; the result keeps its metadata.
    template <class T>
    RecipeSpectrum<T> run(const grid::Spectrum<T>& s) const {
        const Pipeline plan = prepare(s.axis());
        grid::Spectrum<T> out(plan.output_axis(), s.metadata());
        auto rep = run(plan, Block<const T>::contiguous(s.values().data(), 1, s.size()), span<T>(out.values()));
        return {std::move(out), std::move(rep)};
    }

    /// Every pixel of an image, over `threads` threads, into a new image.
    template <class T>
    RecipeImage<T> run(const grid::SpectrumImage<T>& image, unsigned threads = 1) const {
        const Pipeline plan = prepare(image.axis());
        std::vector<std::size_t> shape(image.navigation_shape());
        shape.push_back(plan.output_axis().size());
        // Left uninitialised: every value is written, each thread first-touches its own part.
        grid::SpectrumImage<T> out(xt::xarray<T>::from_shape(shape), plan.output_axis(), image.metadata());
        auto rep = run(plan, Block<const T>::contiguous(image.data().data(), image.pixel_count(), image.channel_count()),
                       span<T>(out.data().data(), out.data().size()), threads);
        return {std::move(out), std::move(rep)};
    }

    /// The recipe's output for one spectrum as a vector of U (a model
    /// input). Throws value_error naming the failing step and status when
    /// the spectrum cannot be processed.
    template <class U, class T>
    std::vector<U> values(const grid::Spectrum<T>& s) const {
        const auto r = run(s);
        if (r.status() != PixelStatus::ok)
            throw value_error("Recipe: step " + std::to_string(r.report.failed_step[0]) + " (" +
                              step(r.report.failed_step[0]).name() + ") failed on this spectrum: " +
                              to_string(r.status()));
        return std::vector<U>(r.spectrum.values().begin(), r.spectrum.values().end());
    }

private:
    // The reason of a step_error without its "step: field 'f': " prefix.
    static std::string strip(const step_error& e) {
        const std::string w = e.what(), head = e.step() + ": field '" + e.field() + "': ";
        return w.compare(0, head.size(), head) == 0 ? w.substr(head.size()) : w;
    }
    static std::string unique_name(const std::vector<std::string>& names, const std::string& n) {
        std::string candidate = n;
        for (int i = 2; std::find(names.begin(), names.end(), candidate) != names.end(); ++i)
            candidate = n + "#" + std::to_string(i);
        return candidate;
    }

    std::vector<std::unique_ptr<Step>> steps_;
    std::optional<EnergyRange> range_;
    bool has_e0_ = false;
};

}  // namespace corespec::steps

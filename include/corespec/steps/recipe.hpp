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
// A step that needs a second spectrum per pixel (steps::Deconvolve: the
// low-loss of each core-loss pixel) gets it by name from the run:
//
//   auto r = recipe.run(core_loss, steps::Companions<float>().add("low_loss", low_loss), pool);
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
#include <map>
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

/// The axes of the companion signals a recipe is planned for, by name.
using CompanionAxes = std::map<std::string, grid::EnergyAxis>;

/// The companion signals of a run, by name (Step::companion()): for each, an
/// axis and either one spectrum per pixel of the data, in the same order, or
/// one spectrum shared by every pixel. Views: the caller's data must outlive
/// the run.
template <class T>
class Companions {
public:
    struct Signal {
        std::string name;
        grid::EnergyAxis axis;
        Block<const T> block;
    };

    /// One spectrum for every pixel (or for the one spectrum of a run).
    Companions& add(std::string name, const grid::Spectrum<T>& s) {
        return add(std::move(name), s.axis(), Block<const T>::contiguous(s.values().data(), 1, s.size()));
    }
    /// One spectrum per pixel, in navigation order.
    Companions& add(std::string name, const grid::SpectrumImage<T>& image) {
        return add(std::move(name), image.axis(),
                   Block<const T>::contiguous(image.data().data(), image.pixel_count(), image.channel_count()));
    }
    /// A caller's block of spectra on `axis`. Throws value_error for an
    /// empty or repeated name, shape_error when the channels differ from the axis.
    Companions& add(std::string name, grid::EnergyAxis axis, Block<const T> block) {
        if (name.empty()) throw value_error("Companions::add: a companion signal needs a name");
        if (find(name)) throw value_error("Companions::add: companion signal \"" + name + "\" given twice");
        if (block.channels != axis.size())
            throw shape_error("Companions::add \"" + name + "\" channels", {axis.size()}, {block.channels});
        if (block.pixels == 0 || !block.data)
            throw value_error("Companions::add: companion signal \"" + name + "\" holds no spectrum");
        signals_.push_back({std::move(name), std::move(axis), block});
        return *this;
    }

    const Signal* find(const std::string& name) const noexcept {
        for (const auto& s : signals_)
            if (s.name == name) return &s;
        return nullptr;
    }
    CompanionAxes axes() const {
        CompanionAxes a;
        for (const auto& s : signals_) a.emplace(s.name, s.axis);
        return a;
    }
    std::string names() const {
        std::string n;
        for (const auto& s : signals_) n += (n.empty() ? "\"" : ", \"") + s.name + "\"";
        return n.empty() ? "none" : n;
    }

private:
    std::vector<Signal> signals_;
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
    /// The companion signals the steps read (Step::companion()), in the
    /// order run_pixel takes their spectra.
    const std::vector<std::string>& companion_names() const noexcept { return companion_names_; }

    /// Per-thread buffers: two spectra of the largest size along the chain.
    template <class T>
    struct Scratch {
        std::vector<T> a, b;
        std::vector<std::vector<T>> companions;  // a gathered companion spectrum (non-unit channel stride)
        std::vector<span<const T>> companion;    // this pixel's companion spectra
    };
    template <class T>
    Scratch<T> scratch() const {
        return {std::vector<T>(max_size_), std::vector<T>(max_size_),
                std::vector<std::vector<T>>(companion_names_.size()),
                std::vector<span<const T>>(companion_names_.size())};
    }

    /// The companion signals of `c` in companion_names() order, checked
    /// against the axes this pipeline was planned for and against `pixels`
    /// (each signal: one spectrum per pixel, or one for all). Throws
    /// step_error naming the step and the signal.
    template <class T>
    std::vector<const typename Companions<T>::Signal*> bind(const Companions<T>& c, std::size_t pixels) const {
        std::vector<const typename Companions<T>::Signal*> out;
        for (std::size_t i = 0; i < companion_names_.size(); ++i) {
            const std::string& name = companion_names_[i];
            const std::string& where = companion_user_[i];
            const auto* sig = c.find(name);
            if (!sig)
                throw step_error(where, "companion", "needs the companion signal \"" + name + "\"; the run was given " +
                                                         c.names());
            const grid::EnergyAxis& a = companion_axes_[i];
            if (sig->axis.size() != a.size() || sig->axis.front() != a.front() || sig->axis.back() != a.back())
                throw step_error(where, "companion", "companion signal \"" + name +
                                                         "\" is not on the axis the recipe was prepared for");
            if (sig->block.pixels != pixels && sig->block.pixels != 1)
                throw step_error(where, "companion", "companion signal \"" + name + "\" has " +
                                                         std::to_string(sig->block.pixels) + " spectra for " +
                                                         std::to_string(pixels) + " pixels (give one per pixel, or one)");
            out.push_back(sig);
        }
        return out;
    }

    /// Points s.companion at pixel p's spectrum of each bound signal.
    template <class T>
    static void select_companions(const std::vector<const typename Companions<T>::Signal*>& bound, std::size_t p,
                                  Scratch<T>& s) {
        for (std::size_t i = 0; i < bound.size(); ++i) {
            const Block<const T>& b = bound[i]->block;
            const strided_span<const T> px = b.pixel(b.pixels == 1 ? 0 : p);
            if (px.contiguous()) {
                s.companion[i] = px.as_span();
            } else {
                s.companions[i].resize(px.size());
                for (std::size_t k = 0; k < px.size(); ++k) s.companions[i][k] = px[k];
                s.companion[i] = span<const T>(s.companions[i]);
            }
        }
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
            state.set_companion(step_companion_[k] >= 0 ? s.companion[static_cast<std::size_t>(step_companion_[k])]
                                                        : span<const T>());
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
    std::vector<int> step_companion_;            // per step: index into companion_names_, or -1
    std::vector<std::string> companion_names_;
    std::vector<grid::EnergyAxis> companion_axes_;
    std::vector<std::string> companion_user_;    // "recipe step <k> (<name>)": the first step reading each one

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

    /// Plans every step for `input` (and, for a step with a companion(),
    /// that signal's axis from `companions`). Throws step_error naming the
    /// step that cannot run on the axis it receives, or whose companion
    /// signal is not given.
    Pipeline prepare(const grid::EnergyAxis& input, const CompanionAxes& companions = {}) const {
        Pipeline p(input);
        grid::EnergyAxis axis = input;
        p.max_size_ = input.size();
        for (std::size_t k = 0; k < steps_.size(); ++k) {
            const Step& s = *steps_[k];
            const std::string where = "recipe step " + std::to_string(k) + " (" + s.name() + ")";
            const std::string cname = s.companion();
            try {
                if (cname.empty()) {
                    p.plans_.push_back(s.prepare(axis));
                    p.step_companion_.push_back(-1);
                } else {
                    const auto it = companions.find(cname);
                    if (it == companions.end()) {
                        std::string given;
                        for (const auto& c : companions) given += (given.empty() ? "\"" : ", \"") + c.first + "\"";
                        throw step_error(s.name(), "companion", "needs the companion signal \"" + cname +
                                                                     "\"; given: " + (given.empty() ? "none" : given));
                    }
                    p.plans_.push_back(s.prepare_with_companion(axis, it->second));
                    const auto at = std::find(p.companion_names_.begin(), p.companion_names_.end(), cname);
                    p.step_companion_.push_back(static_cast<int>(at - p.companion_names_.begin()));
                    if (at == p.companion_names_.end()) {
                        p.companion_names_.push_back(cname);
                        p.companion_axes_.push_back(it->second);
                        p.companion_user_.push_back(where);
                    }
                }
            } catch (const step_error& e) {
                throw step_error(where, e.field(), strip(e));
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

    /// The names of the companion signals the steps need (Step::companion()).
    std::vector<std::string> companion_names() const {
        std::vector<std::string> names;
        for (const auto& s : steps_) {
            const std::string c = s->companion();
            if (!c.empty() && std::find(names.begin(), names.end(), c) == names.end()) names.push_back(c);
        }
        return names;
    }

    /// Runs on a caller's block; `out` receives pixels x output_axis().size()
    /// values, contiguous (it may be in.data() for an in-place run when the
    /// block is contiguous and the output has the input's size). No copy of
    /// the input is made (a non-unit channel stride is gathered one
    /// spectrum at a time). Spreads the pixels over `threads` (a count or a
    /// caller's ThreadPool). `companions` holds the signals that steps with
    /// a companion() read, on the axes `plan` was prepared for.
    template <class T>
    RecipeReport run(const Pipeline& plan, Block<const T> in, const Companions<T>& companions, span<T> out,
                     Threads threads = {}) const {
        static_assert(std::is_floating_point<T>::value, "corespec::steps::Recipe: run on float or double values");
        const std::size_t m = plan.output_axis().size(), r = plan.report_names().size();
        if (in.channels != plan.input_axis().size())
            throw shape_error("Recipe::run block channels", {plan.input_axis().size()}, {in.channels});
        if (out.size() != in.pixels * m) throw shape_error("Recipe::run output", {in.pixels, m}, {out.size()});
        const auto bound = plan.bind(companions, in.pixels);
        RecipeReport rep{std::vector<PixelStatus>(in.pixels), std::vector<std::uint16_t>(in.pixels),
                         plan.report_names(), std::vector<double>(in.pixels * r)};
        threads.ranges(in.pixels, [&](std::size_t b, std::size_t e) {
            auto scratch = plan.template scratch<T>();
            for (std::size_t p = b; p < e; ++p) {
                Pipeline::select_companions(bound, p, scratch);
                const auto [st, k] = plan.run_pixel<T>(in.pixel(p), out.data() + p * m, rep.values.data() + p * r, scratch);
                rep.status[p] = st;
                rep.failed_step[p] = k;
            }
        });
        return rep;
    }
    template <class T>
    RecipeReport run(const Pipeline& plan, Block<const T> in, span<T> out, Threads threads = {}) const {
        return run(plan, in, Companions<T>(), out, threads);
    }
    template <class T>
    RecipeReport run(const grid::EnergyAxis& axis, Block<const T> in, span<T> out, Threads threads = {}) const {
        return run(prepare(axis), in, out, threads);
    }
    template <class T>
    RecipeReport run(const grid::EnergyAxis& axis, Block<const T> in, const Companions<T>& companions, span<T> out,
                     Threads threads = {}) const {
        return run(prepare(axis, companions.axes()), in, companions, out, threads);
    }

    /// One spectrum; the result keeps its metadata.
    template <class T>
    RecipeSpectrum<T> run(const grid::Spectrum<T>& s, const Companions<T>& companions = {}) const {
        const Pipeline plan = prepare(s.axis(), companions.axes());
        grid::Spectrum<T> out(plan.output_axis(), s.metadata());
        auto rep = run(plan, Block<const T>::contiguous(s.values().data(), 1, s.size()), companions,
                       span<T>(out.values()));
        return {std::move(out), std::move(rep)};
    }

    /// Every pixel of an image, over `threads` (a count or a caller's
    /// ThreadPool), into a new image.
    template <class T>
    RecipeImage<T> run(const grid::SpectrumImage<T>& image, Threads threads = {}) const {
        return run(image, Companions<T>(), threads);
    }
    /// The same, with the companion signals that steps with a companion() read.
    template <class T>
    RecipeImage<T> run(const grid::SpectrumImage<T>& image, const Companions<T>& companions, Threads threads = {}) const {
        const Pipeline plan = prepare(image.axis(), companions.axes());
        std::vector<std::size_t> shape(image.navigation_shape());
        shape.push_back(plan.output_axis().size());
        // Left uninitialised: every value is written, each thread first-touches its own part.
        grid::SpectrumImage<T> out(xt::xarray<T>::from_shape(shape), plan.output_axis(), image.metadata());
        auto rep = run(plan, Block<const T>::contiguous(image.data().data(), image.pixel_count(), image.channel_count()),
                       companions, span<T>(out.data().data(), out.data().size()), threads);
        return {std::move(out), std::move(rep)};
    }

    /// The recipe's output for one spectrum as a vector of U (a model
    /// input). Throws value_error naming the failing step and status when
    /// the spectrum cannot be processed.
    template <class U, class T>
    std::vector<U> values(const grid::Spectrum<T>& s, const Companions<T>& companions = {}) const {
        const auto r = run(s, companions);
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

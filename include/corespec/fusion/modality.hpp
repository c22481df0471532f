// corespec/fusion/modality.hpp - one input edge of a multimodal model, and
// the fusion of a sample's raw spectra into one feature vector.
//
//   fusion::Modality ni_l("Ni_L23", "Ni", "L23", grid::Technique::eels,
//                         fusion::grid_window(853.1, 880.1, 0.2));    // study 1's Ni L grid
//   std::map<std::string, grid::Spectrum<double>> raw{{"Ni_L23", eels}, {"O_K", o_k}};
//   auto fused = fusion::fuse({o_k_modality, ni_l}, raw);  // values, present, layout
//
// A modality says which edge it is (element, edge, technique), the energy
// grid its spectra are resampled onto (a window and a step), and how each
// resampled spectrum is normalised: min-max (study 1), area, or
// standardisation per energy bin with statistics fitted on training data and
// stored with the modality. Raw spectra may lie on any axis (uniform or
// explicit) that covers the grid.
//
// A modality may carry a preprocessing recipe (steps::Recipe, issue 12:
// background removal, edge normalisation, alignment) in its JSON form; it
// runs on the raw spectrum before the grid, so a model file that stores its
// modalities repeats exactly the preprocessing used in training.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/fusion/feature_layout.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"
#include "corespec/grid/resample.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/steps/recipe.hpp"

namespace corespec::fusion {

/// How a modality's resampled spectrum is scaled.
enum class Normalisation {
    none,        ///< as resampled
    min_max,     ///< (v - min) / (max - min) over the grid (study 1)
    area,        ///< v / (trapezoid integral over the grid, eV)
    standardise  ///< (v - mean_i) / sd_i per bin, statistics fitted on training spectra
};

inline const char* to_string(Normalisation n) noexcept {
    switch (n) {
        case Normalisation::none: return "none";
        case Normalisation::min_max: return "min_max";
        case Normalisation::area: return "area";
        case Normalisation::standardise: return "standardise";
    }
    return "none";
}

/// The normalisation called `name`; throws value_error for an unknown name.
inline Normalisation normalisation_from_string(const std::string& name) {
    for (Normalisation n : {Normalisation::none, Normalisation::min_max, Normalisation::area, Normalisation::standardise})
        if (name == to_string(n)) return n;
    throw value_error("fusion: unknown normalisation '" + name + "' (none, min_max, area, standardise)");
}

/// The uniform grid [first, last] at `step` eV (the number of points is
/// rounded; throws value_error when the window is not a whole number of steps
/// within 1e-6 of a step).
inline grid::UniformAxis grid_window(double first, double last, double step) {
    if (!(step > 0.0) || !(last > first) || !std::isfinite(first) || !std::isfinite(last))
        throw value_error("fusion::grid_window: need finite first < last and step > 0");
    const double intervals = (last - first) / step;
    const double rounded = std::round(intervals);
    if (std::abs(intervals - rounded) > 1e-6)
        throw value_error("fusion::grid_window: [" + std::to_string(first) + ", " + std::to_string(last) +
                          "] is not a whole number of " + std::to_string(step) + " eV steps");
    return grid::UniformAxis(first, step, static_cast<std::size_t>(rounded) + 1);
}

namespace detail {

inline const char* method_name(grid::Method m) noexcept {
    return m == grid::Method::pchip ? "pchip" : m == grid::Method::rebin ? "rebin" : "linear";
}

inline grid::Method method_from_name(const std::string& s) {
    if (s == "linear") return grid::Method::linear;
    if (s == "pchip") return grid::Method::pchip;
    if (s == "rebin") return grid::Method::rebin;
    throw value_error("fusion: unknown resampling method '" + s + "' (linear, pchip, rebin)");
}

inline grid::Technique technique_from_name(const std::string& s) {
    if (s == "XAS") return grid::Technique::xas;
    if (s == "EELS") return grid::Technique::eels;
    if (s == "unknown") return grid::Technique::unknown;
    throw value_error("fusion: unknown technique '" + s + "' (XAS, EELS, unknown)");
}

}  // namespace detail

/// One input edge: identity, grid, resampling and normalisation.
struct Modality {
    std::string name;     ///< unique within a model, e.g. "Ni_L23"; also the manifest column
    std::string element;  ///< "Ni" (checked against a spectrum's metadata when both are set)
    std::string edge;     ///< "K", "L23", ...
    grid::Technique technique = grid::Technique::unknown;
    grid::UniformAxis energy_grid;  ///< the window and step the spectra are resampled onto
    grid::Method method = grid::Method::linear;  ///< resampling onto the grid
    Normalisation normalisation = Normalisation::min_max;
    std::vector<double> mean, sd;  ///< per-bin statistics for Normalisation::standardise
    /// The preprocessing recipe run on the raw spectrum before the grid
    /// (steps::Recipe::to_json()); null means none. Set it with set_recipe.
    nlohmann::json recipe = nullptr;

    Modality(std::string name_, std::string element_, std::string edge_, grid::Technique technique_,
             grid::UniformAxis grid_, Normalisation normalisation_ = Normalisation::min_max)
        : name(std::move(name_)), element(std::move(element_)), edge(std::move(edge_)), technique(technique_),
          energy_grid(std::move(grid_)), normalisation(normalisation_) {
        if (name.empty()) throw value_error("fusion::Modality: a modality needs a name");
    }

    std::size_t size() const noexcept { return energy_grid.size(); }

    /// Stores the recipe's JSON form (checked when it was built).
    Modality& set_recipe(const steps::Recipe& r) {
        recipe = r.to_json();
        return *this;
    }

    /// The recipe run on `s` (the spectrum itself without one). Throws
    /// value_error naming the modality and the failing step.
    grid::Spectrum<double> preprocess(const grid::Spectrum<double>& s) const {
        if (recipe.is_null()) return s;
        const steps::Recipe r = steps::Recipe::from_json(recipe);
        auto out = r.run(s);
        if (out.status() != PixelStatus::ok)
            throw value_error("fusion::Modality '" + name + "': recipe step " + std::to_string(out.report.failed_step[0]) + " (" +
                              r.step(out.report.failed_step[0]).name() + ") failed: " + to_string(out.status()));
        return std::move(out.spectrum);
    }

    /// The spectrum resampled onto the grid. Throws value_error when its
    /// metadata names another element, edge or technique, and range_error
    /// (naming the modality and both ranges) when its axis does not cover the grid.
    std::vector<double> resample(const grid::Spectrum<double>& s) const {
        const grid::Metadata& m = s.metadata();
        if (!m.element.empty() && !element.empty() && m.element != element)
            throw value_error("fusion::Modality '" + name + "': spectrum of element " + m.element + ", expected " + element);
        if (!m.edge.empty() && !edge.empty() && m.edge != edge)
            throw value_error("fusion::Modality '" + name + "': spectrum of edge " + m.edge + ", expected " + edge);
        if (m.technique != grid::Technique::unknown && technique != grid::Technique::unknown && m.technique != technique)
            throw value_error("fusion::Modality '" + name + "': " + grid::to_string(m.technique) + " spectrum, expected " +
                              grid::to_string(technique));
        std::vector<double> out(energy_grid.size());
        try {
            const grid::Resampler plan(s.axis(), grid::EnergyAxis(energy_grid), {method, grid::OutOfRange::error});
            plan.apply(span<const double>(s.values()), span<double>(out));
        } catch (const range_error&) {
            throw range_error("fusion::Modality '" + name + "': the spectrum covers [" + std::to_string(s.axis().front()) +
                              ", " + std::to_string(s.axis().back()) + "] eV, the grid needs [" +
                              std::to_string(energy_grid.front()) + ", " + std::to_string(energy_grid.back()) + "] eV" +
                              (m.source.empty() ? std::string() : " (" + m.source + ")"));
        } catch (const value_error& e) {
            throw value_error("fusion::Modality '" + name + "': " + e.what());
        }
        return out;
    }

    /// Normalises values on the grid in place. Throws value_error for a flat
    /// spectrum (min-max), a non-positive area, or standardisation without
    /// fitted statistics of the grid's size.
    void normalise(span<double> v) const {
        if (v.size() != energy_grid.size()) throw shape_error("fusion::Modality '" + name + "' normalise", {energy_grid.size()}, {v.size()});
        switch (normalisation) {
            case Normalisation::none: return;
            case Normalisation::min_max: {
                const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
                const double a = *lo, range = *hi - *lo;
                if (!(range > 0.0)) throw value_error("fusion::Modality '" + name + "': flat spectrum, min-max undefined");
                for (double& x : v) x = (x - a) / range;
                return;
            }
            case Normalisation::area: {
                double area = 0.0;
                for (std::size_t i = 0; i + 1 < v.size(); ++i) area += 0.5 * (v[i] + v[i + 1]) * energy_grid.scale();
                if (!(area > 0.0)) throw value_error("fusion::Modality '" + name + "': area " + std::to_string(area) + " is not positive");
                for (double& x : v) x /= area;
                return;
            }
            case Normalisation::standardise: {
                if (mean.size() != v.size() || sd.size() != v.size())
                    throw value_error("fusion::Modality '" + name + "': standardisation statistics not fitted for " +
                                      std::to_string(v.size()) + " bins (call fit_standardisation)");
                for (std::size_t i = 0; i < v.size(); ++i) v[i] = (v[i] - mean[i]) / sd[i];
                return;
            }
        }
    }

    /// preprocess (the recipe), resample, normalise: the modality's part of a fused input.
    std::vector<double> features(const grid::Spectrum<double>& s) const {
        auto v = resample(recipe.is_null() ? s : preprocess(s));
        normalise(span<double>(v));
        return v;
    }

    /// Fits the per-bin mean and standard deviation (population, as
    /// scikit-learn's StandardScaler; a zero deviation becomes 1) on
    /// training spectra already resampled onto the grid.
    void fit_standardisation(const std::vector<std::vector<double>>& resampled) {
        if (resampled.empty()) throw value_error("fusion::Modality '" + name + "': no spectra to fit the statistics on");
        const std::size_t n = energy_grid.size();
        std::vector<double> m(n, 0.0), s(n, 0.0);
        for (const auto& r : resampled) {
            if (r.size() != n) throw shape_error("fusion::Modality '" + name + "' fit_standardisation", {n}, {r.size()});
            for (std::size_t i = 0; i < n; ++i) m[i] += r[i];
        }
        for (double& x : m) x /= static_cast<double>(resampled.size());
        for (const auto& r : resampled)
            for (std::size_t i = 0; i < n; ++i) s[i] += (r[i] - m[i]) * (r[i] - m[i]);
        for (double& x : s) {
            x = std::sqrt(x / static_cast<double>(resampled.size()));
            if (!(x > 0.0)) x = 1.0;
        }
        mean = std::move(m), sd = std::move(s);
    }

    nlohmann::json to_json() const {
        nlohmann::json j{{"name", name},
                         {"element", element},
                         {"edge", edge},
                         {"technique", grid::to_string(technique)},
                         {"grid", {{"first_eV", energy_grid.front()}, {"step_eV", energy_grid.scale()}, {"size", energy_grid.size()}}},
                         {"resample", detail::method_name(method)},
                         {"normalisation", to_string(normalisation)},
                         {"recipe", recipe}};
        if (normalisation == Normalisation::standardise) j["statistics"] = {{"mean", mean}, {"sd", sd}};
        return j;
    }

    /// The JSON form of to_json(); throws parse_error (source `source`,
    /// location the key) when a key is missing or holds a bad value.
    static Modality from_json(const nlohmann::json& j, const std::string& source = "<memory>") {
        std::string key = "modality";
        try {
            key = "name";
            const std::string nm = j.at("name").get<std::string>();
            key = "technique";
            const grid::Technique t = detail::technique_from_name(j.at("technique").get<std::string>());
            key = "grid";
            const auto& g = j.at("grid");
            const auto size = g.at("size").get<std::size_t>();
            Modality m(nm, j.at("element").get<std::string>(), j.at("edge").get<std::string>(), t,
                       grid::UniformAxis(g.at("first_eV").get<double>(), g.at("step_eV").get<double>(), size));
            key = "resample";
            m.method = detail::method_from_name(j.value("resample", std::string("linear")));
            key = "normalisation";
            m.normalisation = normalisation_from_string(j.at("normalisation").get<std::string>());
            key = "statistics";
            if (m.normalisation == Normalisation::standardise && j.contains("statistics")) {
                m.mean = j["statistics"].at("mean").get<std::vector<double>>();
                m.sd = j["statistics"].at("sd").get<std::vector<double>>();
                if (m.mean.size() != size || m.sd.size() != size)
                    throw value_error("statistics of " + std::to_string(m.mean.size()) + " / " + std::to_string(m.sd.size()) +
                                      " bins for a grid of " + std::to_string(size));
                for (double s : m.sd)
                    if (!(s > 0.0) || !std::isfinite(s)) throw value_error("standard deviations must be finite and > 0");
            }
            key = "recipe";
            m.recipe = j.value("recipe", nlohmann::json(nullptr));
            if (!m.recipe.is_null()) (void)steps::Recipe::from_json(m.recipe);  // a bad recipe fails here, not per spectrum
            return m;
        } catch (const steps::step_error& e) {
            throw parse_error(source, key, e.what());
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(source, key, e.what());
        } catch (const value_error& e) {
            throw parse_error(source, key, e.what());
        }
    }
};

/// The layout of the modalities' grids concatenated in order.
inline FeatureLayout layout_of(const std::vector<Modality>& modalities) {
    FeatureLayout layout;
    for (const Modality& m : modalities) layout.add(m.name, grid::EnergyAxis(m.energy_grid));
    return layout;
}

/// A fused input: every modality's features in layout order, zeros where
/// a modality is missing, and present[k] = 1 when modality k was given.
struct FusedFeatures {
    std::vector<double> values;
    std::vector<unsigned char> present;
    FeatureLayout layout;

    /// 1 for each feature of a present modality (a mask over `values`).
    std::vector<unsigned char> feature_mask() const {
        std::vector<unsigned char> mask(values.size(), 0);
        for (std::size_t k = 0; k < layout.modality_count(); ++k)
            if (present[k]) std::fill(mask.begin() + static_cast<std::ptrdiff_t>(layout[k].offset),
                                      mask.begin() + static_cast<std::ptrdiff_t>(layout[k].end()), 1);
        return mask;
    }
};

/// Fuses a sample's raw spectra, keyed by modality name (any subset; names
/// that are not modalities are ignored), into one feature vector. Throws
/// what Modality::features throws for a spectrum that does not fit, and
/// value_error when no modality is present.
inline FusedFeatures fuse(const std::vector<Modality>& modalities, const std::map<std::string, grid::Spectrum<double>>& spectra) {
    FusedFeatures f;
    f.layout = layout_of(modalities);
    f.values.assign(f.layout.size(), 0.0);
    f.present.assign(modalities.size(), 0);
    for (std::size_t k = 0; k < modalities.size(); ++k) {
        const auto it = spectra.find(modalities[k].name);
        if (it == spectra.end()) continue;
        const auto v = modalities[k].features(it->second);
        std::copy(v.begin(), v.end(), f.values.begin() + static_cast<std::ptrdiff_t>(f.layout[k].offset));
        f.present[k] = 1;
    }
    if (std::find(f.present.begin(), f.present.end(), 1) == f.present.end())
        throw value_error("fusion::fuse: none of the " + std::to_string(modalities.size()) + " modalities is present");
    return f;
}

/// A list of modalities as JSON ({"modalities": [...]}) and back.
inline nlohmann::json modalities_to_json(const std::vector<Modality>& modalities) {
    nlohmann::json list = nlohmann::json::array();
    for (const Modality& m : modalities) list.push_back(m.to_json());
    return {{"format", "corespec.modalities"}, {"version", 1}, {"modalities", list}};
}

inline std::vector<Modality> modalities_from_json(const nlohmann::json& j, const std::string& source = "<memory>") {
    if (!j.is_object() || j.value("format", std::string()) != "corespec.modalities")
        throw parse_error(source, "format", "not a corespec.modalities document");
    if (!j.contains("modalities") || !j["modalities"].is_array()) throw parse_error(source, "modalities", "missing array");
    std::vector<Modality> out;
    for (std::size_t i = 0; i < j["modalities"].size(); ++i)
        out.push_back(Modality::from_json(j["modalities"][i], source + ": modalities[" + std::to_string(i) + "]"));
    try {
        layout_of(out);  // names must be unique
    } catch (const value_error& e) {
        throw parse_error(source, "modalities", e.what());
    }
    return out;
}

}  // namespace corespec::fusion

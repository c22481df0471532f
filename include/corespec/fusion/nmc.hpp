// corespec/fusion/nmc.hpp - the NMC study's inputs: its targets, the
// synthetic default set (corespec::synth) and the FEFF NMC manifest, each
// with its modalities (grids, recipes). Shared by examples/nmc_demo and
// examples/nmc_features, so the scikit-learn baseline sees exactly the
// features the demo's models see.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/fusion/dataset.hpp"
#include "corespec/fusion/manifest.hpp"
#include "corespec/fusion/modality.hpp"
#include "corespec/steps/recipe.hpp"
#include "corespec/synth/nmc.hpp"

namespace corespec::fusion::nmc {

/// The targets, in the manifest's names: element fractions, then the flags.
inline const std::vector<std::string>& target_names() {
    static const std::vector<std::string> names{"frac_Li", "frac_Ni", "frac_Mn", "frac_Co", "o_vacancy_present",
                                                "antisite_present"};
    return names;
}

inline std::vector<Target> targets() {
    std::vector<Target> t;
    for (const auto& n : target_names())
        t.push_back({n, n.find("_present") != std::string::npos ? TargetKind::binary : TargetKind::regression});
    return t;
}

/// The seven synthetic edges on their default grids, min-max normalised;
/// the XAS K edges first go through a pre-edge / post-edge normalisation
/// recipe (their raw mu has an offset, a slope and an edge step that vary
/// from sample to sample, as a measurement's).
inline std::vector<Modality> synthetic_modalities() {
    std::vector<Modality> m;
    for (const auto& e : synth::nmc_edges) {
        m.emplace_back(e.name, e.element, e.edge, e.technique, synth::nmc_default_grid(e.id));
        if (e.technique == grid::Technique::xas) m.back().set_recipe(steps::Recipe().then(steps::PreEdgeStep()));
    }
    return m;
}

/// Memory one synthetic sample takes while a set is held with its fused
/// features (raw values and explicit energies, features in double and the
/// network's float copy, bookkeeping): a bound for --samples options.
inline double synthetic_sample_bytes() {
    double b = 4096;
    for (const auto& e : synth::nmc_edges) b += 16.0 * static_cast<double>(synth::nmc_raw_axis(e.id).size());
    for (const auto& m : synthetic_modalities()) b += 12.0 * static_cast<double>(m.size());
    return b;
}

/// Samples [first, first + count) of the synthetic set drawn with `seed`,
/// each structure its own group. `progress(i)` after each sample (optional).
template <class Progress = void (*)(std::size_t)>
Dataset synthetic_set(std::size_t count, std::uint64_t seed, std::size_t first = 0, Progress progress = nullptr,
                      const synth::NmcOptions& options = {}) {
    Dataset d(targets());
    for (std::size_t i = first; i < first + count; ++i) {
        const auto s = synth::nmc_sample(seed, i, options);
        Sample sample{s.id, s.id, {}, {}};
        for (std::size_t k = 0; k < s.spectra.size(); ++k) sample.spectra.emplace(synth::nmc_edges[k].name, s.spectra[k]);
        const auto labels = synth::nmc_labels(s.structure);
        for (const auto& name : target_names())
            for (const auto& [label, value] : labels)
                if (label == name) sample.targets.push_back(value);
        d.add(std::move(sample));
        if constexpr (!std::is_same_v<Progress, void (*)(std::size_t)>) progress(i - first);
    }
    return d;
}

/// The FEFF NMC set's four K edges (../shared/data/sim/feff_nmc): grids of
/// [-5, +45] eV at 0.2 eV about the tabulated edge energies; onset windows
/// [E_F - 6, E_F + 8] eV about the set's mean FEFF Fermi level (its README)
/// for the one-shift-per-edge calibration.
struct FeffEdge {
    const char* name;
    const char* element;
    double literature, fermi;
};
inline const std::vector<FeffEdge>& feff_edges() {
    static const std::vector<FeffEdge> e{{"O_K", "O", 532.0, 534.1},
                                         {"Mn_K", "Mn", 6539.0, 6543.9},
                                         {"Co_K", "Co", 7709.0, 7715.3},
                                         {"Ni_K", "Ni", 8333.0, 8338.2}};
    return e;
}

/// `norm`: min-max for the features file (the scikit-learn baseline
/// standardises them itself); the demo's models standardise per bin with
/// statistics fitted on each training fold (a set of ~100 spectra whose
/// differences are small next to their shared edge shape).
inline std::vector<Modality> feff_modalities(Normalisation norm = Normalisation::min_max) {
    std::vector<Modality> m;
    for (const FeffEdge& e : feff_edges())
        m.emplace_back(e.name, e.element, "K", grid::Technique::xas, grid_window(e.literature - 5.0, e.literature + 45.0, 0.2), norm);
    return m;
}

inline std::vector<EdgeReference> feff_references() {
    std::vector<EdgeReference> refs;
    for (const FeffEdge& e : feff_edges()) refs.push_back({e.name, e.literature, e.fermi - 6.0, e.fermi + 8.0});
    return refs;
}

/// A manifest of the FEFF layout (not yet calibrated).
inline Dataset read_feff_manifest(const std::string& path) {
    ManifestOptions o;
    o.modalities = feff_modalities();
    o.targets = targets();
    return read_manifest(path, o);
}

}  // namespace corespec::fusion::nmc

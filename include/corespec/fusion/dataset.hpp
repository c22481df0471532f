// corespec/fusion/dataset.hpp - samples of raw multimodal spectra with
// targets, group-aware splits, per-edge calibration of a simulated set, and
// seeded augmentation.
//
//   fusion::Dataset d({{"frac_Ni"}, {"o_vacancy_present", fusion::TargetKind::binary}});
//   d.add({"nmc0001", "structure-17", {{"Ni_K", ni_k}, {"O_K", o_k}}, {0.18, 1.0}});
//   auto folds = fusion::group_kfold(d, 5, /*seed*/ 1);     // no group in two folds
//   auto x = d.features(modalities);                        // rows of fused features
//   auto noisy = fusion::augment(d[0], aug, /*seed*/ 9);    // Poisson, Gaussian, jitter, broadening
//
// Samples hold any subset of modalities, each spectrum on its own raw axis;
// a manifest (corespec/fusion/manifest.hpp) fills a Dataset from files.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "corespec/align/calibration.hpp"
#include "corespec/core/error.hpp"
#include "corespec/fusion/feature_layout.hpp"
#include "corespec/fusion/modality.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/prep/broadening.hpp"
#include "corespec/synth/random.hpp"

namespace corespec::fusion {

enum class TargetKind { regression, binary };

/// A target: its name (the manifest column) and kind (binary: 0 / 1).
struct Target {
    std::string name;
    TargetKind kind = TargetKind::regression;
};

/// One sample: raw spectra by modality name, and one value per target of
/// its dataset (in the dataset's target order).
struct Sample {
    std::string id;
    std::string group;  ///< e.g. the parent structure; splits never separate a group
    std::map<std::string, grid::Spectrum<double>> spectra;
    std::vector<double> targets;
};

/// Fused features of many samples: row r is values[r * layout.size() ...].
struct FeatureMatrix {
    std::size_t rows = 0;
    std::vector<double> values;
    std::vector<unsigned char> present;  ///< rows x modalities
    FeatureLayout layout;
    std::size_t columns() const noexcept { return layout.size(); }
    const double* row(std::size_t r) const noexcept { return values.data() + r * layout.size(); }
};

class Dataset {
public:
    explicit Dataset(std::vector<Target> targets = {}) : targets_(std::move(targets)) {
        std::set<std::string> names;
        for (const Target& t : targets_)
            if (t.name.empty() || !names.insert(t.name).second)
                throw value_error("fusion::Dataset: target names must be non-empty and unique ('" + t.name + "')");
    }

    /// Adds a sample. Throws value_error for an empty or repeated id, an
    /// empty group (use the id when samples are independent), a target count
    /// that differs from the dataset's, a non-finite target, or a binary
    /// target other than 0 / 1.
    void add(Sample s) {
        if (s.id.empty()) throw value_error("fusion::Dataset: a sample needs an id");
        if (s.group.empty()) throw value_error("fusion::Dataset: sample '" + s.id + "' has no group");
        if (!ids_.insert(s.id).second) throw value_error("fusion::Dataset: sample id '" + s.id + "' added twice");
        if (s.targets.size() != targets_.size()) {
            ids_.erase(s.id);
            throw value_error("fusion::Dataset: sample '" + s.id + "' has " + std::to_string(s.targets.size()) +
                              " targets, the dataset " + std::to_string(targets_.size()));
        }
        for (std::size_t t = 0; t < targets_.size(); ++t) {
            const double v = s.targets[t];
            const bool ok = targets_[t].kind == TargetKind::binary ? (v == 0.0 || v == 1.0) : std::isfinite(v);
            if (!ok) {
                ids_.erase(s.id);
                throw value_error("fusion::Dataset: sample '" + s.id + "', target '" + targets_[t].name + "': " +
                                  std::to_string(v) + (targets_[t].kind == TargetKind::binary ? " is not 0 or 1" : " is not finite"));
            }
        }
        samples_.push_back(std::move(s));
    }

    std::size_t size() const noexcept { return samples_.size(); }
    bool empty() const noexcept { return samples_.empty(); }
    const Sample& operator[](std::size_t i) const { return samples_.at(i); }
    const std::vector<Sample>& samples() const noexcept { return samples_; }
    const std::vector<Target>& targets() const noexcept { return targets_; }

    /// Index of the target called `name`; throws value_error if none.
    std::size_t target_index(const std::string& name) const {
        for (std::size_t t = 0; t < targets_.size(); ++t)
            if (targets_[t].name == name) return t;
        throw value_error("fusion::Dataset: no target '" + name + "'");
    }

    /// The distinct groups in order of first appearance.
    std::vector<std::string> groups() const {
        std::vector<std::string> out;
        std::set<std::string> seen;
        for (const Sample& s : samples_)
            if (seen.insert(s.group).second) out.push_back(s.group);
        return out;
    }

    /// The samples at `indices` (in that order) as a new dataset.
    Dataset subset(const std::vector<std::size_t>& indices) const {
        Dataset d(targets_);
        for (std::size_t i : indices) d.add(samples_.at(i));
        return d;
    }

    /// Moves every spectrum by the table's shift for its metadata element
    /// and edge and `code` (one shift per edge for the whole set, so chemical
    /// shifts survive). Throws range_error when the table lacks a key.
    void apply_edge_shifts(const align::EdgeShiftTable& table, const std::string& code) {
        for (Sample& s : samples_)
            for (auto& [name, spectrum] : s.spectra) spectrum = table.apply(spectrum, code);
    }

    /// Every sample fused (see fusion::fuse): one row each.
    FeatureMatrix features(const std::vector<Modality>& modalities) const {
        FeatureMatrix m;
        m.layout = layout_of(modalities);
        m.rows = samples_.size();
        m.values.reserve(m.rows * m.layout.size());
        for (const Sample& s : samples_) {
            FusedFeatures f;
            try {
                f = fuse(modalities, s.spectra);
            } catch (const error& e) {
                throw value_error("fusion::Dataset: sample '" + s.id + "': " + e.what());
            }
            m.values.insert(m.values.end(), f.values.begin(), f.values.end());
            m.present.insert(m.present.end(), f.present.begin(), f.present.end());
        }
        return m;
    }

private:
    std::vector<Target> targets_;
    std::vector<Sample> samples_;
    std::set<std::string> ids_;
};

/// Train and test sample indices.
struct Split {
    std::vector<std::size_t> train, test;
};

namespace detail {

// Groups -> their sample indices, groups in a seeded random order.
inline std::vector<std::vector<std::size_t>> shuffled_groups(const Dataset& d, std::uint64_t seed) {
    std::map<std::string, std::vector<std::size_t>> by_group;
    for (std::size_t i = 0; i < d.size(); ++i) by_group[d[i].group].push_back(i);
    std::vector<std::vector<std::size_t>> groups;
    for (auto& [name, members] : by_group) groups.push_back(std::move(members));
    synth::Random rng(seed);
    for (std::size_t i = groups.size(); i > 1; --i) std::swap(groups[i - 1], groups[rng.index(i)]);  // Fisher-Yates
    return groups;
}

}  // namespace detail

/// k folds by group: groups in a seeded random order, each given to the
/// fold with the fewest samples so far (folds balanced by sample count; a
/// group is in exactly one test fold). Throws value_error for k < 2 or more
/// folds than groups.
inline std::vector<Split> group_kfold(const Dataset& d, std::size_t k, std::uint64_t seed) {
    const auto groups = detail::shuffled_groups(d, seed);
    if (k < 2 || k > groups.size())
        throw value_error("fusion::group_kfold: need 2 <= k <= groups (" + std::to_string(groups.size()) + "), got " +
                          std::to_string(k));
    std::vector<std::vector<std::size_t>> fold(k);
    for (const auto& g : groups) {
        auto& smallest = *std::min_element(fold.begin(), fold.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
        smallest.insert(smallest.end(), g.begin(), g.end());
    }
    std::vector<Split> splits(k);
    for (std::size_t f = 0; f < k; ++f) {
        for (std::size_t o = 0; o < k; ++o) {
            auto& to = o == f ? splits[f].test : splits[f].train;
            to.insert(to.end(), fold[o].begin(), fold[o].end());
        }
        std::sort(splits[f].train.begin(), splits[f].train.end());
        std::sort(splits[f].test.begin(), splits[f].test.end());
    }
    return splits;
}

/// One train / test split by group: groups in a seeded random order go to
/// the test set until it holds at least test_fraction of the samples.
/// Throws value_error for a fraction outside (0, 1) or fewer than 2 groups.
inline Split group_train_test_split(const Dataset& d, double test_fraction, std::uint64_t seed) {
    if (!(test_fraction > 0.0 && test_fraction < 1.0))
        throw value_error("fusion::group_train_test_split: test_fraction must lie in (0, 1)");
    const auto groups = detail::shuffled_groups(d, seed);
    if (groups.size() < 2) throw value_error("fusion::group_train_test_split: need at least 2 groups");
    Split s;
    const double want = test_fraction * static_cast<double>(d.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
        // The last group always trains, so neither side is empty.
        auto& to = static_cast<double>(s.test.size()) < want && g + 1 < groups.size() ? s.test : s.train;
        to.insert(to.end(), groups[g].begin(), groups[g].end());
    }
    std::sort(s.train.begin(), s.train.end());
    std::sort(s.test.begin(), s.test.end());
    return s;
}

/// Where to look for one modality's edge onset, and its reference energy.
struct EdgeReference {
    std::string modality;
    double reference_ev;     ///< where the onset should be (a reference compound, a tabulated edge)
    double window_lo, window_hi;  ///< search window in the spectra's own (uncalibrated) energies
};

/// One shift per edge for a whole simulated set: reference_ev minus the mean
/// onset (align::find_edge_onset, the maximum of dmu/dE in the window) over
/// every spectrum of the modality. Keyed by the spectra's metadata element
/// and edge and `code`. Throws value_error when a modality has no spectra
/// or an onset is not finite.
inline align::EdgeShiftTable calibrate_edge_shifts(const Dataset& d, const std::vector<EdgeReference>& references,
                                                   const std::string& code) {
    align::EdgeShiftTable table;
    for (const EdgeReference& r : references) {
        double sum = 0.0;
        std::size_t n = 0;
        std::string element, edge;
        for (const Sample& s : d.samples()) {
            const auto it = s.spectra.find(r.modality);
            if (it == s.spectra.end()) continue;
            const double onset = align::find_edge_onset(it->second, r.window_lo, r.window_hi);
            if (!std::isfinite(onset))
                throw value_error("fusion::calibrate_edge_shifts: no edge onset for sample '" + s.id + "', " + r.modality);
            sum += onset, ++n;
            element = it->second.metadata().element, edge = it->second.metadata().edge;
        }
        if (n == 0) throw value_error("fusion::calibrate_edge_shifts: no spectra of modality '" + r.modality + "'");
        table.set(element, edge, code, r.reference_ev - sum / static_cast<double>(n),
                  "mean onset of " + std::to_string(n) + " spectra set to " + std::to_string(r.reference_ev) + " eV");
    }
    return table;
}

/// On-the-fly augmentation; every part is off at 0.
struct Augmentation {
    double poisson_counts = 0.0;    ///< Poisson noise as if the maximum held this many counts
    double gaussian_sd = 0.0;       ///< Gaussian noise, sd relative to the maximum |value|
    double energy_jitter_ev = 0.0;  ///< each spectrum's axis moved by U(-j, j) eV
    double broadening_fwhm_ev = 0.0;  ///< extra Gaussian broadening, FWHM ~ U(0, this) eV

    void validate() const {
        for (double v : {poisson_counts, gaussian_sd, energy_jitter_ev, broadening_fwhm_ev})
            if (!(v >= 0.0) || !std::isfinite(v)) throw value_error("fusion::Augmentation: every setting must be finite and >= 0");
    }
};

/// One spectrum augmented: extra broadening (prep::Broaden on its own
/// axis), then Poisson and Gaussian noise, then the energy jitter.
inline grid::Spectrum<double> augment(const grid::Spectrum<double>& s, const Augmentation& a, synth::Random& rng) {
    a.validate();
    grid::Spectrum<double> out = s;
    if (a.broadening_fwhm_ev > 0.0) {
        const double fwhm = rng.uniform(0.0, a.broadening_fwhm_ev);
        if (fwhm > 0.0) {
            prep::Broaden b;
            b.sigma = prep::fwhm_to_sigma(fwhm);
            out = b(out);
        }
    }
    double top = 0.0;
    for (double v : out.values()) top = std::max(top, std::abs(v));
    if (a.poisson_counts > 0.0 && top > 0.0) {
        const double scale = a.poisson_counts / top;
        for (double& v : out.values()) v = rng.poisson(std::max(0.0, v) * scale) / scale;
    }
    if (a.gaussian_sd > 0.0)
        for (double& v : out.values()) v += rng.normal(0.0, a.gaussian_sd * top);
    if (a.energy_jitter_ev > 0.0) {
        const double shift = rng.uniform(-a.energy_jitter_ev, a.energy_jitter_ev);
        out = grid::Spectrum<double>(align::shifted_axis(out.axis(), shift), std::move(out.values()), out.metadata());
    }
    return out;
}

/// A sample with every spectrum augmented; the draws depend only on `seed`
/// (use e.g. synth::mix_seed(seed, epoch * n + index) for a fresh draw per epoch).
inline Sample augment(const Sample& s, const Augmentation& a, std::uint64_t seed) {
    synth::Random rng(seed);
    Sample out = s;
    for (auto& [name, spectrum] : out.spectra) spectrum = augment(spectrum, a, rng);
    return out;
}

}  // namespace corespec::fusion

// corespec/explain/aggregate.hpp - attributions back on the energy axes.
//
//   auto parts = explain::per_modality(attr, layout);     // one sample
//   parts[2].name, parts[2].axis, parts[2].values          // "Ni L", 853.1.., per bin
//   parts[2].share                                         // of the total |attribution|
//   explain::window_sum(parts[2], 853.0, 855.0)            // Ni L3 at 853-855 eV
//
// "Mass" is the absolute attribution: signs cancel otherwise, and a bin that
// pushes the prediction down is as important as one that pushes it up.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/fusion/feature_layout.hpp"
#include "corespec/nn/tensor.hpp"

namespace corespec::explain {

/// One modality's attribution on its energy axis.
struct ModalityAttribution {
    std::string name;
    grid::EnergyAxis axis;
    std::vector<double> values;  ///< per bin, signed
    double sum = 0;              ///< sum of values
    double mass = 0;             ///< sum of |values|
    double share = 0;            ///< mass / total mass of all modalities (0 if that is 0)
};

/// Splits one sample's attributions (size layout.size()) per modality.
/// Throws shape_error when the sizes differ.
template <class T>
std::vector<ModalityAttribution> per_modality(span<const T> attributions, const fusion::FeatureLayout& layout) {
    if (attributions.size() != layout.size()) throw shape_error("explain::per_modality attributions", {layout.size()}, {attributions.size()});
    std::vector<ModalityAttribution> out;
    double total = 0;
    for (const fusion::ModalitySlot& m : layout) {
        ModalityAttribution a{m.name, m.axis, std::vector<double>(m.size()), 0, 0, 0};
        for (std::size_t i = 0; i < m.size(); ++i) {
            a.values[i] = static_cast<double>(attributions[m.offset + i]);
            a.sum += a.values[i];
            a.mass += std::abs(a.values[i]);
        }
        total += a.mass;
        out.push_back(std::move(a));
    }
    for (ModalityAttribution& a : out) a.share = total > 0 ? a.mass / total : 0;
    return out;
}

/// Mean over the batch of |attribution| per feature (a [features] summary of
/// [batch, features] attributions).
template <class T>
std::vector<double> mean_abs(nn::ConstTensorView<T> attributions) {
    const std::size_t n = attributions.batch(), fs = attributions.sample_size();
    std::vector<double> m(fs, 0.0);
    for (std::size_t b = 0; b < n; ++b)
        for (std::size_t j = 0; j < fs; ++j) m[j] += std::abs(static_cast<double>(attributions.sample(b)[j]));
    for (double& v : m) v /= static_cast<double>(n ? n : 1);
    return m;
}

/// Sum of the attribution over bins whose centre lies in [lo, hi] (eV, or
/// the axis' units); `absolute` sums |values|. Zero if no bin is inside.
/// Throws value_error unless lo <= hi.
inline double window_sum(const ModalityAttribution& a, double lo, double hi, bool absolute = false) {
    if (!(lo <= hi)) throw value_error("explain::window_sum: need lo <= hi");
    double s = 0;
    for (std::size_t i = 0; i < a.values.size(); ++i) {
        const double e = a.axis.energy(i);
        if (e >= lo && e <= hi) s += absolute ? std::abs(a.values[i]) : a.values[i];
    }
    return s;
}

/// Share of the total attribution mass (all modalities) that falls in the
/// window [lo, hi] of modality `name`. Throws value_error for an unknown name.
inline double window_share(const std::vector<ModalityAttribution>& parts, const std::string& name, double lo, double hi) {
    double total = 0, inside = 0;
    bool found = false;
    for (const ModalityAttribution& a : parts) {
        total += a.mass;
        if (a.name == name) {
            inside = window_sum(a, lo, hi, true);
            found = true;
        }
    }
    if (!found) throw value_error("explain::window_share: no modality '" + name + "'");
    return total > 0 ? inside / total : 0;
}

}  // namespace corespec::explain

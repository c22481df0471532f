// corespec/grid/energy_axis.hpp - energy axes: uniform and explicit.
//
// An axis gives the energy (eV unless `units` says otherwise) of each channel.
// Two kinds answer the same questions:
//   UniformAxis  - offset + i * scale, the form DM, MSA and EELS cameras use;
//   EnergyAxis   - either kind; explicit energies are strictly increasing
//                  (XAS scans, simulation outputs).
// Both are validated once on construction and trusted afterwards: lookups are
// noexcept. Energies are channel centres; channel i covers the bin
// [lower_edge(i), upper_edge(i)), with edges halfway between neighbouring
// centres (and half a spacing beyond the first and last centre).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::grid {

/// offset + i * scale for i in [0, size). Requires finite offset, scale > 0,
/// size >= 2.
class UniformAxis {
public:
    UniformAxis(double offset, double scale, std::size_t size, std::string units = "eV")
        : offset_(offset), scale_(scale), size_(size), units_(std::move(units)) {
        if (!std::isfinite(offset)) throw value_error("UniformAxis: offset must be finite");
        if (!std::isfinite(scale) || !(scale > 0.0))
            throw value_error("UniformAxis: scale must be finite and > 0, got " + std::to_string(scale));
        if (size < 2) throw value_error("UniformAxis: size must be >= 2, got " + std::to_string(size));
        if (!std::isfinite(offset + scale * static_cast<double>(size - 1)))
            throw value_error("UniformAxis: last energy is not finite");
    }

    /// The axis covering [first, last] with `size` points.
    static UniformAxis from_range(double first, double last, std::size_t size, std::string units = "eV") {
        if (size < 2) throw value_error("UniformAxis::from_range: size must be >= 2");
        if (!(last > first)) throw value_error("UniformAxis::from_range: last must exceed first");
        return UniformAxis(first, (last - first) / static_cast<double>(size - 1), size, std::move(units));
    }

    std::size_t size() const noexcept { return size_; }
    double offset() const noexcept { return offset_; }
    double scale() const noexcept { return scale_; }
    const std::string& units() const noexcept { return units_; }

    double energy(std::size_t i) const noexcept { return offset_ + scale_ * static_cast<double>(i); }
    double front() const noexcept { return offset_; }
    double back() const noexcept { return energy(size_ - 1); }
    double lower_edge(std::size_t i) const noexcept { return energy(i) - 0.5 * scale_; }
    double upper_edge(std::size_t i) const noexcept { return energy(i) + 0.5 * scale_; }

    /// Position of `e` in channel units (0 at the first centre).
    double fractional_index(double e) const noexcept { return (e - offset_) / scale_; }

    /// Channel whose bin contains `e`: -1 below the axis, size() above.
    std::ptrdiff_t index(double e) const noexcept {
        const double f = std::floor(fractional_index(e) + 0.5);
        if (!(f >= 0.0)) return -1;
        if (f >= static_cast<double>(size_)) return static_cast<std::ptrdiff_t>(size_);
        return static_cast<std::ptrdiff_t>(f);
    }

    std::vector<double> energies() const {
        std::vector<double> e(size_);
        for (std::size_t i = 0; i < size_; ++i) e[i] = energy(i);
        return e;
    }

private:
    double offset_;
    double scale_;
    std::size_t size_;
    std::string units_;
};

/// An energy axis of either kind. Copies are cheap (explicit energies are shared).
class EnergyAxis {
public:
    /// A uniform axis.
    EnergyAxis(const UniformAxis& uniform)  // NOLINT(google-explicit-constructor): a uniform axis is an axis
        : offset_(uniform.offset()), scale_(uniform.scale()), size_(uniform.size()), units_(uniform.units()) {}

    /// A uniform axis offset + i * scale.
    static EnergyAxis uniform(double offset, double scale, std::size_t size, std::string units = "eV") {
        return EnergyAxis(UniformAxis(offset, scale, size, std::move(units)));
    }

    /// An explicit axis. Requires >= 2 finite, strictly increasing energies.
    static EnergyAxis from_energies(std::vector<double> energies, std::string units = "eV") {
        if (energies.size() < 2)
            throw value_error("EnergyAxis: an axis needs at least 2 energies, got " +
                              std::to_string(energies.size()));
        for (std::size_t i = 0; i < energies.size(); ++i) {
            if (!std::isfinite(energies[i]))
                throw value_error("EnergyAxis: energy at index " + std::to_string(i) + " is not finite");
            if (i > 0 && !(energies[i] > energies[i - 1]))
                throw value_error("EnergyAxis: energies must be strictly increasing; index " + std::to_string(i) +
                                  " (" + std::to_string(energies[i]) + ") <= index " + std::to_string(i - 1) +
                                  " (" + std::to_string(energies[i - 1]) + ")");
        }
        EnergyAxis axis;
        axis.size_ = energies.size();
        axis.units_ = std::move(units);
        axis.energies_ = std::make_shared<const std::vector<double>>(std::move(energies));
        return axis;
    }

    bool is_uniform() const noexcept { return !energies_; }
    std::size_t size() const noexcept { return size_; }
    const std::string& units() const noexcept { return units_; }

    /// The uniform form; throws value_error for an explicit axis.
    UniformAxis as_uniform() const {
        if (!is_uniform()) throw value_error("EnergyAxis: a uniform axis is required, this one is explicit");
        return UniformAxis(offset_, scale_, size_, units_);
    }

    double energy(std::size_t i) const noexcept {
        return energies_ ? (*energies_)[i] : offset_ + scale_ * static_cast<double>(i);
    }
    double front() const noexcept { return energy(0); }
    double back() const noexcept { return energy(size_ - 1); }

    double lower_edge(std::size_t i) const noexcept {
        if (!energies_) return energy(i) - 0.5 * scale_;
        const auto& e = *energies_;
        return i == 0 ? e[0] - 0.5 * (e[1] - e[0]) : 0.5 * (e[i - 1] + e[i]);
    }
    double upper_edge(std::size_t i) const noexcept {
        if (!energies_) return energy(i) + 0.5 * scale_;
        const auto& e = *energies_;
        const std::size_t n = e.size();
        return i + 1 == n ? e[n - 1] + 0.5 * (e[n - 1] - e[n - 2]) : 0.5 * (e[i] + e[i + 1]);
    }

    /// Position of `e` in channel units, piecewise linear between centres and
    /// extrapolated with the end spacings outside.
    double fractional_index(double e) const noexcept {
        if (!energies_) return (e - offset_) / scale_;
        const auto& x = *energies_;
        const std::size_t j = segment(e);
        return static_cast<double>(j) + (e - x[j]) / (x[j + 1] - x[j]);
    }

    /// Channel whose bin contains `e`: -1 below the axis, size() above.
    std::ptrdiff_t index(double e) const noexcept {
        if (!energies_) return UniformAxis(offset_, scale_, size_).index(e);
        if (!(e >= lower_edge(0))) return -1;
        if (!(e < upper_edge(size_ - 1))) return static_cast<std::ptrdiff_t>(size_);
        // Bin i is [mid(i-1,i), mid(i,i+1)): find the first centre above e.
        const auto& x = *energies_;
        const std::size_t hi = static_cast<std::size_t>(std::upper_bound(x.begin(), x.end(), e) - x.begin());
        if (hi == 0) return 0;
        if (hi == size_) return static_cast<std::ptrdiff_t>(size_ - 1);
        return static_cast<std::ptrdiff_t>(e < 0.5 * (x[hi - 1] + x[hi]) ? hi - 1 : hi);
    }

    /// Index of the segment [x[j], x[j+1]] used to interpolate at `e`
    /// (clamped to the first / last segment outside the axis).
    std::size_t segment(double e) const noexcept {
        if (!energies_) {
            const double f = std::floor((e - offset_) / scale_);
            if (!(f >= 0.0)) return 0;
            return std::min(static_cast<std::size_t>(std::min(f, 1e18)), size_ - 2);
        }
        const auto& x = *energies_;
        const std::size_t hi = static_cast<std::size_t>(std::upper_bound(x.begin(), x.end(), e) - x.begin());
        if (hi == 0) return 0;
        return std::min(hi - 1, size_ - 2);
    }

    /// The energies as a vector (computed for a uniform axis).
    std::vector<double> energies() const {
        if (energies_) return *energies_;
        return UniformAxis(offset_, scale_, size_).energies();
    }

    /// True when both axes have the same size and every energy agrees within
    /// `tolerance` (absolute, in the axis units).
    bool approx_equal(const EnergyAxis& other, double tolerance = 1e-9) const noexcept {
        if (size_ != other.size_) return false;
        for (std::size_t i = 0; i < size_; ++i)
            if (!(std::abs(energy(i) - other.energy(i)) <= tolerance)) return false;
        return true;
    }

    /// Index range [first, last) of the centres inside [lo, hi] (inclusive).
    /// Throws range_error when fewer than 2 channels fall inside.
    std::pair<std::size_t, std::size_t> window(double lo, double hi) const {
        if (!(std::isfinite(lo) && std::isfinite(hi) && hi > lo))
            throw value_error("EnergyAxis::window: need finite lo < hi, got [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
        std::size_t first = 0;
        while (first < size_ && energy(first) < lo) ++first;
        std::size_t last = first;
        while (last < size_ && energy(last) <= hi) ++last;
        if (last - first < 2)
            throw range_error("EnergyAxis::window: [" + std::to_string(lo) + ", " + std::to_string(hi) +
                              "] holds fewer than 2 channels of the axis [" + std::to_string(front()) + ", " +
                              std::to_string(back()) + "]");
        return {first, last};
    }

    /// The channels [first, last) as an axis of the same kind.
    EnergyAxis slice(std::size_t first, std::size_t last) const {
        if (!(first < last && last <= size_ && last - first >= 2))
            throw range_error("EnergyAxis::slice: [" + std::to_string(first) + ", " + std::to_string(last) +
                              ") is not a range of >= 2 channels within size " + std::to_string(size_));
        if (!energies_) return uniform(energy(first), scale_, last - first, units_);
        return from_energies(std::vector<double>(energies_->begin() + static_cast<std::ptrdiff_t>(first),
                                                 energies_->begin() + static_cast<std::ptrdiff_t>(last)),
                             units_);
    }

private:
    EnergyAxis() = default;

    double offset_ = 0.0;
    double scale_ = 1.0;
    std::size_t size_ = 0;
    std::string units_ = "eV";
    std::shared_ptr<const std::vector<double>> energies_;
};

}  // namespace corespec::grid

// corespec/grid/spectrum.hpp - one spectrum (owner) and a view of one.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"

namespace corespec::grid {

/// A non-owning view: an axis and values on it (one spectrum, one pixel of a
/// spectrum image, or a caller's buffer). T may be const.
template <class T>
struct SpectrumView {
    const EnergyAxis* axis;
    span<T> values;

    SpectrumView(const EnergyAxis& a, span<T> v) : axis(&a), values(v) {
        if (v.size() != a.size())
            throw shape_error("SpectrumView", {a.size()}, {v.size()});
    }
    template <class U>
    SpectrumView(const SpectrumView<U>& other) : axis(other.axis), values(other.values) {}  // NOLINT: const view

    std::size_t size() const noexcept { return values.size(); }
    double energy(std::size_t i) const noexcept { return axis->energy(i); }
};

/// A spectrum that owns its values: axis + values + metadata.
template <class T>
class Spectrum {
    static_assert(std::is_arithmetic<T>::value, "corespec::grid::Spectrum<T>: T must be an arithmetic type (float, double, an integer count type)");

public:
    using value_type = T;

    Spectrum(EnergyAxis axis, std::vector<T> values, Metadata metadata = {})
        : axis_(std::move(axis)), values_(std::move(values)), metadata_(std::move(metadata)) {
        if (values_.size() != axis_.size()) throw shape_error("Spectrum", {axis_.size()}, {values_.size()});
    }

    /// A spectrum of zeros on `axis`.
    explicit Spectrum(EnergyAxis axis, Metadata metadata = {})
        : axis_(std::move(axis)), values_(axis_.size(), T(0)), metadata_(std::move(metadata)) {}

    const EnergyAxis& axis() const noexcept { return axis_; }
    std::size_t size() const noexcept { return values_.size(); }
    const std::vector<T>& values() const noexcept { return values_; }
    std::vector<T>& values() noexcept { return values_; }
    T operator[](std::size_t i) const noexcept { return values_[i]; }
    T& operator[](std::size_t i) noexcept { return values_[i]; }
    double energy(std::size_t i) const noexcept { return axis_.energy(i); }

    const Metadata& metadata() const noexcept { return metadata_; }
    Metadata& metadata() noexcept { return metadata_; }

    SpectrumView<const T> view() const { return {axis_, span<const T>(values_)}; }
    SpectrumView<T> view() { return {axis_, span<T>(values_)}; }

private:
    EnergyAxis axis_;
    std::vector<T> values_;
    Metadata metadata_;
};

}  // namespace corespec::grid

// corespec/grid/spectrum_image.hpp - many spectra on one energy axis.
//
// A spectrum image has a navigation shape (a line scan {n}, a map {rows, cols},
// a time series of maps {t, rows, cols}, ...) and one energy axis. The data is
// one contiguous xtensor array of shape navigation + {energy}, energy fastest,
// so a pixel is a cheap view of contiguous memory.
#pragma once

#include <cstddef>
#include <functional>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"

namespace corespec::grid {

template <class T>
class SpectrumImage {
    static_assert(std::is_arithmetic<T>::value, "corespec::grid::SpectrumImage<T>: T must be an arithmetic type");

public:
    using value_type = T;
    using shape_type = std::vector<std::size_t>;

    /// Zeros with the given navigation shape (at least one dimension, no zero sizes).
    static SpectrumImage zeros(const shape_type& navigation_shape, EnergyAxis axis, Metadata metadata = {}) {
        check_navigation(navigation_shape);
        shape_type shape = navigation_shape;
        shape.push_back(axis.size());
        return SpectrumImage(xt::xarray<T>(shape, T(0)), std::move(axis), std::move(metadata));
    }

    /// Takes `data` of shape navigation + {axis.size()}.
    SpectrumImage(xt::xarray<T> data, EnergyAxis axis, Metadata metadata = {})
        : axis_(std::move(axis)), data_(std::move(data)), metadata_(std::move(metadata)) {
        if (data_.dimension() < 2)
            throw value_error("SpectrumImage: data needs a navigation and an energy dimension, got " +
                              std::to_string(data_.dimension()) + " dimension(s)");
        shape_type shape(data_.shape().begin(), data_.shape().end());
        if (shape.back() != axis_.size()) {
            shape_type expected = shape;
            expected.back() = axis_.size();
            throw shape_error("SpectrumImage", expected, shape);
        }
        navigation_shape_.assign(shape.begin(), shape.end() - 1);
        check_navigation(navigation_shape_);
    }

    const EnergyAxis& axis() const noexcept { return axis_; }
    const shape_type& navigation_shape() const noexcept { return navigation_shape_; }
    std::size_t pixel_count() const noexcept {
        return std::accumulate(navigation_shape_.begin(), navigation_shape_.end(), std::size_t{1},
                               std::multiplies<>());
    }
    std::size_t channel_count() const noexcept { return axis_.size(); }

    const xt::xarray<T>& data() const noexcept { return data_; }
    xt::xarray<T>& data() noexcept { return data_; }
    const Metadata& metadata() const noexcept { return metadata_; }
    Metadata& metadata() noexcept { return metadata_; }

    /// Pixel by flat (row-major) navigation index.
    SpectrumView<const T> pixel(std::size_t flat) const {
        check_pixel(flat);
        return {axis_, span<const T>(data_.data() + flat * axis_.size(), axis_.size())};
    }
    SpectrumView<T> pixel(std::size_t flat) {
        check_pixel(flat);
        return {axis_, span<T>(data_.data() + flat * axis_.size(), axis_.size())};
    }

    /// Pixel by navigation coordinates (one per navigation dimension).
    SpectrumView<const T> pixel(const shape_type& index) const { return pixel(flat_index(index)); }
    SpectrumView<T> pixel(const shape_type& index) { return pixel(flat_index(index)); }

    std::size_t flat_index(const shape_type& index) const {
        if (index.size() != navigation_shape_.size())
            throw shape_error("SpectrumImage::pixel index rank", {navigation_shape_.size()}, {index.size()});
        std::size_t flat = 0;
        for (std::size_t d = 0; d < index.size(); ++d) {
            if (index[d] >= navigation_shape_[d])
                throw range_error("SpectrumImage::pixel: index " + std::to_string(index[d]) + " out of range " +
                                  std::to_string(navigation_shape_[d]) + " in navigation dimension " +
                                  std::to_string(d));
            flat = flat * navigation_shape_[d] + index[d];
        }
        return flat;
    }

    /// A copy of one pixel as a Spectrum, with the image's metadata.
    Spectrum<T> spectrum(std::size_t flat) const {
        auto v = pixel(flat).values;
        return Spectrum<T>(axis_, std::vector<T>(v.begin(), v.end()), metadata_);
    }

private:
    static void check_navigation(const shape_type& shape) {
        if (shape.empty()) throw value_error("SpectrumImage: navigation shape must have at least one dimension");
        for (std::size_t n : shape)
            if (n == 0) throw value_error("SpectrumImage: navigation dimensions must be non-zero");
    }
    void check_pixel(std::size_t flat) const {
        if (flat >= pixel_count())
            throw range_error("SpectrumImage::pixel: flat index " + std::to_string(flat) + " >= pixel count " +
                              std::to_string(pixel_count()));
    }

    EnergyAxis axis_;
    xt::xarray<T> data_;
    Metadata metadata_;
    shape_type navigation_shape_;
};

}  // namespace corespec::grid

// corespec/nn/tensor.hpp - shapes and batched tensor views of the nn engine.
//
// A tensor is a contiguous, row-major block with the batch first:
//   rank 2: batch x features           (Dense, activations)
//   rank 3: batch x channels x length  (Conv1D, pooling)
// Parameters use the same Shape without a batch (Dense weight [out, in],
// Conv1d weight [out, in/groups, k], ...). Views do not own their data.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::nn {

/// Dimensions of a tensor, rank 0 to 3, row-major (last dimension fastest).
class Shape {
public:
    static constexpr std::size_t max_rank = 3;

    constexpr Shape() noexcept = default;

    /// Throws value_error for more than max_rank dimensions.
    Shape(std::initializer_list<std::size_t> dims) {
        if (dims.size() > max_rank) throw value_error("nn::Shape: rank " + std::to_string(dims.size()) + " > 3");
        for (std::size_t d : dims) dims_[rank_++] = d;
    }

    /// Throws value_error for more than max_rank dimensions.
    explicit Shape(const std::vector<std::size_t>& dims) {
        if (dims.size() > max_rank) throw value_error("nn::Shape: rank " + std::to_string(dims.size()) + " > 3");
        for (std::size_t d : dims) dims_[rank_++] = d;
    }

    constexpr std::size_t rank() const noexcept { return rank_; }
    constexpr std::size_t operator[](std::size_t i) const noexcept { return dims_[i]; }
    constexpr std::size_t& operator[](std::size_t i) noexcept { return dims_[i]; }

    /// Number of elements (1 for rank 0).
    constexpr std::size_t size() const noexcept {
        std::size_t n = 1;
        for (std::size_t i = 0; i < rank_; ++i) n *= dims_[i];
        return n;
    }

    /// The shape without its first (batch) dimension.
    Shape drop_batch() const noexcept {
        Shape s;
        for (std::size_t i = 1; i < rank_; ++i) s.dims_[s.rank_++] = dims_[i];
        return s;
    }

    /// `batch` followed by this shape (throws value_error if that exceeds rank 3).
    Shape with_batch(std::size_t batch) const {
        if (rank_ >= max_rank) throw value_error("nn::Shape: cannot prepend a batch to a rank-3 shape");
        Shape s;
        s.dims_[s.rank_++] = batch;
        for (std::size_t i = 0; i < rank_; ++i) s.dims_[s.rank_++] = dims_[i];
        return s;
    }

    std::vector<std::size_t> to_vector() const { return {dims_.begin(), dims_.begin() + static_cast<std::ptrdiff_t>(rank_)}; }
    std::string to_string() const { return shape_error::format(to_vector()); }

    friend constexpr bool operator==(const Shape& a, const Shape& b) noexcept {
        if (a.rank_ != b.rank_) return false;
        for (std::size_t i = 0; i < a.rank_; ++i)
            if (a.dims_[i] != b.dims_[i]) return false;
        return true;
    }
    friend constexpr bool operator!=(const Shape& a, const Shape& b) noexcept { return !(a == b); }

private:
    std::array<std::size_t, max_rank> dims_{};
    std::size_t rank_ = 0;
};

/// A contiguous batched tensor: data pointer + shape (batch first). T may be
/// const. A default-constructed view is empty (data() == nullptr), which
/// optional outputs (e.g. grad_input) use to mean "not wanted".
template <class T>
class TensorView {
public:
    using value_type = std::remove_cv_t<T>;

    constexpr TensorView() noexcept = default;
    constexpr TensorView(T* data, Shape shape) noexcept : data_(data), shape_(shape) {}

    /// A const view of a mutable one.
    template <class U, class = std::enable_if_t<std::is_same<const U, T>::value && !std::is_same<U, T>::value>>
    constexpr TensorView(const TensorView<U>& other) noexcept : data_(other.data()), shape_(other.shape()) {}

    constexpr T* data() const noexcept { return data_; }
    constexpr const Shape& shape() const noexcept { return shape_; }
    constexpr std::size_t rank() const noexcept { return shape_.rank(); }
    constexpr std::size_t size() const noexcept { return shape_.size(); }
    constexpr bool empty() const noexcept { return data_ == nullptr; }
    constexpr std::size_t batch() const noexcept { return shape_.rank() ? shape_[0] : 1; }
    /// Elements per sample (everything after the batch dimension).
    constexpr std::size_t sample_size() const noexcept { return shape_.rank() ? shape_.size() / (shape_[0] ? shape_[0] : 1) : 1; }
    constexpr T* sample(std::size_t i) const noexcept { return data_ + i * sample_size(); }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }

    /// Samples [first, first + count) as a view with the same trailing shape.
    TensorView batch_slice(std::size_t first, std::size_t count) const noexcept {
        Shape s = shape_;
        if (s.rank()) s[0] = count;
        return TensorView(data_ + first * sample_size(), s);
    }

    /// The same data under another shape of equal size (throws shape_error).
    TensorView reshaped(Shape s) const {
        if (s.size() != shape_.size()) throw shape_error("nn::TensorView::reshaped", shape_.to_vector(), s.to_vector());
        return TensorView(data_, s);
    }

private:
    T* data_ = nullptr;
    Shape shape_;
};

template <class T>
using ConstTensorView = TensorView<const T>;

}  // namespace corespec::nn

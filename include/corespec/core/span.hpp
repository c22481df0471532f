// corespec/core/span.hpp - minimal views (C++17 has no std::span).
//
//   span<T>          - pointer + length, contiguous;
//   strided_span<T>  - pointer + length + stride (in elements), e.g. one
//                      spectrum of an energy-slowest (channel-major) cube, or
//                      every other column of a caller's table.
// Algorithms take views so that a caller's buffer (an acquisition buffer, a
// NumPy array, one pixel of a spectrum image) is used in place, with no copy.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

namespace corespec {

/// A pointer and a length. Does not own its data.
template <class T>
class span {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;

    constexpr span() noexcept = default;
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}

    template <class U, class = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value>>
    span(std::vector<U>& v) noexcept : data_(v.data()), size_(v.size()) {}

    template <class U, class = std::enable_if_t<std::is_convertible<const U (*)[], T (*)[]>::value>>
    span(const std::vector<U>& v) noexcept : data_(v.data()), size_(v.size()) {}

    template <class U, class = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value>>
    constexpr span(const span<U>& other) noexcept : data_(other.data()), size_(other.size()) {}

    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size_; }

    /// The elements [offset, offset + count).
    constexpr span subspan(std::size_t offset, std::size_t count) const noexcept {
        return span(data_ + offset, count);
    }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

/// A pointer, a length and a stride (elements between neighbours; may be
/// negative, never 0 unless size <= 1). Does not own its data. A span
/// converts to a strided_span of stride 1.
template <class T>
class strided_span {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;

    constexpr strided_span() noexcept = default;
    constexpr strided_span(T* data, std::size_t size, std::ptrdiff_t stride = 1) noexcept
        : data_(data), size_(size), stride_(stride) {}

    template <class U, class = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value>>
    constexpr strided_span(const span<U>& s) noexcept : data_(s.data()), size_(s.size()) {}  // NOLINT: a span is a view

    template <class U, class = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value>>
    constexpr strided_span(const strided_span<U>& o) noexcept : data_(o.data()), size_(o.size()), stride_(o.stride()) {}

    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::ptrdiff_t stride() const noexcept { return stride_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr bool contiguous() const noexcept { return stride_ == 1 || size_ <= 1; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[static_cast<std::ptrdiff_t>(i) * stride_]; }

    /// The elements [offset, offset + count).
    constexpr strided_span subspan(std::size_t offset, std::size_t count) const noexcept {
        return strided_span(data_ + static_cast<std::ptrdiff_t>(offset) * stride_, count, stride_);
    }
    /// The same elements as a span; only valid when contiguous().
    constexpr span<T> as_span() const noexcept { return span<T>(data_, size_); }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::ptrdiff_t stride_ = 1;
};

}  // namespace corespec

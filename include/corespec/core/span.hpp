// corespec/core/span.hpp - a minimal contiguous view (C++17 has no std::span).
//
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

}  // namespace corespec

// corespec/core/parallel.hpp - the range splitting used for spectrum images
// (background removal, ZLP search and alignment, recipes), on the one thread
// mechanism of the library: core/thread_pool.hpp (which nn uses too).
//
// [0, count) is split into contiguous parts, one per thread. Two ways to say
// which threads:
//   parallel_ranges(pool, count, fn)     - on a caller-owned ThreadPool (a
//                                          tool or stream processing many
//                                          images starts its threads once);
//   parallel_ranges(count, threads, fn)  - a ThreadPool of `threads` started
//                                          for this call and joined before it
//                                          returns; 0 or 1 runs inline on the
//                                          calling thread.
// Both split the same way, so a result never depends on which one ran it.
// APIs that take either (steps::Recipe::run) take a `Threads`, which
// converts from a count or a pool: recipe.run(image, 2), recipe.run(image, pool).
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

#include "corespec/core/thread_pool.hpp"

namespace corespec {

namespace detail {

/// Part t of [0, count) split into `parts` contiguous ranges.
inline std::pair<std::size_t, std::size_t> range_part(std::size_t count, std::size_t parts, std::size_t t) noexcept {
    const std::size_t chunk = (count + parts - 1) / parts;
    const std::size_t b = std::min(count, t * chunk);
    return {b, std::min(count, b + chunk)};
}

}  // namespace detail

/// Runs fn(begin, end) over [0, count) split into pool.size() contiguous
/// parts, one per thread of the pool (the calling thread runs part 0).
/// Exceptions from a part are rethrown after all parts finish.
template <class F>
void parallel_ranges(ThreadPool& pool, std::size_t count, F&& fn) {
    if (pool.size() <= 1 || count < 2) {
        fn(std::size_t{0}, count);
        return;
    }
    const std::size_t parts = std::min(pool.size(), count);
    pool.run([&](std::size_t t) {
        if (t >= parts) return;
        const auto [b, e] = detail::range_part(count, parts, t);
        if (b < e) fn(b, e);
    });
}

/// Runs fn(begin, end) over [0, count) split into `threads` contiguous
/// parts, on a ThreadPool started for this call (threads <= 1 runs inline).
/// Exceptions from a part are rethrown after all parts finish.
template <class F>
void parallel_ranges(std::size_t count, unsigned threads, F&& fn) {
    if (threads <= 1 || count < 2) {
        fn(std::size_t{0}, count);
        return;
    }
    ThreadPool pool(std::min<std::size_t>(threads, count));
    parallel_ranges(pool, count, std::forward<F>(fn));
}

/// Which threads run a loop over pixels: a count (a ThreadPool started for
/// the call; 0 or 1: the calling thread alone) or a caller-owned ThreadPool.
class Threads {
public:
    Threads(unsigned count = 1) noexcept : count_(count) {}  // NOLINT: implicit, so run(image, 2) reads naturally
    Threads(ThreadPool& pool) noexcept : pool_(&pool) {}     // NOLINT: implicit, run(image, pool)

    /// The number of parts a loop is split into.
    std::size_t size() const noexcept { return pool_ ? pool_->size() : std::max(1u, count_); }

    /// parallel_ranges on these threads.
    template <class F>
    void ranges(std::size_t count, F&& fn) const {
        if (pool_) parallel_ranges(*pool_, count, std::forward<F>(fn));
        else parallel_ranges(count, count_, std::forward<F>(fn));
    }

private:
    unsigned count_ = 1;
    ThreadPool* pool_ = nullptr;
};

}  // namespace corespec

// corespec/core/parallel.hpp - the range splitting and threading used for
// spectrum images (background removal, ZLP search and alignment, recipes).
//
// One function: split [0, count) into contiguous parts, one per thread. A
// caller sizes the thread count; 0 or 1 runs inline on the calling thread,
// which is also what a caller that owns its own pool should ask for.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace corespec {

/// Runs fn(begin, end) over [0, count) split into `threads` contiguous parts
/// (std::thread; threads <= 1 runs inline). Exceptions from a part are
/// rethrown after all parts finish.
template <class F>
void parallel_ranges(std::size_t count, unsigned threads, F&& fn) {
    if (threads <= 1 || count < 2) {
        fn(std::size_t{0}, count);
        return;
    }
    threads = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    const std::size_t chunk = (count + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
        const std::size_t b = std::min(count, t * chunk), e = std::min(count, b + chunk);
        pool.emplace_back([&, t, b, e] {
            try {
                fn(b, e);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (auto& ep : errors)
        if (ep) std::rethrow_exception(ep);
}

}  // namespace corespec

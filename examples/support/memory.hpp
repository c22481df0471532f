// examples/support/memory.hpp - refuse a size option whose data would not
// fit in this machine's memory, before anything is allocated.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include <unistd.h>

#include <corespec/core/error.hpp>

namespace corespec_example {

/// Bytes of physical memory (0 when the system does not say).
inline double physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return static_cast<double>(pages) * static_cast<double>(page);
#endif
    return 0;
}

/// Throws value_error naming `flag` when `count` items of `bytes_each`
/// would need more than the physical memory (64 GiB when unknown).
inline void require_memory(const char* flag, std::size_t count, double bytes_each) {
    const double bytes = bytes_each * static_cast<double>(count), ram = physical_memory_bytes();
    const double limit = ram > 0 ? ram : 64.0 * (1ull << 30);
    if (bytes <= limit) return;
    char msg[256];
    std::snprintf(msg, sizeof msg, "%s %zu would need about %.3g GB of memory (%.0f bytes each), more than the %.3g GB %s", flag, count,
                  bytes / 1e9, bytes_each, limit / 1e9, ram > 0 ? "this machine has" : "allowed");
    throw corespec::value_error(msg);
}

}  // namespace corespec_example

// Test support for the io readers: the shared reference JSON files and the
// CSV arrays beside them.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/columns.hpp"
#include "support/shared_data.hpp"

namespace corespec_test {

/// reference/<name> parsed (e.g. "eels_read.json").
inline const nlohmann::json& reference_json(const std::string& name) {
    static std::map<std::string, nlohmann::json> cache;
    auto it = cache.find(name);
    if (it == cache.end())
        it = cache.emplace(name, nlohmann::json::parse(read_text(shared_path("reference/" + name)))).first;
    return it->second;
}

/// A reference CSV (path relative to reference/), its columns by index.
inline corespec::io::ColumnTable reference_csv(const std::string& relative) {
    return corespec::io::read_columns(shared_path("reference/" + relative));
}

/// Compensated float64 sum (the reference sums are numpy's pairwise sums of
/// float64; both are within a few ulp of the exact sum).
template <class It>
double exact_sum(It first, It last) {
    long double s = 0.0L, c = 0.0L;
    for (; first != last; ++first) {
        const long double y = static_cast<long double>(*first) - c;
        const long double t = s + y;
        c = (t - s) - y;
        s = t;
    }
    return static_cast<double>(s);
}

/// max |a - b| over two equally long arrays (infinity when sizes differ).
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return INFINITY;
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

}  // namespace corespec_test

// corespec/report/metrics_table.hpp - the demo's table of scores: one row per
// (input set, target, metric), written as CSV and as Markdown.
//
//   report::MetricsTable t;
//   t.add("multimodal", "Ni_fraction", "R2", 0.93);
//   t.add("O_K", "O_vacancy", "ROC_AUC", 0.71);
//   t.write_csv("out/metrics.csv");     // input_set,target,metric,value
//   std::string md = t.markdown();      // input sets as columns
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::report {

namespace detail {

/// Text of an io_error naming the file, what failed and the OS reason.
inline std::string os_failure(const std::string& what, const std::string& path, int err) {
    return what + " '" + path + "': " + (err ? std::strerror(err) : "unknown error");
}

/// Writes `text` to `path` (binary, replacing the file); throws io_error
/// with the OS reason when the file cannot be opened or written.
inline void write_file(const std::string& path, const std::string& text, const std::string& who) {
    errno = 0;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error(os_failure(who + ": cannot open", path, errno));
    out << text;
    out.flush();
    if (!out) throw io_error(os_failure(who + ": cannot write", path, errno));
}

/// A value with up to `digits` significant digits ("nan" for NaN).
inline std::string format_value(double v, int digits = 6) {
    if (std::isnan(v)) return "nan";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

/// CSV field quoted when it holds a comma, quote or line break (RFC 4180).
inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + '"';
}

/// Markdown table cell: pipes escaped, line breaks as spaces.
inline std::string md_cell(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '|') out += "\\|";
        else if (c == '\n' || c == '\r') out += ' ';
        else out += c;
    }
    return out;
}

template <class V>
std::size_t index_of_or_add(std::vector<V>& list, const V& v) {
    for (std::size_t i = 0; i < list.size(); ++i)
        if (list[i] == v) return i;
    list.push_back(v);
    return list.size() - 1;
}

}  // namespace detail

class MetricsTable {
public:
    struct Row {
        std::string input_set;  ///< a modality name, or "multimodal" for the fused input
        std::string target;     ///< e.g. "Ni_fraction", "O_vacancy"
        std::string metric;     ///< e.g. "R2", "MAE", "accuracy", "F1", "ROC_AUC", "ECE", "coverage_68"
        double value = 0.0;
    };

    /// Appends a row (in insertion order). Throws value_error for an empty
    /// name; a NaN value is kept and written as "nan" (an undefined score).
    void add(std::string input_set, std::string target, std::string metric, double value) {
        if (input_set.empty() || target.empty() || metric.empty())
            throw value_error("report::MetricsTable::add: input_set, target and metric must be non-empty");
        rows_.push_back({std::move(input_set), std::move(target), std::move(metric), value});
    }

    const std::vector<Row>& rows() const noexcept { return rows_; }
    std::size_t size() const noexcept { return rows_.size(); }
    bool empty() const noexcept { return rows_.empty(); }

    /// The CSV text: header `input_set,target,metric,value`, one line per row.
    std::string csv() const {
        std::ostringstream s;
        s << "input_set,target,metric,value\n";
        for (const Row& r : rows_)
            s << detail::csv_field(r.input_set) << ',' << detail::csv_field(r.target) << ',' << detail::csv_field(r.metric)
              << ',' << detail::format_value(r.value, 10) << '\n';
        return s.str();
    }

    /// Writes csv() to `path`; throws io_error with the OS reason.
    void write_csv(const std::string& path) const { detail::write_file(path, csv(), "report::MetricsTable::write_csv"); }

    /// One Markdown table: a row per (target, metric), a column per input
    /// set (in first-seen order), values to 4 significant digits, "-" where
    /// a combination has no value.
    std::string markdown() const {
        std::vector<std::string> sets;
        std::vector<std::pair<std::string, std::string>> keys;
        for (const Row& r : rows_) {
            detail::index_of_or_add(sets, r.input_set);
            detail::index_of_or_add(keys, std::make_pair(r.target, r.metric));
        }
        std::vector<std::vector<std::string>> cells(keys.size(), std::vector<std::string>(sets.size(), "-"));
        for (const Row& r : rows_)
            cells[detail::index_of_or_add(keys, std::make_pair(r.target, r.metric))][detail::index_of_or_add(sets, r.input_set)] =
                detail::format_value(r.value, 4);
        std::ostringstream s;
        s << "| target | metric |";
        for (const auto& n : sets) s << ' ' << detail::md_cell(n) << " |";
        s << "\n| --- | --- |";
        for (std::size_t i = 0; i < sets.size(); ++i) s << " ---: |";
        s << '\n';
        for (std::size_t k = 0; k < keys.size(); ++k) {
            s << "| " << detail::md_cell(keys[k].first) << " | " << detail::md_cell(keys[k].second) << " |";
            for (const auto& c : cells[k]) s << ' ' << c << " |";
            s << '\n';
        }
        return s.str();
    }

    /// Writes markdown() to `path`; throws io_error with the OS reason.
    void write_markdown(const std::string& path) const {
        detail::write_file(path, markdown(), "report::MetricsTable::write_markdown");
    }

private:
    std::vector<Row> rows_;
};

}  // namespace corespec::report

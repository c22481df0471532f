// corespec/io/edge_shift_table.hpp - align::EdgeShiftTable to and from a file.
// align/ does no file I/O; the table itself reads and writes streams and JSON.
//
//   io::save_edge_shift_table("edge_shifts.json", table);
//   auto t = io::load_edge_shift_table("edge_shifts.json");
#pragma once

#include <filesystem>
#include <fstream>

#include "corespec/align/calibration.hpp"
#include "corespec/core/error.hpp"

namespace corespec::io {

/// Writes the table as JSON; throws io_error when the file cannot be written.
inline void save_edge_shift_table(const std::filesystem::path& path, const align::EdgeShiftTable& table) {
    std::ofstream out(path);
    if (!out) throw io_error("EdgeShiftTable: cannot write " + path.string());
    table.write(out);
    out.close();
    if (!out) throw io_error("EdgeShiftTable: write failed for " + path.string());
}

/// Reads a table saved by save_edge_shift_table; throws io_error (cannot
/// open) or parse_error (malformed, naming the file).
inline align::EdgeShiftTable load_edge_shift_table(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw io_error("EdgeShiftTable: cannot open " + path.string());
    return align::EdgeShiftTable::read(in, path.string());
}

}  // namespace corespec::io

// corespec/report/measured.hpp - the measured-data section of a report: how a
// spectrum image was prepared (fusion::prepare_measured_si) and which pixels
// failed, before the caller adds its per-pixel prediction maps.
//
//   report::add_measured_section(r, si, "nmc_coreloss_si.dm3");
//   r.add_figure(report::map_svg(si.masked(ni), si.map_rows(), si.map_cols(), "Ni fraction"), "...", "map_frac_Ni");
//
// A separate header because fusion/measured.hpp brings the preprocessing
// stages (Eigen, the recipe machinery) that the rest of report/ does not need.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "corespec/fusion/measured.hpp"
#include "corespec/report/figures.hpp"
#include "corespec/report/report.hpp"

namespace corespec::report {

/// Adds a heading, the warning that the model saw no measured spectra in
/// training, the ZLP and calibration numbers, a table per edge (onsets,
/// shift, windows, failed pixels), a map of the number of usable edges per
/// pixel ("edges_per_pixel" figure) and a table of every failure (up to
/// `max_failures` rows, then a count).
inline void add_measured_section(Report& r, const fusion::MeasuredSI& si, const std::string& source, std::size_t max_failures = 50) {
    const auto num = [](double v, int digits = 5) { return detail::format_value(v, digits); };
    r.add_heading("Measured data: " + source);
    r.add_warning("The model was trained on synthetic or simulated spectra, never on measured ones: read these maps as a "
                  "first look, and trust a pixel only as far as the held-out calibration above allows.");
    r.add_paragraph("ZLP alignment moved both axes by " + num(si.zlp_offset_change, 4) + " eV. Energy calibration from the edge onsets (" +
                    (si.calibration.dispersion_fitted ? std::string("offset and dispersion, ") + num(si.calibration.scale, 5) + " eV per channel"
                                                      : std::string("one shift")) +
                    "): mean shift " + num(si.calibration_shift, 4) + " eV, residual rms " + num(si.calibration.rms, 3) + " eV. " +
                    std::to_string(si.complete_pixels()) + " of " + std::to_string(si.pixel_count()) + " pixels have every edge.");
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : si.edges)
        rows.push_back({e.modality, num(e.onset_file), num(e.onset_calibrated), num(e.tabulated), num(e.shift, 4),
                        "[" + num(e.background_lo) + ", " + num(e.background_hi) + "]",
                        "[" + num(e.grid_lo) + ", " + num(e.grid_hi) + "]", std::to_string(e.failed_pixels)});
    r.add_table({"edge", "onset, file axis (eV)", "calibrated (eV)", "tabulated (eV)", "shift (eV)", "background window (eV)", "grid (eV)",
                 "failed pixels"},
                rows, "edge calibration and windows");
    std::vector<double> usable(si.pixel_count(), 0.0);
    for (std::size_t p = 0; p < si.pixel_count(); ++p)
        for (std::size_t k = 0; k < si.modality_count(); ++k) usable[p] += si.presence[p * si.modality_count() + k];
    r.add_figure(map_svg(usable, si.map_rows(), si.map_cols(), "usable edges per pixel", "of " + std::to_string(si.modality_count())),
                 "Usable edges per pixel (a pixel's missing edges are absent from its model input)", "edges_per_pixel");
    if (si.failures.empty()) {
        r.add_paragraph("No pixel failed a step.");
        return;
    }
    std::vector<std::vector<std::string>> failed;
    for (std::size_t i = 0; i < si.failures.size() && i < max_failures; ++i) {
        const auto& f = si.failures[i];
        failed.push_back({std::to_string(f.pixel), f.modality.empty() ? "(all)" : f.modality, to_string(f.status), f.reason});
    }
    r.add_table({"pixel", "edge", "status", "reason"}, failed,
                std::to_string(si.failures.size()) + " failure(s)" +
                    (si.failures.size() > max_failures ? ", the first " + std::to_string(max_failures) + " shown" : std::string()));
}

}  // namespace corespec::report

// A report with one figure of each kind, on made-up but reproducible data:
// what the browser test renders and the unit tests inspect.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "corespec/fusion/feature_layout.hpp"
#include "corespec/report/report.hpp"

namespace corespec_test {

inline corespec::report::Report sample_report() {
    using namespace corespec;
    std::vector<double> truth, pred, sd, labels, score_a, score_b;
    for (int i = 0; i < 60; ++i) {
        const double t = (i % 17) / 16.0, wobble = std::sin(1.7 * i);
        truth.push_back(t);
        pred.push_back(t + 0.08 * wobble);
        sd.push_back(0.05 + 0.03 * std::abs(std::cos(0.9 * i)));
        labels.push_back(i % 3 == 0 ? 1.0 : 0.0);
        score_a.push_back(0.5 * labels.back() + 0.5 * (0.5 + 0.5 * wobble));
        score_b.push_back(0.2 * labels.back() + 0.8 * (0.5 + 0.5 * std::cos(2.3 * i)));
    }
    report::MetricsTable table;
    table.add("O_K", "Ni_fraction", "R2", report::r2_score(truth, score_b));
    table.add("multimodal", "Ni_fraction", "R2", report::r2_score(truth, pred));
    table.add("multimodal", "Ni_fraction", "MAE", report::mean_absolute_error(truth, pred));
    table.add("O_K", "O_vacancy", "ROC_AUC", report::roc_auc(labels, score_b));
    table.add("multimodal", "O_vacancy", "ROC_AUC", report::roc_auc(labels, score_a));

    std::vector<double> map(2 * 21);
    for (std::size_t p = 0; p < map.size(); ++p) map[p] = 0.3 + 0.01 * static_cast<double>(p);
    map[5] = std::numeric_limits<double>::quiet_NaN();  // a failed pixel

    fusion::FeatureLayout layout;
    layout.add("O_K <edge> & \"pre-peak\"", grid::EnergyAxis::uniform(525.0, 0.5, 40));
    layout.add("Ni_L23", grid::EnergyAxis::uniform(850.0, 0.5, 50));
    std::vector<double> spectrum(layout.size()), attribution(layout.size());
    for (std::size_t i = 0; i < layout.size(); ++i) {
        spectrum[i] = 1.0 / (1.0 + std::exp(-(static_cast<double>(i % 45) - 15.0) / 3.0));
        attribution[i] = std::sin(0.2 * static_cast<double>(i));
    }

    report::Report r("corespec <sample> report & figures");
    r.add_warning("Sample data: every number here is made up for the tests.");
    r.add_heading("Scores");
    r.add_table(table, "held-out structures");
    r.add_paragraph("Text with <tags>, \"quotes\" & ampersands.\n\nA second paragraph.");
    r.add_heading("Figures");
    r.add_figure(report::parity_svg(truth, pred, sd, "Ni fraction"), "Parity, +-1 sd", "parity_ni");
    r.add_figure(report::roc_svg({{"O_K", labels, score_b}, {"multimodal", labels, score_a}}, "O vacancy"), "ROC curves", "roc_o_vacancy");
    r.add_figure(report::confusion_svg(labels, report::threshold_labels(score_a), "O vacancy", {"no", "yes"}), "Confusion", "confusion_o_vacancy");
    r.add_figure(report::map_svg(map, 2, 21, "Ni fraction per pixel", "Ni fraction"), "Per-pixel map", "map_ni");
    r.add_figure(report::attribution_svg(spectrum, attribution, layout, "Attribution", {1, 1}), "Attribution", "attribution");
    return r;
}

}  // namespace corespec_test

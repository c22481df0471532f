// zlp_align LOWLOSS [--also CORELOSS] [--method maximum|parabola|gaussian] [--range LO HI]
//           [--no-subpixel] [--threshold EV] [--out aligned.npy] [--also-out aligned_coreloss.npy]
//
// Aligns a low-loss spectrum image on its zero-loss peak (HyperSpy
// align_zero_loss_peak by default), applies the same shifts to the core-loss
// image recorded with it, and prints one JSON object: ZLP centres before,
// total and sub-channel shifts per pixel (eV, navigation order), the new
// axes, and t/lambda per pixel on the aligned low loss (threshold estimated
// per pixel unless --threshold is given), and how many pixels failed: no ZLP
// centre ("failed_pixels": left unshifted) and no thickness
// ("thickness_failed_pixels").
// Exit status: 0 when at least one pixel was aligned, 1 bad input, 2 misuse,
// 3 no pixel has a ZLP centre (the JSON is printed all the same).
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/align/zero_loss.hpp"
#include "corespec/io/npy.hpp"
#include "corespec/io/read.hpp"
#include "corespec/prep/low_loss.hpp"
#include "support/command_line.hpp"

namespace {

nlohmann::json axis_json(const corespec::grid::EnergyAxis& a) {
    const auto u = a.as_uniform();
    return {{"offset", u.offset()}, {"scale", u.scale()}, {"size", u.size()}};
}

// JSON has no NaN: write null there.
nlohmann::json values(const std::vector<double>& v) {
    nlohmann::json j = nlohmann::json::array();
    for (double x : v) j.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
    return j;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace corespec;
    const corespec_example::CommandLine cli(
        argc, argv,
        "zlp_align LOWLOSS [--also CORELOSS] [--method maximum|parabola|gaussian] [--range LO HI] "
        "[--no-subpixel] [--threshold EV] [--out aligned.npy] [--also-out aligned_coreloss.npy]",
        {{"--also", 1}, {"--method", 1}, {"--range", 2}, {"--no-subpixel", 0}, {"--threshold", 1}, {"--out", 1},
         {"--also-out", 1}},
        "Aligns a low-loss spectrum image on its zero-loss peak (HyperSpy align_zero_loss_peak) and applies the\n"
        "same shifts to CORELOSS. Prints one JSON object: ZLP centres, shifts, new axes, t/lambda, failed_pixels.\n"
        "Exit status: 0 at least one pixel aligned, 1 bad input, 2 misuse, 3 no pixel has a ZLP centre.\n");
    const std::string file = cli.positional(1, 1)[0];
    const std::string also = cli.text("--also"), out = cli.text("--out"), also_out = cli.text("--also-out");
    align::ZlpAlignOptions o;
    o.method = cli.choice<prep::ZlpMethod>("--method",
                                           {{"maximum", prep::ZlpMethod::maximum},
                                            {"parabola", prep::ZlpMethod::parabola},
                                            {"gaussian", prep::ZlpMethod::gaussian}},
                                           o.method);
    if (cli.has("--range")) {
        const std::vector<double> range = cli.numbers("--range");
        o.range = std::make_pair(range[0], range[1]);
    }
    o.subpixel = !cli.has("--no-subpixel");
    std::optional<double> threshold;
    if (cli.has("--threshold")) threshold = cli.number("--threshold", 0);
    try {
        const auto ll = io::read_spectrum_image<double>(file);
        std::optional<grid::SpectrumImage<double>> cl;
        if (!also.empty()) cl = io::read_spectrum_image<double>(also);
        std::vector<const grid::SpectrumImage<double>*> others;
        if (cl) others.push_back(&*cl);
        const auto r = align::align_zero_loss(ll, o, others);
        const auto t = threshold ? prep::thickness(r.aligned, *threshold) : prep::thickness(r.aligned, prep::ThresholdOptions{});
        nlohmann::json j;
        j["file"] = file;
        j["navigation_shape"] = ll.navigation_shape();
        j["zlp_centre_before"] = values(r.centre_before);
        j["shift"] = values(r.shift);
        j["shift_subpixel"] = values(r.shift_subpixel);
        j["offset_change"] = r.offset_change;
        j["axis_before"] = axis_json(ll.axis());
        j["axis_after"] = axis_json(r.aligned.axis());
        j["t_over_lambda"] = values(t.t_over_lambda);
        j["threshold"] = values(t.threshold);
        std::map<std::string, std::size_t> counts;
        for (auto s : t.status) ++counts[prep::to_string(s)];
        j["thickness_status_counts"] = counts;
        j["thickness_failed_pixels"] = t.status.size() - counts[prep::to_string(prep::ThicknessStatus::ok)];
        std::size_t no_centre = 0;
        for (double c : r.centre_before) no_centre += std::isnan(c) ? 1 : 0;
        j["failed_pixels"] = no_centre;
        if (cl) {
            j["also"] = also;
            j["also_axis_after"] = axis_json(r.also[0].axis());
        }
        if (!out.empty()) io::write_npy(out, r.aligned);
        if (!also_out.empty() && cl) io::write_npy(also_out, r.also[0]);
        std::cout << j.dump() << "\n";
        if (no_centre == r.centre_before.size()) {
            std::cerr << "zlp_align: no pixel has a zero-loss peak centre (" << no_centre << " failed)\n";
            return 3;
        }
    } catch (const corespec::error& e) {
        std::cerr << "zlp_align: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

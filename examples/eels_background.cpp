// eels_background FILE --window LO HI [--fit fast|lsq] [--model power_law|exponential|polynomial]
//                 [--order N] [--zero-fill] [--threads N] [--out subtracted.npy]
//
// Reads a spectrum or spectrum image (DM3/DM4, MSA, NPY, ...), fits the
// pre-edge background over [LO, HI] eV in every pixel and prints one JSON
// object: the parameters per pixel in navigation (row-major) order ("A", "r"
// for a power law, as HyperSpy's remove_background), a status per pixel, and
// the window channels and the channel ranges the fit really read
// ("fit_channels", half-open [first, last)), and the number of pixels whose
// fit failed. --out writes the background-subtracted data as NPY: (N,) for a
// single spectrum (as HyperSpy), navigation shape + (N,) for an image; a
// pixel whose fit failed is NaN there (a recipe step never writes a number
// it cannot stand behind). The work is one recipe step,
// steps::BackgroundStep (docs/preprocessing.md).
// Exit status: 0 when at least one pixel was fitted, 1 bad input, 2 misuse,
// 3 no pixel could be fitted (the JSON is printed all the same).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/npy.hpp"
#include "corespec/io/read.hpp"
#include "corespec/prep/eels_background.hpp"
#include "corespec/steps/recipe.hpp"
#include "support/command_line.hpp"

int main(int argc, char** argv) {
    using namespace corespec;
    const corespec_example::CommandLine cli(
        argc, argv,
        "eels_background FILE --window LO HI [--fit fast|lsq] [--model power_law|exponential|polynomial] "
        "[--order N] [--zero-fill] [--threads N] [--out subtracted.npy]",
        {{"--window", 2}, {"--fit", 1}, {"--model", 1}, {"--order", 1}, {"--zero-fill", 0}, {"--threads", 1}, {"--out", 1}},
        "Fits and subtracts the EELS pre-edge background over [LO, HI] eV in every pixel (HyperSpy remove_background).\n"
        "Prints one JSON object: parameters and status per pixel, window_channels, fit_channels, failed_pixels.\n"
        "Exit status: 0 at least one pixel fitted, 1 bad input, 2 misuse, 3 no pixel could be fitted.\n");
    const std::string file = cli.positional(1, 1)[0];
    if (!cli.has("--window")) cli.fail("--window LO HI is required");
    prep::BackgroundOptions o;
    const std::vector<double> window = cli.numbers("--window");
    o.lo = window[0];
    o.hi = window[1];
    o.fit = cli.choice<prep::BackgroundFit>("--fit", {{"fast", prep::BackgroundFit::fast}, {"lsq", prep::BackgroundFit::least_squares}},
                                            o.fit);
    o.model = cli.choice<prep::BackgroundModel>("--model",
                                                {{"power_law", prep::BackgroundModel::power_law},
                                                 {"exponential", prep::BackgroundModel::exponential},
                                                 {"polynomial", prep::BackgroundModel::polynomial}},
                                                o.model);
    o.polynomial_order = static_cast<int>(cli.count("--order", static_cast<std::size_t>(o.polynomial_order), 0, 10));
    o.zero_fill = cli.has("--zero-fill");
    const unsigned threads = static_cast<unsigned>(cli.count("--threads", 1, 1, 256));
    const std::string out = cli.text("--out");
    try {
        io::FileInfo info;
        const auto image = io::read_spectrum_image<double>(file, &info);
        // One step; the same recipe runs in a model file or a stream.
        const auto recipe = steps::Recipe().then(steps::BackgroundStep(o));
        const auto r = recipe.run(image, threads);
        const prep::BackgroundRemover rm(image.axis(), o);  // the window and fit ranges it uses, for the report
        nlohmann::json j;
        j["file"] = file;
        j["format"] = io::to_string(info.format);
        j["navigation_shape"] = image.navigation_shape();
        j["window"] = {o.lo, o.hi};
        j["window_channels"] = {rm.window_indices().first, rm.window_indices().second};
        nlohmann::json used = nlohmann::json::array();
        for (const auto& [first, last] : rm.fit_ranges()) used.push_back({first, last});
        j["fit_channels"] = used;  // half-open ranges, e.g. the two areas of the fast power law
        j["fit"] = o.fit == prep::BackgroundFit::fast ? "fast" : "lsq";
        const std::string step = steps::BackgroundStep::step_name;
        if (o.model == prep::BackgroundModel::power_law) {
            j["model"] = "power_law";
            j["A"] = r.report.column(step + ".A");
            j["r"] = r.report.column(step + ".r");
        } else if (o.model == prep::BackgroundModel::exponential) {
            j["model"] = "exponential";
            j["A"] = r.report.column(step + ".A");
            j["tau"] = r.report.column(step + ".tau");
        } else {
            j["model"] = "polynomial";
            std::vector<std::vector<double>> cols;  // c_k per pixel, ascending powers of E
            for (std::size_t k = 0; k < rm.parameter_count(); ++k)
                cols.push_back(r.report.column(step + ".c" + std::to_string(k)));
            j["coefficients"] = cols;
        }
        std::vector<std::string> status;
        std::map<std::string, std::size_t> counts;
        for (auto s : r.report.status) {
            status.push_back(to_string(s));
            ++counts[to_string(s)];
        }
        j["status"] = status;
        j["status_counts"] = counts;
        const std::size_t fitted = r.report.count(PixelStatus::ok);
        j["failed_pixels"] = r.report.failed();
        if (!out.empty()) {
            // A file without navigation axes holds one spectrum: written as (N,), as HyperSpy does.
            if (info.axes.size() <= 1 && image.pixel_count() == 1)
                io::write_npy(out, r.image.spectrum(0));
            else
                io::write_npy(out, r.image);
            j["out"] = out;
        }
        std::cout << j.dump() << "\n";
        if (fitted == 0) {
            std::cerr << "eels_background: no pixel could be fitted (" << image.pixel_count() << " failed)\n";
            return 3;
        }
    } catch (const corespec::error& e) {
        std::cerr << "eels_background: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

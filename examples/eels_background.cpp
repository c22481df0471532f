// eels_background FILE --window LO HI [--fit fast|lsq] [--model power_law|exponential|polynomial]
//                 [--order N] [--zero-fill] [--threads N] [--out subtracted.npy]
//
// Reads a spectrum or spectrum image (DM3/DM4, MSA, NPY, ...), fits the
// pre-edge background over [LO, HI] eV in every pixel and prints one JSON
// object: the parameters per pixel in navigation (row-major) order ("A", "r"
// for a power law, as HyperSpy's remove_background), a status per pixel, and
// the window channels used. --out writes the background-subtracted data as NPY.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/npy.hpp"
#include "corespec/io/read.hpp"
#include "corespec/prep/eels_background.hpp"

namespace {

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "eels_background: " << why << "\n"
              << "usage: eels_background FILE --window LO HI [--fit fast|lsq] "
                 "[--model power_law|exponential|polynomial] [--order N] [--zero-fill] [--threads N] "
                 "[--out subtracted.npy]\n";
    std::exit(2);
}

double number(const char* s, const std::string& what) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || *end != '\0') usage("bad number for " + what + ": " + s);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace corespec;
    std::string file, out;
    prep::BackgroundOptions o;
    bool have_window = false;
    unsigned threads = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto need = [&](int k) {
            if (i + k >= argc) usage(a + " needs " + std::to_string(k) + " value(s)");
        };
        if (a == "--window") {
            need(2);
            o.lo = number(argv[++i], "--window");
            o.hi = number(argv[++i], "--window");
            have_window = true;
        } else if (a == "--fit") {
            need(1);
            const std::string f = argv[++i];
            if (f == "fast") o.fit = prep::BackgroundFit::fast;
            else if (f == "lsq") o.fit = prep::BackgroundFit::least_squares;
            else usage("--fit must be fast or lsq");
        } else if (a == "--model") {
            need(1);
            const std::string m = argv[++i];
            if (m == "power_law") o.model = prep::BackgroundModel::power_law;
            else if (m == "exponential") o.model = prep::BackgroundModel::exponential;
            else if (m == "polynomial") o.model = prep::BackgroundModel::polynomial;
            else usage("unknown --model " + m);
        } else if (a == "--order") {
            need(1);
            o.polynomial_order = static_cast<int>(number(argv[++i], "--order"));
        } else if (a == "--zero-fill") {
            o.zero_fill = true;
        } else if (a == "--threads") {
            need(1);
            threads = static_cast<unsigned>(number(argv[++i], "--threads"));
        } else if (a == "--out") {
            need(1);
            out = argv[++i];
        } else if (!a.empty() && a[0] == '-') {
            usage("unknown option " + a);
        } else if (file.empty()) {
            file = a;
        } else {
            usage("more than one FILE");
        }
    }
    if (file.empty()) usage("no FILE");
    if (!have_window) usage("--window LO HI is required");
    try {
        io::FileInfo info;
        const auto image = io::read_spectrum_image<double>(file, &info);
        const auto r = prep::remove_background(image, o, threads);
        const prep::BackgroundRemover rm(image.axis(), o);
        nlohmann::json j;
        j["file"] = file;
        j["format"] = io::to_string(info.format);
        j["navigation_shape"] = image.navigation_shape();
        j["window"] = {o.lo, o.hi};
        j["window_channels"] = {rm.window_indices().first, rm.window_indices().second};
        j["fit"] = o.fit == prep::BackgroundFit::fast ? "fast" : "lsq";
        const std::size_t np = rm.parameter_count();
        std::vector<std::vector<double>> cols(np);
        for (std::size_t p = 0; p < image.pixel_count(); ++p)
            for (std::size_t k = 0; k < np; ++k) cols[k].push_back(r.parameters.flat(p * np + k));
        if (o.model == prep::BackgroundModel::power_law) {
            j["model"] = "power_law";
            j["A"] = cols[0];
            j["r"] = cols[1];
        } else if (o.model == prep::BackgroundModel::exponential) {
            j["model"] = "exponential";
            j["A"] = cols[0];
            j["tau"] = cols[1];
        } else {
            j["model"] = "polynomial";
            j["coefficients"] = cols;  // c_k per pixel, ascending powers of E
        }
        std::vector<std::string> status;
        std::map<std::string, std::size_t> counts;
        for (auto s : r.status) {
            status.push_back(prep::to_string(s));
            ++counts[prep::to_string(s)];
        }
        j["status"] = status;
        j["status_counts"] = counts;
        if (!out.empty()) {
            io::write_npy(out, r.subtracted);
            j["out"] = out;
        }
        std::cout << j.dump() << "\n";
    } catch (const corespec::error& e) {
        std::cerr << "eels_background: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

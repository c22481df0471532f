// xas_normalize: Larch-style pre-edge / post-edge normalisation of one XAS scan.
//
//   xas_normalize FILE [--group G] [--e0 E] [--pre1 A --pre2 B --norm1 C --norm2 D --nnorm N]
//                      [--out norm.csv]
//
// FILE is an XDI file (mu as the file says: a mu column, else ln(i0/itrans),
// else ifluor/i0), a column text file (energy and mu columns, e.g. a Larch
// .xmu or a two-column .dat), or an Athena project (.prj; group G by label,
// name or 0-based index, default the first; energies x + bkg_eshift).
// Unset parameters are chosen as Larch's pre_edge does. Prints one JSON
// object with the values used; --out writes energy,norm,flat as CSV.
// Exit status: 0 ok, 1 bad input, 2 no edge in the data, 64 usage.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <corespec/io/athena.hpp>
#include <corespec/io/read.hpp>
#include <corespec/prep/xas_normalize.hpp>

using namespace corespec;

namespace {

int usage(const char* why) {
    std::fprintf(stderr,
                 "xas_normalize: %s\nusage: xas_normalize FILE [--group G] [--e0 E] [--pre1 A] [--pre2 B] "
                 "[--norm1 C] [--norm2 D] [--nnorm N] [--out norm.csv]\n",
                 why);
    return 64;
}

double number(const std::string& flag, const char* text) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !std::isfinite(v)) throw value_error(flag + ": not a number: '" + text + "'");
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage("no input file");
    std::string file, out, group;
    prep::PreEdgeParams params;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a.rfind("--", 0) != 0) {
                if (!file.empty()) return usage(("unexpected argument '" + a + "'").c_str());
                file = a;
                continue;
            }
            if (i + 1 >= argc) return usage((a + " needs a value").c_str());
            const char* v = argv[++i];
            if (a == "--e0") params.e0 = number(a, v);
            else if (a == "--pre1") params.pre1 = number(a, v);
            else if (a == "--pre2") params.pre2 = number(a, v);
            else if (a == "--norm1") params.norm1 = number(a, v);
            else if (a == "--norm2") params.norm2 = number(a, v);
            else if (a == "--nnorm") {
                const double n = number(a, v);
                if (n != std::floor(n) || n < 0 || n > 5) throw value_error("--nnorm: an integer 0..5");
                params.nnorm = static_cast<int>(n);
            } else if (a == "--out") out = v;
            else if (a == "--group") group = v;
            else return usage(("unknown option " + a).c_str());
        }
        if (file.empty()) return usage("no input file");

        grid::Spectrum<double> spectrum = [&] {
            io::FileInfo info;
            if (io::detect_format(io::detail::read_head(file, 4096), file) == io::Format::athena) {
                const auto project = io::read_athena(file);
                if (project.groups.empty()) throw value_error(file + ": no groups");
                const io::AthenaGroup* g = &project.groups.front();
                if (!group.empty()) {
                    char* end = nullptr;
                    const long idx = std::strtol(group.c_str(), &end, 10);
                    if (*end == '\0' && idx >= 0 && static_cast<std::size_t>(idx) < project.groups.size())
                        g = &project.groups[static_cast<std::size_t>(idx)];
                    else
                        g = &project.group(group);
                }
                return io::to_spectrum<double>(*g, true, file);
            }
            return io::read_spectrum<double>(file, &info);
        }();

        const auto r = prep::PreEdge{params}(spectrum.view());

        nlohmann::ordered_json j;
        j["file"] = file;
        if (auto it = spectrum.metadata().extra.find("xdi.mu"); it != spectrum.metadata().extra.end()) j["mu"] = it->second;
        j["points"] = spectrum.size();
        j["e0"] = r.e0;
        j["edge_step"] = r.edge_step;
        j["pre1"] = r.pre1;
        j["pre2"] = r.pre2;
        j["norm1"] = r.norm1;
        j["norm2"] = r.norm2;
        j["nnorm"] = r.nnorm;
        j["nvict"] = r.nvict;
        j["pre_slope"] = r.pre_slope;
        j["pre_offset"] = r.pre_offset;
        j["norm_coefs"] = r.norm_coefs;
        j["edge_snr"] = std::isfinite(r.edge_snr) ? nlohmann::ordered_json(r.edge_snr) : nlohmann::ordered_json(nullptr);
        if (!out.empty()) {
            std::ofstream o(out);
            if (!o) throw io_error("cannot write " + out);
            o << "# energy,norm,flat\n" << std::setprecision(17);
            for (std::size_t i = 0; i < spectrum.size(); ++i)
                o << spectrum.energy(i) << ',' << r.norm[i] << ',' << r.flat[i] << '\n';
            if (!o) throw io_error("cannot write " + out);
            j["out"] = out;
        }
        std::cout << j.dump(2) << '\n';
        return 0;
    } catch (const prep::no_edge_error& e) {
        std::cout << nlohmann::json{{"file", file}, {"no_edge", true}, {"error", e.what()}}.dump(2) << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xas_normalize: %s\n", e.what());
        return 1;
    }
}

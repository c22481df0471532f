// xas_normalize: Larch-style pre-edge / post-edge normalisation of one XAS scan.
//
//   xas_normalize FILE [--group G] [--e0 E] [--pre1 A --pre2 B --norm1 C --norm2 D --nnorm N]
//                      [--out norm.csv]
//
// FILE is an XDI file (mu as the file says: a mu column, else ln(i0/itrans),
// else ifluor/i0), a column text file (energy and mu columns, e.g. a Larch
// .xmu or a two-column .dat), or an Athena project (.prj; group G by label,
// name or 0-based index, default the first group with energy and mu;
// energies x + bkg_eshift).
// Unset parameters are chosen as Larch's pre_edge does. Prints one JSON
// object with the values used; --out writes energy,norm,flat as CSV.
// Exit status: 0 ok, 1 bad input, 2 misuse (usage on stderr), 3 no edge in the data
// (flat, noise only, or a falling edge: mu with the wrong sign). --help: usage, exit 0.
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

#include "support/command_line.hpp"

using namespace corespec;

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv,
        "xas_normalize FILE [--group G] [--e0 E] [--pre1 A] [--pre2 B] [--norm1 C] [--norm2 D] [--nnorm N] "
        "[--out norm.csv]",
        {{"--group", 1}, {"--e0", 1}, {"--pre1", 1}, {"--pre2", 1}, {"--norm1", 1}, {"--norm2", 1}, {"--nnorm", 1},
         {"--out", 1}},
        "Larch-style pre-edge / post-edge normalisation of one XAS scan (XDI, column text or Athena project).\n"
        "Unset parameters are chosen as Larch's pre_edge does; --nnorm in 0..5. Prints one JSON object.\n"
        "Exit status: 0 ok, 1 bad input, 2 misuse, 3 no rising edge in the data (flat, noise only, or a\n"
        "falling edge: mu with the wrong sign).\n");
    const std::string file = cli.positional(1, 1)[0], out = cli.text("--out"), group = cli.text("--group");
    prep::PreEdgeParams params;
    // Unset parameters stay std::nullopt: Larch's default rules choose them from the data.
    auto optional_number = [&](const char* option, std::optional<double>& to) {
        if (cli.has(option)) to = cli.number(option, 0);
    };
    optional_number("--e0", params.e0);
    optional_number("--pre1", params.pre1);
    optional_number("--pre2", params.pre2);
    optional_number("--norm1", params.norm1);
    optional_number("--norm2", params.norm2);
    if (cli.has("--nnorm")) params.nnorm = static_cast<int>(cli.count("--nnorm", 0, 0, 5));
    try {
        // read_spectrum reads any format, an Athena project as its first group with
        // energy and mu; --group picks another group of a project.
        grid::Spectrum<double> spectrum = [&] {
            if (group.empty()) return io::read_spectrum<double>(file);
            const auto project = io::read_athena(file);
            const io::AthenaGroup* g = nullptr;
            char* end = nullptr;
            const long idx = std::strtol(group.c_str(), &end, 10);
            if (*end == '\0' && idx >= 0 && static_cast<std::size_t>(idx) < project.groups.size())
                g = &project.groups[static_cast<std::size_t>(idx)];
            else
                g = &project.group(group);
            return io::to_spectrum<double>(*g, true, file);
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
        return 3;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xas_normalize: %s\n", e.what());
        return 1;
    }
}

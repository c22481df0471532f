// nmc_features: fused features of an NMC set, written as CSV for other tools
// (tools/sklearn_baseline.py runs scikit-learn on exactly these features).
//
//   nmc_features --out DIR [--samples N] [--seed S]          synthetic set (corespec::synth)
//   nmc_features --out DIR --manifest feff_nmc/manifest.csv   the FEFF NMC layout
//                [--edge-shifts SHIFTS.json]                  apply a stored calibration
//
// Each edge through its recipe (the synthetic K edges: pre-edge
// normalisation), on its grid, min-max normalised, concatenated (study 1's
// features; fusion/nmc.hpp, the same as nmc_demo's). Writes DIR/features.csv (sample_id, group_id, the targets, then
// one column "<modality>@<energy>" per feature), DIR/modalities.json (the
// grids) and, for a manifest, DIR/edge_shifts.json (one shift per edge,
// calibrated on this set unless --edge-shifts gives one: calibrate on the
// training set and reuse its table for a test set). Prints a JSON summary.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <corespec/fusion/nmc.hpp>
#include <corespec/io/edge_shift_table.hpp>

#include "support/command_line.hpp"
#include "support/memory.hpp"

using namespace corespec;

namespace {

fusion::Dataset synthetic_set(std::size_t n, std::uint64_t seed, std::vector<fusion::Modality>& modalities) {
    modalities = fusion::nmc::synthetic_modalities();
    return fusion::nmc::synthetic_set(n, seed);
}

// The FEFF NMC layout; one shift per edge, calibrated on this set unless a table is given.
fusion::Dataset feff_set(const std::string& manifest, const std::string& shifts_file, const std::filesystem::path& out,
                         std::vector<fusion::Modality>& modalities) {
    auto d = fusion::nmc::read_feff_manifest(manifest);
    const auto table = shifts_file.empty() ? fusion::calibrate_edge_shifts(d, fusion::nmc::feff_references(), "FEFF10")
                                           : io::load_edge_shift_table(shifts_file);
    d.apply_edge_shifts(table, "FEFF10");
    io::save_edge_shift_table(out / "edge_shifts.json", table);
    modalities = fusion::nmc::feff_modalities();
    return d;
}

void write_csv(const std::filesystem::path& path, const fusion::Dataset& d, const fusion::FeatureMatrix& x) {
    std::ofstream f(path);
    if (!f) throw io_error("cannot write " + path.string());
    f << "sample_id,group_id";
    for (const auto& t : d.targets()) f << ',' << t.name;
    char buf[64];
    for (const auto& slot : x.layout)
        for (std::size_t i = 0; i < slot.size(); ++i) {
            std::snprintf(buf, sizeof buf, ",%s@%.2f", slot.name.c_str(), slot.axis.energy(i));
            f << buf;
        }
    f << '\n';
    for (std::size_t r = 0; r < x.rows; ++r) {
        f << d[r].id << ',' << d[r].group;
        for (double v : d[r].targets) {
            std::snprintf(buf, sizeof buf, ",%.9g", v);
            f << buf;
        }
        const double* row = x.row(r);
        for (std::size_t c = 0; c < x.columns(); ++c) {
            std::snprintf(buf, sizeof buf, ",%.6g", row[c]);
            f << buf;
        }
        f << '\n';
    }
    if (!f) throw io_error("write failed for " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cl(
        argc, argv, "nmc_features --out DIR [--samples N] [--seed S] | --out DIR --manifest CSV [--edge-shifts JSON]",
        {{"--out", 1}, {"--samples", 1}, {"--seed", 1}, {"--manifest", 1}, {"--edge-shifts", 1}});
    cl.positional(0, 0);
    if (!cl.has("--out")) cl.fail("--out is required");
    if (cl.has("--edge-shifts") && !cl.has("--manifest")) cl.fail("--edge-shifts applies to --manifest only");
    if (cl.has("--manifest") && (cl.has("--samples") || cl.has("--seed"))) cl.fail("--samples and --seed are for the synthetic set");
    try {
        const std::filesystem::path out = cl.text("--out");
        std::filesystem::create_directories(out);
        std::vector<fusion::Modality> modalities;
        const bool manifest = cl.has("--manifest");
        if (!manifest) corespec_example::require_memory("--samples", cl.count("--samples", 1000, 2), 2 * fusion::nmc::synthetic_sample_bytes());
        const fusion::Dataset d = manifest ? feff_set(cl.text("--manifest"), cl.text("--edge-shifts"), out, modalities)
                                           : synthetic_set(cl.count("--samples", 1000, 2), cl.count("--seed", 1), modalities);
        const auto x = d.features(modalities);
        write_csv(out / "features.csv", d, x);
        std::ofstream(out / "modalities.json") << fusion::modalities_to_json(modalities).dump(2) << '\n';
        std::string names;
        for (const auto& m : modalities) names += std::string(names.empty() ? "" : ", ") + "\"" + m.name + "\"";
        std::printf("{\"ok\": true, \"source\": \"%s\", \"samples\": %zu, \"features\": %zu, \"modalities\": [%s], \"out\": \"%s\"}\n",
                    manifest ? "manifest" : "synthetic", x.rows, x.columns(), names.c_str(), out.string().c_str());
        return 0;
    } catch (const corespec::error& e) {
        std::fprintf(stderr, "nmc_features: %s\n", e.what());
        return 1;
    }
}

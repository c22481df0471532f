// nmc_features: fused features of an NMC set, written as CSV for other tools
// (tools/sklearn_baseline.py runs scikit-learn on exactly these features).
//
//   nmc_features --out DIR [--samples N] [--seed S]          synthetic set (corespec::synth)
//   nmc_features --out DIR --manifest feff_nmc/manifest.csv   the FEFF NMC layout
//                [--edge-shifts SHIFTS.json]                  apply a stored calibration
//
// Each edge on its grid, min-max normalised, concatenated (study 1's
// features). Writes DIR/features.csv (sample_id, group_id, the targets, then
// one column "<modality>@<energy>" per feature), DIR/modalities.json (the
// grids) and, for a manifest, DIR/edge_shifts.json (one shift per edge,
// calibrated on this set unless --edge-shifts gives one: calibrate on the
// training set and reuse its table for a test set). Prints a JSON summary.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <corespec/fusion/manifest.hpp>
#include <corespec/io/edge_shift_table.hpp>
#include <corespec/synth/nmc.hpp>

#include "support/command_line.hpp"

using namespace corespec;

namespace {

const std::vector<std::string> target_names{"frac_Li", "frac_Ni", "frac_Mn", "frac_Co", "o_vacancy_present",
                                            "antisite_present"};

std::vector<fusion::Target> targets() {
    std::vector<fusion::Target> t;
    for (const auto& n : target_names)
        t.push_back({n, n.find("_present") != std::string::npos ? fusion::TargetKind::binary : fusion::TargetKind::regression});
    return t;
}

fusion::Dataset synthetic_set(std::size_t n, std::uint64_t seed, std::vector<fusion::Modality>& modalities) {
    for (const auto& e : synth::nmc_edges)
        modalities.emplace_back(e.name, e.element, e.edge, e.technique, synth::nmc_default_grid(e.id));
    fusion::Dataset d(targets());
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = synth::nmc_sample(seed, i);
        fusion::Sample sample{s.id, s.id, {}, {}};  // every structure its own group
        for (std::size_t k = 0; k < s.spectra.size(); ++k) sample.spectra.emplace(synth::nmc_edges[k].name, s.spectra[k]);
        const auto labels = synth::nmc_labels(s.structure);
        for (const auto& name : target_names)
            for (const auto& [label, value] : labels)
                if (label == name) sample.targets.push_back(value);
        d.add(std::move(sample));
    }
    return d;
}

// The FEFF NMC set (../shared/data/sim/feff_nmc): four K edges. Grids span
// [-5, +45] eV about the tabulated edge energies; the onset search windows
// lie about FEFF's mean Fermi level of each edge (its README).
struct FeffEdge {
    const char* name;
    const char* element;
    double literature, fermi;
};
constexpr FeffEdge feff_edges[] = {{"O_K", "O", 532.0, 534.1},
                                   {"Mn_K", "Mn", 6539.0, 6543.9},
                                   {"Co_K", "Co", 7709.0, 7715.3},
                                   {"Ni_K", "Ni", 8333.0, 8338.2}};

fusion::Dataset feff_set(const std::string& manifest, const std::string& shifts_file, const std::filesystem::path& out,
                         std::vector<fusion::Modality>& modalities) {
    fusion::ManifestOptions o;
    std::vector<fusion::EdgeReference> refs;
    for (const FeffEdge& e : feff_edges) {
        o.modalities.emplace_back(e.name, e.element, "K", grid::Technique::xas,
                                  fusion::grid_window(e.literature - 5.0, e.literature + 45.0, 0.2));
        refs.push_back({e.name, e.literature, e.fermi - 6.0, e.fermi + 8.0});
    }
    o.targets = targets();
    auto d = fusion::read_manifest(manifest, o);
    const auto table = shifts_file.empty() ? fusion::calibrate_edge_shifts(d, refs, "FEFF10")
                                           : io::load_edge_shift_table(shifts_file);
    d.apply_edge_shifts(table, "FEFF10");
    io::save_edge_shift_table(out / "edge_shifts.json", table);
    modalities = o.modalities;
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

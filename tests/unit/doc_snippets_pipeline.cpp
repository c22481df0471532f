// The C++ blocks of docs/fusion.md, docs/report.md, docs/streaming.md and
// docs/synthetic.md, verbatim, with the inputs they use defined before
// them. Each block runs in a test case (small sizes) that checks its result,
// except fusion.md's training block, which is only compiled (see there);
// the blocks on ../shared data are reference tests, skipped without it. The
// ctest docs.snippets.* checks (cmake/check_doc_snippets.cmake) fail when a
// page and this file differ.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <corespec/fusion/modality.hpp>
#include <corespec/fusion/manifest.hpp>
#include <corespec/fusion/model.hpp>
#include <corespec/fusion/measured.hpp>
#include <corespec/io/read.hpp>
#include <corespec/report/report.hpp>
#include <corespec/stream/stream.hpp>
#include <corespec/synth/nmc.hpp>

#include "support/latent_fixture.hpp"
#include "support/shared_data.hpp"

namespace doc_snippets_pipeline {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name)
        : path(fs::temp_directory_path() / ("corespec_doc_snippets_" + name + "_" + std::to_string(std::rand()))) {}
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// The EELS modalities of the NMC models (study 1's grids), as test_measured.cpp.
std::vector<corespec::fusion::Modality> nmc_eels_modalities() {
    using namespace corespec;
    std::vector<fusion::Modality> m;
    for (const auto& e : synth::nmc_edges)
        if (e.technique == grid::Technique::eels) m.emplace_back(e.name, e.element, e.edge, e.technique, synth::nmc_default_grid(e.id));
    return m;
}

// docs/fusion.md, modalities and fusion (spectra of a synthetic NMC sample).
TEST_CASE("doc snippet fusion.md 1: fuse a subset of modalities") {
    const auto sample = corespec::synth::nmc_sample(3, 0);
    const auto& o_k = sample.spectra[static_cast<std::size_t>(corespec::synth::NmcEdge::o_k)];
    const auto& ni_k = sample.spectra[static_cast<std::size_t>(corespec::synth::NmcEdge::ni_k)];
using namespace corespec;

std::vector<fusion::Modality> modalities{
    {"O_K", "O", "K", grid::Technique::eels, fusion::grid_window(528.9, 562.1, 0.2)},      // study 1
    {"Ni_L23", "Ni", "L23", grid::Technique::eels, fusion::grid_window(853.1, 880.1, 0.2)},
    {"Ni_K", "Ni", "K", grid::Technique::xas, fusion::grid_window(8329.0, 8379.0, 0.2),
     fusion::Normalisation::area},
};
std::map<std::string, grid::Spectrum<double>> raw{{"O_K", o_k}, {"Ni_K", ni_k}};  // Ni L missing
auto fused = fusion::fuse(modalities, raw);
// fused.values  : 167 + 136 + 251 features, Ni L's are 0
// fused.present : {1, 0, 1}; fused.feature_mask() per feature
// fused.layout  : name, axis and offset of each modality (FeatureLayout)
    REQUIRE(fused.values.size() == 167 + 136 + 251);
    CHECK(fused.present == std::vector<unsigned char>{1, 0, 1});
    const std::size_t ni_l = fused.layout.find("Ni_L23");
    for (std::size_t i = fused.layout[ni_l].offset; i < fused.layout[ni_l].end(); ++i) CHECK(fused.values[i] == 0.0);
    for (double v : fused.values) CHECK(std::isfinite(v));
}

// docs/fusion.md, a simulated set from a manifest (../shared/data/sim/feff_nmc).
CORESPEC_REFERENCE_TEST("doc snippet fusion.md 2: the FEFF manifest, edge shifts, features, group folds") {
    const fs::path feff_nmc = corespec_test::shared_path("data/sim/feff_nmc");
    const auto xas_k = [](const char* name, const char* element, double edge) {
        return corespec::fusion::Modality(name, element, "K", corespec::grid::Technique::xas,
                                          corespec::fusion::grid_window(edge - 5.0, edge + 45.0, 0.2));
    };
    const auto o_k = xas_k("O_K", "O", 532.0), mn_k = xas_k("Mn_K", "Mn", 6539.0), co_k = xas_k("Co_K", "Co", 7709.0),
               ni_k = xas_k("Ni_K", "Ni", 8333.0);
    using namespace corespec;
fusion::ManifestOptions o;                  // id_column "sample_id", group_column "group_id" (optional)
o.modalities = {o_k, mn_k, co_k, ni_k};     // column name = modality name
o.targets = {{"frac_Ni"}, {"o_vacancy_present", fusion::TargetKind::binary}};
auto d = fusion::read_manifest(feff_nmc / "manifest.csv", o);  // feff_nmc: a std::filesystem::path

// FEFF energies are uncalibrated: one shift per edge for the whole set.
// Per modality: the literature edge, and the onset search window in FEFF's energies.
std::vector<fusion::EdgeReference> refs{{"O_K", 532.0, 528.1, 542.1}, {"Mn_K", 6539.0, 6537.9, 6551.9},
                                        {"Co_K", 7709.0, 7709.3, 7723.3}, {"Ni_K", 8333.0, 8332.2, 8346.2}};
auto shifts = fusion::calibrate_edge_shifts(d, refs, "FEFF10");
d.apply_edge_shifts(shifts, "FEFF10");      // align::EdgeShiftTable, save it with shifts.save(path)

auto x = d.features(o.modalities);          // rows x layout.size(), present per row and modality
std::size_t tested = 0;
for (const auto& fold : fusion::group_kfold(d, 5, /*seed*/ 1)) tested += fold.test.size();  // and fold.train
auto split = fusion::group_train_test_split(d, 0.2, /*seed*/ 1);
    CHECK(d.size() >= 100);
    CHECK(std::abs(shifts.at("Ni", "K", "FEFF10")) < 15.0);
    CHECK(x.rows == d.size());
    CHECK(x.columns() == 4 * 251);
    CHECK(tested == d.size());  // each sample tested in exactly one fold
    CHECK(split.train.size() + split.test.size() == d.size());
    CHECK(!split.test.empty());
}

// docs/fusion.md, training and prediction. Compiled, not run: training an
// ensemble with the default options takes too long for a unit test
// (test_fusion_model.cpp trains a small one and checks its predictions).
[[maybe_unused]] void fusion_train_predict(const corespec::fusion::Dataset& train_set, const corespec::fusion::Dataset& test_set,
                                           const std::vector<corespec::fusion::Modality>& modalities,
                                           const corespec::grid::Spectrum<double>& o_k, const corespec::grid::Spectrum<double>& ni_k) {
    using namespace corespec;
fusion::FusionOptions o;                 // late fusion, 3 members, modality dropout 0.2
auto model = fusion::train(train_set, modalities, o);
fusion::Prediction p = model.predict(test_set);   // p.value[target][row], p.sd[target][row]
auto q = model.predict(std::map<std::string, grid::Spectrum<double>>{{"O_K", o_k}, {"Ni_K", ni_k}});  // any subset
auto files = model.save("out/multimodal");         // out/multimodal_0.safetensors, _1, ... (one per network)
auto back = fusion::FusionModel::load(files);
    (void)p, (void)q, (void)back;
}

// docs/fusion.md, a measured spectrum image (../shared/data/eels/nmc).
CORESPEC_REFERENCE_TEST("doc snippet fusion.md 4: prepare_measured_si on the NMC spectrum images") {
    const fs::path nmc = corespec_test::shared_path("data/eels/nmc");
    const auto modalities = nmc_eels_modalities();
    using namespace corespec;
auto cl = io::read_spectrum_image<double>(nmc / "nmc_coreloss_si.dm3");  // nmc: a std::filesystem::path
auto ll = io::read_spectrum_image<double>(nmc / "nmc_lowloss_si.dm3");
fusion::MeasuredSI si = fusion::prepare_measured_si(cl, ll, modalities);  // MeasuredOptions{} by default
std::puts(si.summary().c_str());
auto x = si.feature_matrix();   // rows = pixels; presence per (pixel, modality)
    CHECK(si.navigation_shape == cl.navigation_shape());
    CHECK(x.rows == si.pixel_count());
    CHECK(x.columns() == si.layout.size());
    CHECK(si.complete_pixels() > 0);
}

// docs/report.md, scores, figures and the report folder (made-up predictions).
TEST_CASE("doc snippet report.md 1: metrics table, figures, written report") {
    const std::vector<double> truth{0.1, 0.3, 0.5, 0.7, 0.9}, pred_ni_l{0.2, 0.2, 0.6, 0.5, 0.8},
        pred_fused{0.12, 0.28, 0.52, 0.69, 0.88}, sd_fused{0.02, 0.03, 0.02, 0.04, 0.03};
    const std::vector<double> labels{0, 1, 0, 1, 1, 0}, p_fused{0.1, 0.9, 0.3, 0.7, 0.6, 0.2}, p_o{0.4, 0.6, 0.5, 0.3, 0.8, 0.2};
    const TempDir dir("report");
    const std::string out_dir = (dir.path / "report").string();
using namespace corespec;

report::MetricsTable t;
t.add("Ni_L23", "frac_Ni", "R2", report::r2_score(truth, pred_ni_l));
t.add("multimodal", "frac_Ni", "R2", report::r2_score(truth, pred_fused));
t.add("multimodal", "o_vacancy_present", "ROC_AUC", report::roc_auc(labels, p_fused));

report::Report r("NMC demo");
r.add_warning("The model was trained on synthetic spectra.");
r.add_heading("Held-out structures");
r.add_table(t, "scores per input set");      // its rows also go to metrics.csv / metrics.md
r.add_figure(report::parity_svg(truth, pred_fused, sd_fused, "Ni fraction"), "Parity, +-1 sd", "parity_frac_Ni");
r.add_figure(report::roc_svg({{"O_K", labels, p_o}, {"multimodal", labels, p_fused}}, "O vacancy"),
             "ROC curves", "roc_o_vacancy");
r.add_figure(report::confusion_svg(labels, report::threshold_labels(p_fused), "O vacancy", {"no", "yes"}),
             "Confusion at p >= 0.5", "confusion_o_vacancy");
r.write(out_dir);   // report.html, figures/*.svg, metrics.csv, metrics.md
    CHECK(r.figure_count() == 3);
    CHECK(report::roc_auc(labels, p_fused) == 1.0);
    CHECK(fs::is_regular_file(fs::path(out_dir) / "report.html"));
    CHECK(fs::is_regular_file(fs::path(out_dir) / "figures" / "roc_o_vacancy.svg"));
    const std::string csv = corespec_test::read_text(fs::path(out_dir) / "metrics.csv");
    CHECK(csv.find("multimodal,o_vacancy_present,ROC_AUC,1\n") != std::string::npos);
    CHECK(r.html().find("The model was trained on synthetic spectra.") != std::string::npos);
}

// docs/report.md, a map of a measured image: a made-up 2 x 3 MeasuredSI
// with pixel 2 failed.
TEST_CASE("doc snippet report.md 2: map of a per-pixel prediction, failed pixels masked") {
    using namespace corespec;
    fusion::MeasuredSI si;
    si.navigation_shape = {2, 3};
    si.layout = fusion::layout_of({fusion::Modality("O_K", "O", "K", grid::Technique::eels, fusion::grid_window(528.9, 562.1, 0.2))});
    si.presence = {1, 1, 0, 1, 1, 1};
    const std::vector<double> ni_fraction{0.2, 0.3, 0.4, 0.5, 0.6, 0.7};
    report::Report r("NMC map");
r.add_figure(report::map_svg(si.masked(ni_fraction), si.map_rows(), si.map_cols(), "Ni fraction", "predicted"),
             "Predicted Ni fraction per pixel (crossed: a failed pixel)", "map_frac_Ni");
    CHECK(r.figure_count() == 1);
    CHECK(std::isnan(si.masked(ni_fraction)[2]));
    CHECK(r.html().find("<svg") != std::string::npos);
}

// docs/streaming.md, references and a classifier (the small encoder and
// clean two-phase spectra of tests/support/latent_fixture.hpp).
TEST_CASE("doc snippet streaming.md 1: embed references, posterior draws, a kNN classifier") {
    using namespace corespec;
    const auto encoder = corespec_test::latent_encoder();
    const auto plan = corespec_test::latent_recipe().prepare(corespec_test::latent_axis());
    const std::size_t m = plan.output_axis().size();
    std::vector<float> x_ref;
    std::vector<int> labels;
    const std::vector<std::string> names{"phase_a", "phase_b"};
    const std::uint64_t seed = 99;
    auto scratch = plan.scratch<float>();
    std::vector<double> reports(plan.report_names().size());
    for (int phase = 0; phase < 2; ++phase)
        for (std::uint64_t k = 0; k < 3; ++k) {
            const auto s = corespec_test::latent_spectrum(phase, 1000 + k, true);
            x_ref.resize(x_ref.size() + m);
            plan.run_pixel<float>(strided_span<const float>(s.data(), s.size(), 1), x_ref.data() + x_ref.size() - m, reports.data(), scratch);
            labels.push_back(phase);
        }
    const std::size_t n_ref = labels.size();
nn::Workspace<float> ws;
auto emb = latent::embed(encoder, x_ref.data(), n_ref, ws);            // mean, logvar per reference
auto pts = latent::sample_posterior(emb, labels, names, 100, seed);     // 100 draws each, seeded
latent::Classifier<float> knn(pts, {latent::Method::knn, 10, latent::Weighting::uniform});
    CHECK(emb.size() == n_ref);
    CHECK(pts.size() == 100 * n_ref);
    CHECK(pts.dim == 4);
    CHECK(knn.class_names() == names);
}

// docs/streaming.md, a stream: the fixture's recipe in the description, an
// 8 x 8 frame, 256-channel spectra of two phases.
TEST_CASE("doc snippet streaming.md 2: a framed stream, one spectrum, a row and a frame") {
    using namespace corespec;
    const auto encoder = corespec_test::latent_encoder();
    const auto reference_points = corespec_test::latent_references(encoder);
    const auto axis = corespec_test::latent_axis();
    const std::string text = nlohmann::json{{"format", "corespec.stream"},
                                            {"recipe", corespec_test::latent_recipe().to_json()},
                                            {"classifier", {{"method", "knn"}, {"k", 5}}},
                                            {"threads", 2},
                                            {"batch", 8},
                                            {"frame_width", 8},
                                            {"frame_height", 8}}
                                 .dump();
    const auto spectrum = corespec_test::latent_spectrum(0, 1);
    std::vector<std::uint16_t> row(8 * axis.size());
    for (std::size_t p = 0; p < 8; ++p) {
        const auto s = corespec_test::latent_spectrum(1, 10 + p);
        for (std::size_t c = 0; c < axis.size(); ++c) row[p + 8 * c] = static_cast<std::uint16_t>(std::lround(std::max(0.0f, s[c])));
    }
    const auto frame = corespec_test::latent_spectra(64, [](std::size_t p) { return int(p % 2); });
stream::StreamSpec spec = stream::StreamSpec::parse(text);  // or fill it in code
std::vector<int> labels_seen;
stream::Stream<float> s(spec, axis, encoder, reference_points,
                        [&](const stream::Result<float>& r) { labels_seen.push_back(r.label); });  // in acquisition order
std::size_t steered = 0;
s.on_frame(stream::fraction_above(1, 0.3), [&](const stream::FrameSummary&) { ++steered; });  // steer
s.submit(spectrum.data());                                   // one spectrum, axis.size() values
// frame_width (8) spectra, any strides: here energy-slowest, value (p, c) at row[p + 8 * c]
s.submit_row(steps::Block<const std::uint16_t>{row.data(), 8, axis.size(), 1, 8});
s.submit_frame(steps::Block<const float>::contiguous(frame.data(), 8 * 8, axis.size()), axis);
s.close();                                                   // everything accepted is delivered
auto st = s.stats();   // received, processed, rejected, delivered, p50_us, p99_us, max_us
    CHECK(st.received == 1 + 8 + 64);
    CHECK(st.delivered == st.received);
    CHECK(st.rejected == 0);
    REQUIRE(labels_seen.size() == 1 + 8 + 64);
    for (int l : labels_seen) CHECK((l == 0 || l == 1));
    CHECK(steered >= 1);  // frames of half phase 1 (row and frame) pass 0.3
}

// docs/streaming.md, the two-encoder variant: the fixture's spectra, clean
// (its recipe) and raw (the same grid without the background removal).
TEST_CASE("doc snippet streaming.md 3: the two-encoder variant, trained, saved, loaded, streamed") {
    using namespace corespec;
    const auto axis = corespec_test::latent_axis();
    const auto raw_recipe = steps::Recipe()
                                .then(steps::Crop(628.0, 670.0))
                                .then(steps::Resample(630.0, 661.5, 0.5))
                                .then(steps::NormalizeStep(prep::NormKind::max));
    const std::size_t n = 96;
    const auto spectra = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p % 2); });
    std::vector<float> clean_rows(n * 64), raw_rows(n * 64);
    corespec_test::latent_recipe().run(corespec_test::latent_recipe().prepare(axis),
                                       steps::Block<const float>::contiguous(spectra.data(), n, axis.size()), span<float>(clean_rows));
    raw_recipe.run(raw_recipe.prepare(axis), steps::Block<const float>::contiguous(spectra.data(), n, axis.size()), span<float>(raw_rows));
    const nn::ConstTensorView<float> x_clean(clean_rows.data(), nn::Shape{n, 1, 64}), x_raw(raw_rows.data(), nn::Shape{n, 1, 64});
    TempDir dir("two_encoder");
    fs::create_directories(dir.path);
    const std::string raw_path = (dir.path / "raw_encoder.safetensors").string();
nn::Vae<float> vae = nn::make_conv_vae<float>(64, {4, 8}, {5, 3}, 4);                    // learns from the clean spectra
nn::Sequential<float> raw = nn::make_conv_vae<float>(64, {4, 8}, {5, 3}, 4).encoder_mean();  // raw spectra -> latent
std::uint64_t seed = 1;
for (nn::Sequential<float>* part : nn::train::vae_parts(vae)) nn::train::init_default(*part, seed++);
nn::train::init_default(raw, seed++);
nn::train::MseLoss<float> recon;
nn::train::Adam<float> adam(5e-3);
nn::train::VaeTrainOptions opt;
opt.epochs = 40, opt.beta = 1e-4, opt.pull = 1.0;  // loss += pull * |raw(x_raw) - mean(x_clean)|^2
opt.silent();
nn::train::VaeTrainer<float> trainer(vae, recon, adam, opt);
auto result = trainer.fit_two_encoder(x_clean, x_raw, raw);  // row i of x_raw: the raw form of row i of x_clean
nn::save_model(nn::Model<float>(raw, {1, 64}), raw_path);
auto raw_encoder = latent::Encoder<float>::load(raw_path);   // deterministic: a mean, no decoder
// The references go through the VAE; the stream runs the raw recipe and the raw encoder.
latent::Encoder<float> clean_encoder(std::move(vae));
    CHECK(result.epochs_run == 40);
    CHECK(raw_encoder.deterministic());
    // Trained towards the VAE mean: nearer to it than the raw encoder's initial weights.
    nn::Sequential<float> initial = nn::make_conv_vae<float>(64, {4, 8}, {5, 3}, 4).encoder_mean();
    nn::train::init_default(initial, 5);  // the seed `raw` started from (seed 1 + 4 VAE parts)
    const latent::Encoder<float> untrained(nn::Model<float>(std::move(initial), {1, 64}));
    nn::Workspace<float> ws;
    std::vector<float> mu(n * 4), z(n * 4), z0(n * 4);
    clean_encoder.encode(clean_rows.data(), n, mu.data(), nullptr, ws);
    raw_encoder.encode(raw_rows.data(), n, z.data(), nullptr, ws);
    untrained.encode(raw_rows.data(), n, z0.data(), nullptr, ws);
    double d_trained = 0, d_initial = 0;
    for (std::size_t i = 0; i < mu.size(); ++i) {
        d_trained += (z[i] - mu[i]) * (z[i] - mu[i]);
        d_initial += (z0[i] - mu[i]) * (z0[i] - mu[i]);
    }
    MESSAGE("raw encoder to the VAE mean (mean squared distance): trained ", d_trained / double(n), ", initial ", d_initial / double(n));
    CHECK(d_trained < 0.5 * d_initial);
    // References through the VAE, measured raw spectra through the raw encoder: the phases come out.
    const auto refs = corespec_test::latent_references(clean_encoder);
    stream::StreamSpec spec;
    spec.recipe = raw_recipe;
    spec.classifier = {latent::Method::knn, 5};
    spec.options.anomaly = false;
    std::vector<int> labels;
    {
        stream::Stream<float> s(spec, axis, raw_encoder, refs, [&](const stream::Result<float>& r) { labels.push_back(r.label); });
        s.submit_block(steps::Block<const float>::contiguous(spectra.data(), n, axis.size()));
    }
    REQUIRE(labels.size() == n);
    std::size_t right = 0;
    for (std::size_t p = 0; p < n; ++p) right += labels[p] == int(p % 2);
    MESSAGE("two-encoder stream: ", right, " of ", n, " pixels in their phase (a brief training)");
    for (int l : labels) CHECK((l == 0 || l == 1));  // every pixel classified
}

// docs/synthetic.md, the NMC generator.
TEST_CASE("doc snippet synthetic.md 1: NMC samples, labels, one noise-free spectrum") {
using namespace corespec;

auto set = synth::nmc_samples(1000, /*seed*/ 7);    // sample i depends only on (seed, i)
const auto& s = set[0].structure;                   // fractions, Li, defects, valences
const auto& o_k = set[0].spectra[0];                // grid::Spectrum on its raw axis
auto labels = synth::nmc_labels(s);                 // {"frac_Ni", 0.21}, ..., {"antisite_present", 1}

// One structure, one edge, without noise:
auto nmc811 = synth::nmc_structure(0.8, 0.1, 0.1, /*li*/ 0.5, /*o_vacancy*/ 0.03);
synth::NmcOptions o;  o.noise = false;
synth::Random rng(1);
auto ni_k = synth::nmc_spectrum(nmc811, synth::NmcEdge::ni_k, rng, o);
    CHECK(set.size() == 1000);
    CHECK(synth::nmc_sample(7, 0).spectra[0].values() == o_k.values());  // the same sample alone
    CHECK(!labels.empty());
    CHECK(ni_k.size() > 0);
    CHECK(ni_k.axis().front() < 8333.0);
    CHECK(ni_k.axis().back() > 8333.0);
}

}  // namespace doc_snippets_pipeline

// nmc_demo: the NMC study end to end (README's main job, issue 13).
//
//   nmc_demo [--samples N] [--seed S] [--out DIR]          synthetic default (corespec::synth)
//   nmc_demo --manifest feff_nmc/manifest.csv [--test-manifest T]   simulated spectra (FEFF layout)
//   nmc_demo ... [--epochs E] [--min-steps S] [--members M] [--strategy late|mean|early] [--folds K]
//   nmc_demo --si CORELOSS.dm3 --lowloss LOWLOSS.dm3        also predict per pixel of measured spectrum images
//   nmc_demo ... [--selection per-target|total] [--weight-decay W] [--modality-dropout P] [--encoder-width N]
//                [--hidden N]                                training options (fusion::FusionOptions)
//   nmc_demo ... [--sets O_K,Ni_L23,multimodal] [--modalities O_K,Ni_L23] [--curves CSV]
//                only some input sets / edges; validation loss per target and epoch as CSV (studies of the method)
//   nmc_demo ... [--threads N]                          members trained concurrently (default: hardware threads;
//                                                       the same models and numbers whatever N)
//
// Preprocesses every sample through its modalities' recipes and grids
// (fusion/nmc.hpp), trains one ensemble per single edge and one multimodal
// ensemble (fusion/model.hpp), evaluates on held-out structures (group
// split; group k-fold for a manifest without a test manifest), prints per
// input set R² and MAE per element fraction and accuracy, F1, ROC-AUC per
// defect flag, then the uncertainty calibration (coverage of the 68 % and
// 95 % intervals, expected calibration error) and the attribution of the
// defect heads per modality and energy window. Writes DIR (default
// nmc_demo_out): metrics.csv (input_set,target,metric,value), metrics.md,
// figures/ (parity, ROC, confusion, attribution; per-pixel maps with --si),
// report.html (self-contained) and the multimodal model files.
// Exit status: 0 done, 1 bad input or failure, 2 usage.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <corespec/explain/aggregate.hpp>
#include <corespec/explain/attribution.hpp>
#include <corespec/explain/svg.hpp>
#include <corespec/fusion/model.hpp>
#include <corespec/fusion/nmc.hpp>
#include <corespec/fusion/measured.hpp>
#include <corespec/io/edge_shift_table.hpp>
#include <corespec/io/read.hpp>
#include <corespec/report/measured.hpp>
#include <corespec/report/report.hpp>

#include "support/command_line.hpp"
#include "support/memory.hpp"

using namespace corespec;

namespace {

using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------- progress

// One line on stderr, redrawn in place, only when stderr is a terminal.
class ProgressBar {
public:
    explicit ProgressBar(bool enabled) : on_(enabled && isatty(2)) {}
    void show(double fraction, const std::string& what) {
        if (!on_) return;
        const int width = 30, filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
        const double elapsed = std::chrono::duration<double>(clock_type::now() - start_).count();
        std::fprintf(stderr, "\r[%s%s] %3.0f%% %5.0f s  %-40.40s", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), 100 * fraction, elapsed, what.c_str());
        std::fflush(stderr);
    }
    void done() {
        if (on_) std::fprintf(stderr, "\r%90s\r", "");
    }

private:
    bool on_;
    clock_type::time_point start_ = clock_type::now();
};

// ----------------------------------------------------------------- metrics

struct MetricRow {
    std::string input_set, target, metric;
    double value;
};

// Pooled predictions of one input set over the evaluated samples.
struct Pooled {
    std::vector<std::vector<double>> truth, value, sd;  // [target][row]
    void append(const fusion::Dataset& d, const fusion::Prediction& p) {
        const std::size_t nt = d.targets().size();
        truth.resize(nt), value.resize(nt), sd.resize(nt);
        for (std::size_t t = 0; t < nt; ++t)
            for (std::size_t r = 0; r < d.size(); ++r) {
                truth[t].push_back(d[r].targets[t]);
                value[t].push_back(p.value[t][r]);
                sd[t].push_back(p.sd[t][r]);
            }
    }
};

void add_metrics(std::vector<MetricRow>& rows, const std::string& set, const std::vector<fusion::Target>& targets, const Pooled& p) {
    for (std::size_t t = 0; t < targets.size(); ++t) {
        const auto& y = p.truth[t];
        const auto& v = p.value[t];
        const std::string& name = targets[t].name;
        if (targets[t].kind == fusion::TargetKind::regression) {
            rows.push_back({set, name, "r2", report::r2_score(y, v)});
            rows.push_back({set, name, "mae", report::mean_absolute_error(y, v)});
            rows.push_back({set, name, "coverage_68", report::interval_coverage(y, v, p.sd[t], 0.6827)});
            rows.push_back({set, name, "coverage_95", report::interval_coverage(y, v, p.sd[t], 0.95)});
        } else {
            const auto decided = report::threshold_labels(v);
            rows.push_back({set, name, "accuracy", report::accuracy(y, decided)});
            rows.push_back({set, name, "f1", report::f1_score(y, decided)});
            rows.push_back({set, name, "roc_auc", report::roc_auc(y, v)});
            rows.push_back({set, name, "ece", report::expected_calibration_error(y, v)});
        }
    }
}

double metric(const std::vector<MetricRow>& rows, const std::string& set, const std::string& target, const std::string& m) {
    for (const auto& r : rows)
        if (r.input_set == set && r.target == target && r.metric == m) return r.value;
    return std::nan("");
}

// The printed (and Markdown) table: one row per input set.
std::string results_table(const std::vector<MetricRow>& rows, const std::vector<std::string>& sets,
                          const std::vector<fusion::Target>& targets) {
    std::string head = "| input set |", rule = "| --- |";
    for (const auto& t : targets) {
        const bool reg = t.kind == fusion::TargetKind::regression;
        for (const char* m : reg ? std::vector<const char*>{"R2", "MAE"} : std::vector<const char*>{"acc", "F1", "ROC-AUC"}) {
            head += " " + t.name + " " + m + " |";
            rule += " --- |";
        }
    }
    std::string out = head + "\n" + rule + "\n";
    char buf[32];
    for (const auto& s : sets) {
        out += "| " + s + " |";
        for (const auto& t : targets) {
            const bool reg = t.kind == fusion::TargetKind::regression;
            for (const char* m : reg ? std::vector<const char*>{"r2", "mae"} : std::vector<const char*>{"accuracy", "f1", "roc_auc"}) {
                std::snprintf(buf, sizeof buf, " %.3f |", metric(rows, s, t.name, m));
                out += buf;
            }
        }
        out += "\n";
    }
    return out;
}

std::string calibration_table(const std::vector<MetricRow>& rows, const std::string& set, const std::vector<fusion::Target>& targets) {
    std::string out = "| target (" + set + ") | coverage 68 % | coverage 95 % | ECE |\n| --- | --- | --- | --- |\n";
    char buf[160];
    for (const auto& t : targets) {
        if (t.kind == fusion::TargetKind::regression)
            std::snprintf(buf, sizeof buf, "| %s | %.3f | %.3f | |\n", t.name.c_str(), metric(rows, set, t.name, "coverage_68"),
                          metric(rows, set, t.name, "coverage_95"));
        else
            std::snprintf(buf, sizeof buf, "| %s | | | %.3f |\n", t.name.c_str(), metric(rows, set, t.name, "ece"));
        out += buf;
    }
    return out;
}

// ------------------------------------------------------------- the study

struct Config {
    fusion::FusionOptions options;
    std::filesystem::path out;
    std::size_t folds = 5;
    bool progress = true;
    std::vector<std::string> only_sets;  // --sets: train only these input sets (empty: all)
    std::string curves;                  // --curves: validation loss per target and epoch, as CSV
};

struct InputSet {
    std::string name;                       // modality name or "multimodal"
    std::vector<fusion::Modality> modalities;
};

std::vector<InputSet> input_sets(const std::vector<fusion::Modality>& all, const std::vector<std::string>& only) {
    std::vector<InputSet> sets;
    for (const auto& m : all) sets.push_back({m.name, {m}});
    sets.push_back({"multimodal", all});
    if (only.empty()) return sets;
    std::vector<InputSet> chosen;
    for (const auto& name : only) {
        const auto it = std::find_if(sets.begin(), sets.end(), [&](const InputSet& s) { return s.name == name; });
        if (it == sets.end()) throw value_error("--sets: no input set '" + name + "' (modality names or multimodal)");
        chosen.push_back(*it);
    }
    if (chosen.back().name != "multimodal") throw value_error("--sets: the list must end with multimodal (the model the report explains)");
    return chosen;
}

// Mean |gradient x input| of the multimodal model's defect heads over the
// evaluated samples: share per modality and the strongest 5 eV windows.
std::string attribution_summary(const fusion::FusionModel& model, const fusion::Dataset& test, report::Report& r) {
    const fusion::FeatureMatrix x = test.features(model.card().modalities);
    const fusion::FeatureLayout layout = x.layout;
    const std::size_t w = model.card().input_size(), n = std::min<std::size_t>(x.rows, 200);
    std::vector<float> in = fusion::detail::network_input(x);
    in.resize(n * w);
    std::string text;
    char buf[256];
    for (std::size_t t = 0; t < model.card().targets.size(); ++t) {
        if (model.card().targets[t].kind != fusion::TargetKind::binary) continue;
        std::vector<double> mean(layout.size(), 0.0);
        const std::vector<std::size_t> head = model.head(t);  // the networks that give this target
        for (std::size_t i : head) {
            explain::ModelGradient<float> f(model.network(i));
            const auto g = explain::gradient_x_input<float>(f, nn::ConstTensorView<float>(in.data(), nn::Shape{n, w}), t);
            for (std::size_t r = 0; r < n; ++r)
                for (std::size_t c = 0; c < layout.size(); ++c) mean[c] += std::abs(g[r * w + c]) / static_cast<double>(n * head.size());
        }
        const auto parts = explain::per_modality(span<const double>(mean.data(), mean.size()), layout);
        text += "attribution of " + model.card().targets[t].name + " (mean |gradient x input|, " + std::to_string(n) + " samples):\n";
        struct Window {
            std::string modality;
            double lo, share;
        };
        std::vector<Window> windows;
        double total = 0;
        for (const auto& p : parts) total += p.mass;
        for (const auto& p : parts) {
            std::snprintf(buf, sizeof buf, "  %-8s %5.1f %%\n", p.name.c_str(), 100 * p.share);
            text += buf;
            for (double lo = p.axis.energy(0); lo < p.axis.energy(p.axis.size() - 1); lo += 5.0)
                windows.push_back({p.name, lo, total > 0 ? explain::window_sum(p, lo, lo + 5.0, true) / total : 0.0});
        }
        std::sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) { return a.share > b.share; });
        text += "  strongest 5 eV windows:";
        for (std::size_t i = 0; i < std::min<std::size_t>(4, windows.size()); ++i) {
            std::snprintf(buf, sizeof buf, " %s %.1f-%.1f eV (%.1f %%)%s", windows[i].modality.c_str(), windows[i].lo, windows[i].lo + 5.0,
                          100 * windows[i].share, i + 1 < 4 ? "," : "");
            text += buf;
        }
        text += "\n";
        // The mean spectrum of the evaluated samples under the mean attribution.
        std::vector<double> spectrum(layout.size(), 0.0);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t c = 0; c < layout.size(); ++c) spectrum[c] += x.row(r)[c] / static_cast<double>(n);
        explain::SvgOptions so;
        so.title = "mean |gradient x input| of " + model.card().targets[t].name + " (multimodal)";
        so.value_label = "normalised";
        r.add_figure(explain::attribution_svg<double>(span<const double>(spectrum), span<const double>(mean), layout, so),
                     "Mean spectrum of the evaluated samples, coloured by the mean |gradient x input| of the " +
                         model.card().targets[t].name + " head (multimodal ensemble)",
                     "attribution_" + model.card().targets[t].name);
    }
    return text;
}

// What training decided per input set and target, over folds and members.
struct HeadLog {
    std::map<std::string, std::map<std::string, std::size_t>> constant;  // set -> target -> folds predicting the mean
    std::size_t fits = 0;                                                 // models trained per input set
    std::ofstream* curves = nullptr;                                      // --curves
};

// Trains every input set on `train` (all their members as tasks on
// cfg.options.threads threads), evaluates on `test`; appends pooled predictions.
void train_and_evaluate(const fusion::Dataset& train, const fusion::Dataset& test, const std::vector<InputSet>& sets,
                        const Config& cfg, std::map<std::string, Pooled>& pooled, ProgressBar& bar, double done, double share,
                        std::optional<fusion::FusionModel>* keep_multimodal, HeadLog& log) {
    ++log.fits;
    // Progress: the finished fraction of every member of every set (the callbacks run one at a time).
    std::vector<double> fraction(sets.size() * cfg.options.members, 0.0);
    std::vector<fusion::FusionJob> jobs;
    for (std::size_t s = 0; s < sets.size(); ++s) {
        fusion::FusionOptions o = cfg.options;
        if (log.curves)
            o.on_validation = [&, s](std::size_t member, std::size_t epoch, const std::vector<double>& loss) {
                for (std::size_t t = 0; t < loss.size(); ++t)
                    *log.curves << log.fits - 1 << ',' << sets[s].name << ',' << member << ',' << epoch << ','
                                << train.targets()[t].name << ',' << loss[t] << '\n';
            };
        o.progress = [&, s](std::size_t member, std::size_t epoch, std::size_t epochs) {
            fraction[s * cfg.options.members + member] = static_cast<double>(epoch + 1) / static_cast<double>(epochs);
            const double f = std::accumulate(fraction.begin(), fraction.end(), 0.0) / static_cast<double>(fraction.size());
            bar.show(done + share * f, "training " + sets[s].name);
        };
        jobs.push_back({sets[s].modalities, std::move(o)});
    }
    const std::vector<fusion::FusionModel> models = fusion::train(train, jobs, cfg.options.threads);
    for (std::size_t s = 0; s < sets.size(); ++s) {
        const fusion::FusionModel& model = models[s];
        for (std::size_t t = 0; t < model.card().targets.size(); ++t)
            if (model.card().uninformative(t)) ++log.constant[sets[s].name][model.card().targets[t].name];
        pooled[sets[s].name].append(test, model.predict(test));
        if (keep_multimodal && sets[s].name == "multimodal") keep_multimodal->emplace(model);
    }
}

// The --si step: predictions per pixel of a measured image with a trained model.
using MeasuredStep = std::function<void(const fusion::FusionModel&, report::Report&)>;

int run_study(fusion::Dataset data, const fusion::Dataset* test_set, const std::vector<fusion::Modality>& modalities,
              const Config& cfg, const std::string& source, const MeasuredStep& measured = {}) {
    ProgressBar bar(cfg.progress);
    const auto sets = input_sets(modalities, cfg.only_sets);
    HeadLog log;
    std::ofstream curves;
    if (!cfg.curves.empty()) {
        curves.open(cfg.curves);
        if (!curves) throw io_error("--curves: cannot write " + cfg.curves);
        curves << "fit,input_set,member,epoch,target,val_loss\n";
        log.curves = &curves;
    }
    std::map<std::string, Pooled> pooled;
    std::optional<fusion::FusionModel> multimodal;
    fusion::Dataset evaluated(data.targets());
    const auto t0 = clock_type::now();
    std::string protocol;
    if (test_set || cfg.folds == 0) {
        fusion::Dataset train = data, test = test_set ? *test_set : fusion::Dataset(data.targets());
        if (!test_set) {  // one group split of the synthetic set
            const auto split = fusion::group_train_test_split(data, 0.2, cfg.options.seed);
            train = data.subset(split.train);
            test = data.subset(split.test);
        }
        protocol = test_set ? "trained on the manifest, evaluated on the test manifest" : "group split, 20 % of the structures held out";
        train_and_evaluate(train, test, sets, cfg, pooled, bar, 0.0, 1.0, &multimodal, log);
        evaluated = test;
    } else {
        const auto folds = fusion::group_kfold(data, cfg.folds, cfg.options.seed);
        protocol = std::to_string(cfg.folds) + "-fold group cross-validation, pooled out-of-fold predictions";
        for (std::size_t f = 0; f < folds.size(); ++f) {
            const auto train = data.subset(folds[f].train), test = data.subset(folds[f].test);
            // The saved model and its attribution: the first fold's.
            train_and_evaluate(train, test, sets, cfg, pooled, bar, static_cast<double>(f) / static_cast<double>(folds.size()),
                               1.0 / static_cast<double>(folds.size()), f == 0 ? &multimodal : nullptr, log);
            for (const auto& s : test.samples()) evaluated.add(s);
        }
    }
    bar.done();
    const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();

    std::vector<MetricRow> rows;
    std::vector<std::string> names;
    for (const auto& s : sets) {
        add_metrics(rows, s.name, data.targets(), pooled[s.name]);
        names.push_back(s.name);
    }
    const std::string table = results_table(rows, names, data.targets());
    const std::string calibration = calibration_table(rows, "multimodal", data.targets());
    std::printf("corespec nmc_demo: %s, %zu samples, %s; %s fusion, ensembles of %zu; trained in %.0f s on %zu threads\n\n",
                source.c_str(), data.size(), protocol.c_str(), fusion::to_string(cfg.options.strategy), cfg.options.members, seconds,
                cfg.options.threads);
    std::printf("%s\n", table.c_str());
    // The heads that predicted the training mean (validation R² <= 0 within the training data)
    // or, for a flag, its base rate (validation logits that rank the flag the wrong way).
    std::string constant;
    for (const auto& [set, targets] : log.constant)
        for (const auto& [target, folds] : targets)
            constant += "  " + set + " " + target + ": " + std::to_string(folds) + " of " + std::to_string(log.fits) + "\n";
    if (!constant.empty())
        std::printf("heads that predict the training mean or a flag's base rate (validation R² <= 0, or logits ranking the\n"
                    "flag the wrong way: the input does not tell the target),\n"
                    "per input set, target and number of trained models:\n%s\n", constant.c_str());

    // Does the fused input beat every single edge?
    std::string verdict;
    for (const auto& t : data.targets()) {
        const std::string m = t.kind == fusion::TargetKind::binary ? "roc_auc" : "r2";
        double best = -1e300;
        std::string best_name;
        for (const auto& s : sets)
            if (s.name != "multimodal" && metric(rows, s.name, t.name, m) > best) best = metric(rows, s.name, t.name, m), best_name = s.name;
        char buf[200];
        const double mm = metric(rows, "multimodal", t.name, m);
        std::snprintf(buf, sizeof buf, "  %-18s %s multimodal %.3f vs best single edge %.3f (%s): %s\n", t.name.c_str(),
                      m == "r2" ? "R2     " : "ROC-AUC", mm, best, best_name.c_str(), mm > best ? "better" : "NOT better");
        verdict += buf;
    }
    std::printf("multimodal against the best single edge:\n%s\n", verdict.c_str());
    std::printf("uncertainty on the held-out structures (ensemble spread + noise fitted on validation structures;\n"
                "Platt-scaled flags):\n%s\n", calibration.c_str());
    report::Report r("corespec NMC demo: " + source);
    r.add_paragraph(std::to_string(data.size()) + " samples; " + protocol + "; " + fusion::to_string(cfg.options.strategy) +
                    " fusion, ensembles of " + std::to_string(cfg.options.members) + ".");
    r.add_heading("Scores per input set");
    report::MetricsTable metrics;
    for (const auto& row : rows) metrics.add(row.input_set, row.target, row.metric, row.value);
    r.add_table(metrics, "Held-out structures. input_set: a single edge by its modality name, or multimodal.");
    if (!constant.empty())
        r.add_paragraph("Heads that predict the training mean (their validation R² within the training data was <= 0) or, "
                        "for a flag, its base rate (their validation logits ranked it the wrong way) "
                        "(input set, target, trained models):\n" + constant);
    r.add_heading("Figures");
    for (std::size_t t = 0; t < data.targets().size(); ++t) {
        const auto& target = data.targets()[t];
        const Pooled& mm = pooled["multimodal"];
        if (target.kind == fusion::TargetKind::regression) {
            r.add_figure(report::parity_svg(mm.truth[t], mm.value[t], mm.sd[t], target.name + " (multimodal)"),
                         "Parity of " + target.name + ", error bars one standard deviation", "parity_" + target.name);
        } else {
            std::vector<report::RocSeries> series;
            for (const auto& s : sets) series.push_back({s.name, pooled[s.name].truth[t], pooled[s.name].value[t]});
            r.add_figure(report::roc_svg(series, target.name), "ROC of " + target.name + " per input set", "roc_" + target.name);
            r.add_figure(report::confusion_svg(mm.truth[t], report::threshold_labels(mm.value[t]), target.name + " (multimodal)"),
                         "Confusion of " + target.name + " at p = 0.5", "confusion_" + target.name);
        }
    }
    r.add_heading("Attribution of the defect heads");
    const std::string attribution = attribution_summary(*multimodal, evaluated.size() > 0 ? evaluated : data, r);
    r.add_paragraph(attribution);
    std::printf("%s\n", attribution.c_str());
    if (measured) measured(*multimodal, r);
    r.write(cfg.out.string());
    const auto paths = multimodal->save((cfg.out / "multimodal").string());
    std::printf("wrote %s: report.html, metrics.csv, metrics.md, figures/, %zu model files (multimodal_*.safetensors)\n",
                cfg.out.string().c_str(), paths.size());
    return 0;
}

// The measured-data path: the core-loss and low-loss images through
// fusion::prepare_measured_si with the model's EELS modalities, placed in the
// model's layout (its XAS edges absent: the presence mask), one prediction
// per usable pixel, maps and the preprocessing section in the report.
MeasuredStep measured_step(const std::string& coreloss, const std::string& lowloss) {
    return [coreloss, lowloss](const fusion::FusionModel& model, report::Report& r) {
        const auto core = io::read_spectrum_image<double>(coreloss), low = io::read_spectrum_image<double>(lowloss);
        const fusion::FusionCard& card = model.card();
        std::vector<fusion::Modality> eels;
        std::vector<std::size_t> index;  // of each EELS modality in the model
        for (std::size_t k = 0; k < card.modalities.size(); ++k)
            if (card.modalities[k].technique == grid::Technique::eels) eels.push_back(card.modalities[k]), index.push_back(k);
        if (eels.empty()) throw value_error("--si: the model has no EELS modality (train on the synthetic default)");
        const fusion::MeasuredSI si = fusion::prepare_measured_si(core, low, eels);
        std::printf("measured spectrum image %s:\n%s\n", coreloss.c_str(), si.summary().c_str());
        const fusion::FeatureLayout layout = card.layout();
        const std::size_t pixels = si.pixel_count(), ne = eels.size(), nm = card.modalities.size();
        std::vector<std::size_t> usable;
        for (std::size_t p = 0; p < pixels; ++p)
            for (std::size_t j = 0; j < ne; ++j)
                if (si.presence[p * ne + j]) {
                    usable.push_back(p);
                    break;
                }
        report::add_measured_section(r, si, coreloss);
        if (usable.empty()) {
            std::printf("no pixel has a usable edge: no predictions\n");
            return;
        }
        fusion::FeatureMatrix x;
        x.layout = layout;
        x.rows = usable.size();
        x.values.assign(x.rows * layout.size(), 0.0);
        x.present.assign(x.rows * nm, 0);
        for (std::size_t i = 0; i < usable.size(); ++i)
            for (std::size_t j = 0; j < ne; ++j) {
                if (!si.presence[usable[i] * ne + j]) continue;
                const double* src = si.features.data() + usable[i] * si.layout.size() + si.layout[j].offset;
                std::copy(src, src + si.layout[j].size(), x.values.begin() + static_cast<std::ptrdiff_t>(i * layout.size() + layout[index[j]].offset));
                x.present[i * nm + index[j]] = 1;
            }
        const fusion::Prediction p = model.predict(x);
        const auto& nav = si.navigation_shape;
        const std::size_t rows = nav.size() >= 2 ? nav[0] : 1, cols = nav.size() >= 2 ? pixels / nav[0] : pixels;
        std::printf("per-pixel predictions (%zu of %zu pixels usable; model trained on synthetic spectra, XAS edges absent):\n",
                    usable.size(), pixels);
        for (std::size_t t = 0; t < card.targets.size(); ++t) {
            std::vector<double> map(pixels, std::nan(""));
            double mean = 0;
            for (std::size_t i = 0; i < usable.size(); ++i) map[usable[i]] = p.value[t][i], mean += p.value[t][i];
            std::printf("  %-18s mean %.3f\n", card.targets[t].name.c_str(), mean / static_cast<double>(usable.size()));
            r.add_figure(report::map_svg(map, rows, cols, card.targets[t].name + " (measured, multimodal)"),
                         card.targets[t].name + " per pixel of the measured image (trained on synthetic spectra: see the warning)",
                         "map_" + card.targets[t].name);
        }
    };
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cl(
        argc, argv,
        "nmc_demo [--samples N] [--seed S] [--out DIR] [--manifest CSV [--test-manifest CSV]] [--si CORELOSS --lowloss LOWLOSS] "
        "[--epochs E] [--min-steps S] [--members M] [--strategy late|mean|early] [--folds K] [--no-progress] "
        "[--selection per-target|total] [--weight-decay W] [--modality-dropout P] [--encoder-width N] [--hidden N] "
        "[--sets NAME,...,multimodal] [--modalities NAME,...] [--curves CSV] [--threads N]",
        {{"--samples", 1}, {"--seed", 1}, {"--out", 1}, {"--manifest", 1}, {"--test-manifest", 1}, {"--si", 1}, {"--lowloss", 1},
         {"--epochs", 1}, {"--min-steps", 1}, {"--members", 1}, {"--strategy", 1}, {"--folds", 1}, {"--no-progress", 0},
         {"--selection", 1}, {"--weight-decay", 1}, {"--modality-dropout", 1}, {"--encoder-width", 1}, {"--hidden", 1},
         {"--sets", 1}, {"--modalities", 1}, {"--curves", 1}, {"--threads", 1}},
        "Trains one model per single edge and a multimodal model on the NMC study's data and prints the comparison.\n"
        "Default: 8000 synthetic samples (seed 1), group split, members trained on every hardware thread. Exit status: 0 done, 1 failure, 2 usage.");
    cl.positional(0, 0);
    if (cl.has("--test-manifest") && !cl.has("--manifest")) cl.fail("--test-manifest needs --manifest");
    if (cl.has("--manifest") && cl.has("--samples")) cl.fail("--samples is for the synthetic set");
    if (cl.has("--si") != cl.has("--lowloss")) cl.fail("--si and --lowloss go together");
    try {
        MeasuredStep measured;
        if (cl.has("--si")) measured = measured_step(cl.text("--si"), cl.text("--lowloss"));
        Config cfg;
        cfg.out = cl.text("--out", "nmc_demo_out");
        cfg.progress = !cl.has("--no-progress");
        cfg.options.seed = cl.count("--seed", 1);
        cfg.options.epochs = cl.count("--epochs", cfg.options.epochs, 1, 100000);
        cfg.options.min_steps = cl.count("--min-steps", cfg.options.min_steps, 0, 100000000);
        cfg.options.members = cl.count("--members", 3, 1, 20);
        // Members of every input set train concurrently; the results do not depend on the count.
        cfg.options.threads = cl.count("--threads", fusion::detail::thread_count(0), 1, 256);
        cfg.options.strategy = (cl.choice<fusion::Strategy>("--strategy", {{"late", fusion::Strategy::late}, {"mean", fusion::Strategy::mean}, {"early", fusion::Strategy::early}}, fusion::Strategy::late));
        cfg.folds = cl.count("--folds", 5, 2, 100);
        cfg.options.weight_decay = cl.number("--weight-decay", cfg.options.weight_decay, 0, 10);
        cfg.options.modality_dropout = cl.number("--modality-dropout", cfg.options.modality_dropout, 0, 0.99);
        cfg.options.encoder_width = cl.count("--encoder-width", cfg.options.encoder_width, 1, 4096);
        cfg.options.hidden = cl.count("--hidden", cfg.options.hidden, 1, 4096);
        cfg.options.select_per_target =
            cl.choice<bool>("--selection", {{"per-target", true}, {"total", false}}, cfg.options.select_per_target);
        cfg.curves = cl.text("--curves", "");
        auto names = [&](const std::string& option) {
            std::vector<std::string> v;
            const std::string list = cl.text(option);
            for (std::size_t a = 0, b; a <= list.size(); a = b + 1) {
                b = std::min(list.find(',', a), list.size());
                if (b > a) v.push_back(list.substr(a, b - a));
            }
            return v;
        };
        cfg.only_sets = names("--sets");
        // --modalities: the study on a subset of the edges (the multimodal model fuses only these).
        const std::vector<std::string> keep = names("--modalities");
        auto chosen = [&](std::vector<fusion::Modality> all) {
            if (keep.empty()) return all;
            std::vector<fusion::Modality> m;
            for (const auto& name : keep) {
                const auto it = std::find_if(all.begin(), all.end(), [&](const fusion::Modality& x) { return x.name == name; });
                if (it == all.end()) throw value_error("--modalities: no modality '" + name + "'");
                m.push_back(*it);
            }
            return m;
        };
        std::filesystem::create_directories(cfg.out);
        if (cl.has("--manifest")) {
            auto d = fusion::nmc::read_feff_manifest(cl.text("--manifest"));
            const auto table = fusion::calibrate_edge_shifts(d, fusion::nmc::feff_references(), "FEFF10");
            d.apply_edge_shifts(table, "FEFF10");
            io::save_edge_shift_table(cfg.out / "edge_shifts.json", table);
            std::optional<fusion::Dataset> test;
            if (cl.has("--test-manifest")) {
                test = fusion::nmc::read_feff_manifest(cl.text("--test-manifest"));
                test->apply_edge_shifts(table, "FEFF10");  // the training set's calibration
            }
            return run_study(std::move(d), test ? &*test : nullptr, chosen(fusion::nmc::feff_modalities(fusion::Normalisation::standardise)), cfg,
                             cl.text("--manifest"), measured);
        }
        const std::size_t n = cl.count("--samples", 8000, 20, 10000000);
        corespec_example::require_memory("--samples", n, 2 * fusion::nmc::synthetic_sample_bytes());
        ProgressBar bar(cfg.progress);
        auto d = fusion::nmc::synthetic_set(n, cfg.options.seed, 0, [&](std::size_t i) {
            if (i % 50 == 0) bar.show(static_cast<double>(i) / static_cast<double>(n), "generating synthetic spectra");
        });
        bar.done();
        cfg.folds = 0;
        return run_study(std::move(d), nullptr, chosen(fusion::nmc::synthetic_modalities()), cfg,
                         "synthetic NMC (seed " + std::to_string(cfg.options.seed) + ")", measured);
    } catch (const corespec::error& e) {
        std::fprintf(stderr, "nmc_demo: %s\n", e.what());
        return 1;
    }
}

// nn_explain: attribution per input feature for every row of an NPY array.
//
//   nn_explain MODEL X.npy --method saliency|gxi|ig|smoothgrad|occlusion [--target K]
//              [--head NAME|INDEX] [--steps S] [--samples N] [--window W] --out A.npy
//              [--svg PICTURE.svg --energy E0 DE [--name NAME]]
//
// MODEL is a corespec model file; for a VAE the outputs explained are the
// latent means (K = latent coordinate); for a multi-head model those of one
// head, chosen by name or 0-based index with --head (default: the first
// head), K counting that head's outputs. X holds one sample per row; A.npy
// gets the attributions in X's shape (float32). --steps: integrated-gradient
// steps (64); --samples: SmoothGrad samples (50); --window: occlusion window
// in bins (5). With --svg the first row is drawn (spectrum + attribution
// strip) on the energy axis E0 + i * DE. One JSON object is printed, with the
// integrated-gradients completeness error (max and batch) when --method ig.
// Exit status: 0 on success, 1 on an error (message on stderr), 2 on misuse.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // sysconf
#endif

#include <corespec/explain/attribution.hpp>
#include <corespec/explain/svg.hpp>
#include <corespec/io/npy.hpp>
#include <corespec/nn/kernels/table.hpp>
#include <corespec/nn/serialize.hpp>

#include "support/command_line.hpp"

using namespace corespec;

namespace {

struct Args {
    std::string model, x, out, method, svg, name = "input", head;
    std::size_t target = 0, steps = 64, samples = 50, window = 5;
    double e0 = 0, de = 1;
    bool have_axis = false;
};

// What the attribution explains: a sequential model's output, a VAE's
// latent mean, or a multi-head model's head (nn::Model::chain).
std::string explained_of(const nn::Model<float>& m, const std::string& head) {
    switch (m.kind()) {
        case nn::ModelSpec::Kind::sequential: return "output";
        case nn::ModelSpec::Kind::vae: return "latent mean";
        case nn::ModelSpec::Kind::multi_head: return m.head_name(m.head_index(head));
    }
    return "output";
}

// Bytes of the physical memory (0 when the system does not say).
double physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return static_cast<double>(pages) * static_cast<double>(page);
#endif
    return 0;
}

// --samples N (SmoothGrad) and --steps S (IG) evaluate the chain on one batch
// of N (or S + 1) copies of a row: the copies, their gradients and every
// layer's activations (kept for backward). Refuses, naming the flag and the
// bytes, a value whose batch would not fit in this machine's memory (or 64
// GiB when it does not say), before anything is allocated.
void check_batch_memory(const nn::Sequential<float>& chain, const nn::Shape& row, const char* flag, std::size_t copies) {
    double per_copy = 3.0 * static_cast<double>(row.size());
    nn::Shape s = row.with_batch(1);
    for (std::size_t i = 0; i < chain.size(); ++i) {
        s = chain.layer(i).output_shape(s);
        per_copy += 2.0 * static_cast<double>(s.size());  // activation + its gradient
    }
    const double bytes = per_copy * sizeof(float) * static_cast<double>(copies);
    const double ram = physical_memory_bytes();
    const double limit = ram > 0 ? ram : 64.0 * (1ull << 30);
    if (bytes > limit) {
        char msg[256];
        std::snprintf(msg, sizeof msg, "%s %zu would need about %.3g GB of memory (%.0f bytes per copy), more than the %.3g GB %s",
                      flag, copies, bytes / 1e9, per_copy * sizeof(float), limit / 1e9, ram > 0 ? "this machine has" : "allowed");
        throw value_error(msg);
    }
}

int run(const Args& a) {
    const nn::Model<float> model = nn::load_model<float>(a.model);
    if (model.kind() != nn::ModelSpec::Kind::multi_head && !a.head.empty())
        throw value_error("--head applies to multi-head models only");
    const std::string explained = explained_of(model, a.head);
    const nn::Sequential<float> chain = model.chain(a.head);
    io::NpyArray<float> x = io::read_npy<float>(a.x);
    if (x.shape.size() < 2 || x.shape.size() > 3)
        throw shape_error(a.x + ": X must be batch x features or batch x channels x length", {0, 0}, x.shape);
    nn::ConstTensorView<float> xv(x.values.data(), nn::Shape(x.shape));
    if (a.method == "smoothgrad") check_batch_memory(chain, xv.shape().drop_batch(), "--samples", a.samples);
    if (a.method == "ig") check_batch_memory(chain, xv.shape().drop_batch(), "--steps", a.steps + 1);
    explain::ModelGradient<float> f(chain);
    const std::size_t fs = xv.sample_size();
    const fusion::FeatureLayout layout =
        fusion::FeatureLayout::single(a.name, a.have_axis ? grid::EnergyAxis::uniform(a.e0, a.de, fs) : grid::EnergyAxis::uniform(0, 1, fs, "bin"));
    std::vector<float> attr;
    double max_err = -1, batch_err = -1;
    if (a.method == "saliency") attr = explain::saliency(f, xv, a.target);
    else if (a.method == "gxi") attr = explain::gradient_x_input(f, xv, a.target);
    else if (a.method == "smoothgrad") attr = explain::smoothgrad(f, xv, a.target, {a.samples, 0.15, 0, false});
    else if (a.method == "occlusion") attr = explain::occlusion(f, xv, a.target, layout, {a.window, 1, 0.0});
    else if (a.method == "ig") {
        explain::IgOptions o;
        o.steps = a.steps;
        auto r = explain::integrated_gradients(f, xv, a.target, {}, o);
        attr = std::move(r.attributions);
        max_err = r.max_completeness_error();
        batch_err = r.batch_completeness_error();
    } else {
        throw value_error("unknown method '" + a.method + "' (saliency, gxi, ig, smoothgrad, occlusion)");
    }
    io::write_npy(a.out, x.shape, attr.data());
    if (!a.svg.empty()) {
        explain::SvgOptions so;
        so.title = a.method + " attribution, " + explained + " " + std::to_string(a.target) + ", row 0";
        explain::write_attribution_svg(a.svg, span<const float>(x.values.data(), fs), span<const float>(attr.data(), fs), layout, so);
    }
    double mass = 0;
    std::size_t top = 0;
    for (std::size_t j = 0; j < fs; ++j) {
        double m = 0;
        for (std::size_t b = 0; b < xv.batch(); ++b) m += std::abs(double(attr[b * fs + j]));
        if (m > mass) mass = m, top = j;
    }
    std::printf("{\"method\": \"%s\", \"explained\": \"%s\", \"target\": %zu, \"rows\": %zu, \"features\": %zu, \"top_feature\": %zu",
                a.method.c_str(), explained.c_str(), a.target, xv.batch(), fs, top);
    if (max_err >= 0) std::printf(", \"completeness_error_max\": %.6g, \"completeness_error_batch\": %.6g", max_err, batch_err);
    std::printf(", \"kernels\": \"%s\", \"out\": \"%s\"}\n", nn::kernels::kernels_name(), a.out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv,
        "nn_explain MODEL X.npy --method saliency|gxi|ig|smoothgrad|occlusion [--target K] [--head NAME|INDEX] [--steps S] "
        "[--samples N] [--window W] --out A.npy [--svg PICTURE.svg --energy E0 DE [--name NAME]]",
        {{"--method", 1}, {"--out", 1}, {"--svg", 1}, {"--name", 1}, {"--head", 1}, {"--target", 1}, {"--steps", 1},
         {"--samples", 1}, {"--window", 1}, {"--energy", 2}});
    const std::vector<std::string>& positional = cli.positional(2, 2);
    Args a;
    a.model = positional[0], a.x = positional[1];
    a.out = cli.text("--out");
    if (a.out.empty()) cli.fail("--out A.npy is required");
    a.method = cli.choice<std::string>("--method", {{"saliency", "saliency"}, {"gxi", "gxi"}, {"ig", "ig"}, {"smoothgrad", "smoothgrad"},
                                                    {"occlusion", "occlusion"}}, "");
    if (a.method.empty()) cli.fail("--method is required");
    a.svg = cli.text("--svg");
    a.name = cli.text("--name", a.name);
    a.head = cli.text("--head");
    if (cli.has("--head") && a.head.empty()) cli.fail("--head needs a name or an index");
    a.target = cli.count("--target", a.target);
    a.steps = cli.count("--steps", a.steps, 1);
    a.samples = cli.count("--samples", a.samples, 1);
    a.window = cli.count("--window", a.window, 1);
    if (cli.has("--energy")) {
        const std::vector<double> e = cli.numbers("--energy");
        if (!(e[1] > 0)) cli.fail("--energy E0 DE needs DE > 0");
        a.e0 = e[0], a.de = e[1], a.have_axis = true;
    }
    try {
        nn::kernels::kernels_name();  // a bad CORESPEC_KERNELS fails here, before any work
        return run(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nn_explain: %s\n", e.what());
        return 1;
    }
}

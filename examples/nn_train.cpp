// nn_train: train a model described by an architecture JSON on NPY arrays.
//
//   nn_train ARCH.json X.npy Y.npy --loss mse|mae|huber|bce|ce --epochs E --batch B --lr LR
//            [--weight-decay W] [--optimizer adam|adamw|sgd] [--val-fraction F] [--patience P]
//            [--clip NORM] [--seed S] [--threads N] [--quiet] --out MODEL
//
// ARCH.json is the architecture of docs/model_format.md (a sequential graph;
// "params" names are ignored: the weights start from PyTorch's default
// initialisation, seeded). X holds one sample per row (batch x features or
// batch x channels x length), Y the targets (batch x outputs, or batch for
// one output; class indices for --loss ce). Training runs in float32 with
// corespec::nn::train::Trainer; a progress line per epoch goes to stderr
// (--quiet silences it). MODEL is written as a corespec model file (with a
// self-test on the first rows), then one JSON object is printed:
//   {"epochs_run": .., "train_loss": .., "val_loss": .., "best_epoch": ..,
//    "seconds_per_epoch": .., "stopped_early": .., "parameters": ..}
// Exit status: 0 on success, 1 on an error (message on stderr), 2 on misuse.
#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <corespec/io/npy.hpp>
#include <corespec/nn/kernels/table.hpp>
#include <corespec/nn/model_spec.hpp>
#include <corespec/nn/serialize.hpp>
#include <corespec/nn/train/trainer.hpp>

#include "support/command_line.hpp"

using namespace corespec;

namespace {

struct Args {
    std::string arch, x, y, out, loss = "mse", optimizer = "adam";
    std::size_t epochs = 10, batch = 64, patience = 0, threads = 1;
    std::uint64_t seed = 0;
    double lr = 1e-3, weight_decay = 0, val_fraction = 0, clip = 0;
    bool quiet = false;
};

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

nn::Sequential<float> build(const std::string& path) {
    const std::vector<unsigned char> text = nn::detail::read_file_bytes(path);
    nn::ModelSpec spec = nn::parse_model_spec(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), path);
    if (spec.kind != nn::ModelSpec::Kind::sequential)
        throw unsupported_error(path + ": nn_train trains sequential graphs (this one is a VAE or multi-head model)");
    nn::Sequential<float> model;
    for (const nn::LayerSpec& l : spec.sequential.layers) model.add(nn::make_layer<float>(l, path));
    return model;
}

int run(const Args& a) {
    nn::Sequential<float> model = build(a.arch);
    io::NpyArray<float> x = io::read_npy<float>(a.x), y = io::read_npy<float>(a.y);
    if (x.shape.size() < 2 || x.shape.size() > 3)
        throw shape_error(a.x + ": X must be batch x features or batch x channels x length", {0, 0}, x.shape);
    if (y.shape.size() == 1) y.shape.push_back(1);
    if (y.shape.size() != 2) throw shape_error(a.y + ": Y must be batch x outputs (or batch)", {x.shape[0], 0}, y.shape);
    nn::ConstTensorView<float> xv(x.values.data(), nn::Shape(x.shape)), yv(y.values.data(), nn::Shape(y.shape));

    std::unique_ptr<nn::train::Loss<float>> loss = nn::train::make_loss<float>(a.loss);
    std::unique_ptr<nn::train::Optimizer<float>> opt;
    if (a.optimizer == "adam") opt = std::make_unique<nn::train::Adam<float>>(a.lr, nn::train::Adam<float>::Options{0.9, 0.999, 1e-8, a.weight_decay});
    else if (a.optimizer == "adamw") opt = std::make_unique<nn::train::AdamW<float>>(a.lr, nn::train::Adam<float>::Options{0.9, 0.999, 1e-8, a.weight_decay});
    else if (a.optimizer == "sgd") opt = std::make_unique<nn::train::Sgd<float>>(a.lr, nn::train::Sgd<float>::Options{0.9, 0, a.weight_decay, false});
    else throw value_error("nn_train: unknown optimizer '" + a.optimizer + "' (adam, adamw, sgd)");

    nn::train::init_default(model, a.seed);
    nn::train::TrainOptions o;
    o.epochs = a.epochs;
    o.batch_size = a.batch;
    o.val_fraction = a.val_fraction;
    o.patience = a.patience;
    o.seed = a.seed;
    o.threads = a.threads;
    o.clip_norm = a.clip;
    if (a.quiet) o.silent();
    nn::train::Trainer<float> trainer(model, *loss, *opt, o);
    nn::train::TrainResult r = trainer.fit(xv, yv);

    nn::SaveOptions<float> save;
    save.selftest_input = xv.batch_slice(0, std::min<std::size_t>(4, xv.batch()));
    save.input_shape = xv.shape().drop_batch().to_vector();
    save.description = "trained by nn_train (" + a.loss + ", " + a.optimizer + ")";
    nn::save_model(model, a.out, save);

    std::printf("{\"epochs_run\": %zu, \"train_loss\": %s, \"val_loss\": %s, \"best_epoch\": %zu, \"seconds_per_epoch\": %s, "
                "\"stopped_early\": %s, \"parameters\": %zu, \"kernels\": \"%s\", \"model\": \"%s\"}\n",
                r.epochs_run, json_number(r.train_loss).c_str(), json_number(r.val_loss).c_str(), r.best_epoch,
                json_number(r.seconds_per_epoch).c_str(), r.stopped_early ? "true" : "false", model.parameter_count(), nn::kernels::kernels_name(), a.out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv,
        "nn_train ARCH.json X.npy Y.npy --loss mse|mae|huber|bce|ce --epochs E --batch B --lr LR [--weight-decay W] "
        "[--optimizer adam|adamw|sgd] [--val-fraction F] [--patience P] [--clip NORM] [--seed S] [--threads N] "
        "[--quiet] --out MODEL",
        {{"--loss", 1}, {"--optimizer", 1}, {"--out", 1}, {"--epochs", 1}, {"--batch", 1}, {"--patience", 1},
         {"--threads", 1}, {"--seed", 1}, {"--lr", 1}, {"--weight-decay", 1}, {"--val-fraction", 1}, {"--clip", 1},
         {"--quiet", 0}});
    const std::vector<std::string>& positional = cli.positional(3, 3);
    Args a;
    a.arch = positional[0], a.x = positional[1], a.y = positional[2];
    a.out = cli.text("--out");
    if (a.out.empty()) cli.fail("--out MODEL is required");
    a.loss = cli.text("--loss", a.loss);
    a.optimizer = cli.text("--optimizer", a.optimizer);
    a.epochs = cli.count("--epochs", a.epochs, 0, 1000000);
    a.batch = cli.count("--batch", a.batch, 1, 1000000);
    a.patience = cli.count("--patience", a.patience, 0, 1000000);
    a.threads = cli.count("--threads", a.threads, 1, 256);
    a.seed = cli.count("--seed", 0, 0, 0x7fffffffffffffffULL);
    a.lr = cli.number("--lr", a.lr, 0);
    if (!(a.lr > 0)) cli.fail("--lr must be positive");
    a.weight_decay = cli.number("--weight-decay", a.weight_decay, 0);
    a.val_fraction = cli.number("--val-fraction", a.val_fraction, 0, 0.99);
    a.clip = cli.number("--clip", a.clip, 0);
    a.quiet = cli.has("--quiet");
    try {
        nn::kernels::kernels_name();  // a bad CORESPEC_KERNELS fails here, before any work
        return run(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nn_train: %s\n", e.what());
        return 1;
    }
}

// Training parity with PyTorch from the same initial weights, data order
// (and VAE noise eps): 100 Adam steps on the reference MLP and on the study-2
// conv VAE, and 12 steps of two small BatchNorm1d models whose running
// statistics must follow PyTorch's too (fixtures: tools/make_training_fixtures.py).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/norm.hpp"
#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/train/trainer.hpp"
#include "corespec/nn/train/vae_trainer.hpp"
#include "support/shared_data.hpp"

using namespace corespec::nn;

namespace {

// The golden runs: PyTorch's data order (no shuffling), every epoch kept, silent.
template <class Options = train::TrainOptions>
Options golden_options(std::size_t epochs, std::size_t batch, std::size_t threads = 1) {
    Options o;
    o.epochs = epochs;
    o.batch_size = batch;
    o.shuffle = false;
    o.threads = threads;
    o.restore_best = false;
    o.silent();
    return o;
}

// The fixture's counter-based generator (splitmix64), identical in Python.
std::vector<double> u01(std::size_t n, std::uint64_t salt) {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t z = i + salt * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        v[i] = static_cast<double>(z >> 11) * 0x1.0p-53;
    }
    return v;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(static_cast<float>(v[i]));
    return out;
}

struct Errors {
    double loss = 0, weight = 0, weight_scaled = 0, sums = 0;
};

template <class T>
Errors run_parity(const nlohmann::json& doc, const nlohmann::json& golden, std::size_t threads) {
    std::vector<std::size_t> sizes = doc["sizes"].get<std::vector<std::size_t>>();
    const std::size_t rows = doc["rows"], batch = doc["batch"], epochs = doc["epochs"];
    Sequential<T> model = make_mlp<T>(sizes);
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
        double bound = 1.0 / std::sqrt(static_cast<double>(sizes[i]));
        auto w = u01(sizes[i + 1] * sizes[i], 100 + 2 * i), b = u01(sizes[i + 1], 101 + 2 * i);
        for (double& v : w) v = (2 * v - 1) * bound;
        for (double& v : b) v = (2 * v - 1) * bound;
        auto wt = as<T>(w), bt = as<T>(b);
        std::copy(wt.begin(), wt.end(), model.layer(i).parameter("weight").begin());
        std::copy(bt.begin(), bt.end(), model.layer(i).parameter("bias").begin());
    }
    model.parameters_changed();
    std::vector<T> x = as<T>(u01(rows * sizes[0], 1)), y = as<T>(u01(rows * sizes.back(), 2));
    train::MseLoss<T> loss;
    train::Adam<T> adam(doc["lr"].get<double>(), {0.9, 0.999, 1e-8, doc["weight_decay"].get<double>()});
    train::TrainOptions o = golden_options(epochs, batch, threads);
    std::vector<double> losses;
    o.on_batch = [&](const train::BatchStats& s) { losses.push_back(s.loss); };
    train::Trainer<T> trainer(model, loss, adam, o);
    trainer.fit(ConstTensorView<T>(x.data(), Shape{rows, sizes[0]}), ConstTensorView<T>(y.data(), Shape{rows, sizes.back()}));

    Errors e;
    const auto& gl = golden["losses"];
    REQUIRE(losses.size() == gl.size());
    for (std::size_t i = 0; i < losses.size(); ++i)
        e.loss = std::max(e.loss, std::abs(losses[i] - gl[i].get<double>()) / std::abs(gl[i].get<double>()));
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
        for (const char* name : {"weight", "bias"}) {
            const auto& g = golden["parameters"][std::to_string(2 * l) + "." + name];
            auto p = model.layer(l).parameter(name);
            const std::size_t stride = g["stride"];
            double scale = 0, sum = 0;
            for (T v : p) scale = std::max(scale, std::abs(static_cast<double>(v))), sum += static_cast<double>(v);
            const auto& s = g["samples"];
            for (std::size_t k = 0; k < s.size(); ++k) {
                double want = s[k], got = static_cast<double>(p[k * stride]);
                e.weight = std::max(e.weight, std::abs(got - want) / std::max(std::abs(want), 1e-3));
                e.weight_scaled = std::max(e.weight_scaled, std::abs(got - want) / scale);
            }
            e.sums = std::max(e.sums, std::abs(sum - g["sum"].get<double>()) / g["norm"].get<double>());
        }
    }
    return e;
}

nlohmann::json load_fixture() {
    std::ifstream in(corespec_test::source_path("tests/data/train/mlp_adam.json"));
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

// Fixtures whose parameter summaries must stay in the file's (state_dict) order.
nlohmann::ordered_json load_ordered(const std::string& name) {
    std::ifstream in(corespec_test::source_path("tests/data/train/" + name));
    REQUIRE(in.good());
    return nlohmann::ordered_json::parse(in);
}

// The fixture's normal draws: Box-Muller on pairs of u01(2n, salt).
std::vector<double> normal(std::size_t n, std::uint64_t salt) {
    std::vector<double> u = u01(2 * n, salt), v(n);
    const double two_pi = 2.0 * 3.141592653589793;
    for (std::size_t i = 0; i < n; ++i) v[i] = std::sqrt(-2.0 * std::log1p(-u[2 * i])) * std::cos(two_pi * u[2 * i + 1]);
    return v;
}

// hash_init of the fixture script: trainable tensor k (in order) gets
// (2 u01(numel, salt + k) - 1) * bound, bound = 1 / sqrt(numel / shape[0]) of
// the weight (a bias takes its weight's bound), rounded to float32.
template <class T>
void hash_init(const std::vector<Sequential<T>*>& parts, std::uint64_t salt) {
    std::uint64_t k = 0;
    double bound = 1;
    for (Sequential<T>* part : parts) {
        for (std::size_t i = 0; i < part->size(); ++i) {
            Layer<T>& l = part->layer(i);
            for (const ParameterInfo& info : l.parameter_info()) {
                if (!info.trainable) continue;
                if (info.name == "weight") bound = 1.0 / std::sqrt(double(info.size()) / double(info.shape[0]));
                auto v = u01(info.size(), salt + k++);
                for (double& x : v) x = (2 * x - 1) * bound;
                auto t = as<T>(v);
                std::copy(t.begin(), t.end(), l.parameters().begin() + static_cast<std::ptrdiff_t>(info.offset));
            }
        }
        part->parameters_changed();
    }
}

// Compares every tensor of `parts` (in order, buffers included) with the
// fixture's summaries (samples, sum) of the same position in state_dict order.
template <class T>
void compare_parameters(const std::vector<const Sequential<T>*>& parts, const nlohmann::ordered_json& golden, Errors& e) {
    auto g = golden.begin();
    for (const Sequential<T>* part : parts)
        for (std::size_t i = 0; i < part->size(); ++i) {
            const Layer<T>& l = part->layer(i);
            for (const ParameterInfo& info : l.parameter_info()) {
                REQUIRE(g != golden.end());
                INFO("tensor " << g.key() << " vs " << l.type() << "." << info.name);
                REQUIRE((*g)["shape"].get<std::vector<std::size_t>>() == info.shape.to_vector());
                corespec::span<const T> p = l.parameters().subspan(info.offset, info.size());
                const std::size_t stride = (*g)["stride"];
                double scale = 0, sum = 0;
                for (T v : p) scale = std::max(scale, std::abs(static_cast<double>(v))), sum += static_cast<double>(v);
                const auto& s = (*g)["samples"];
                for (std::size_t k = 0; k < s.size(); ++k) {
                    double want = s[k], got = static_cast<double>(p[k * stride]);
                    e.weight = std::max(e.weight, std::abs(got - want) / std::max(std::abs(want), 1e-3));
                    e.weight_scaled = std::max(e.weight_scaled, std::abs(got - want) / std::max(scale, 1e-30));
                }
                e.sums = std::max(e.sums, std::abs(sum - (*g)["sum"].get<double>()) / std::max((*g)["norm"].get<double>(), 1e-30));
                ++g;
            }
        }
    CHECK(g == golden.end());
}

double max_rel(const std::vector<double>& got, const nlohmann::ordered_json& want) {
    REQUIRE(got.size() == want.size());
    double e = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        e = std::max(e, std::abs(got[i] - want[i].get<double>()) / std::max(std::abs(want[i].get<double>()), 1e-12));
    return e;
}

// The fixture's VAE data: two hashed Gaussian peaks + noise, [rows, 1, 240].
std::vector<double> vae_data(std::size_t rows) {
    std::vector<double> r = u01(rows * 4, 20), noise = u01(rows * 240, 21), x(rows * 240);
    for (std::size_t i = 0; i < rows; ++i) {
        const double c1 = 40 + 60 * r[i * 4], c2 = 130 + 80 * r[i * 4 + 1], w = 4 + 10 * r[i * 4 + 2], a2 = 0.5 + r[i * 4 + 3];
        for (std::size_t j = 0; j < 240; ++j) {
            const double e = double(j), d1 = (e - c1) / w, d2 = (e - c2) / w;
            x[i * 240 + j] = 0.2 + std::exp(-0.5 * d1 * d1) + a2 * std::exp(-0.5 * d2 * d2) + 0.05 * (noise[i * 240 + j] - 0.5);
        }
    }
    return x;
}

struct VaeErrors : Errors {
    double reconstruction = 0, kl = 0;
};

template <class T>
VaeErrors run_vae_parity(const nlohmann::ordered_json& doc, const nlohmann::ordered_json& golden, std::size_t threads) {
    const std::size_t rows = doc["rows"], batch = doc["batch"], epochs = doc["epochs"];
    Vae<T> vae = make_conv_vae<T>();
    hash_init<T>({&vae.encoder(), &vae.mean_head(), &vae.logvar_head(), &vae.decoder()}, 200);
    std::vector<T> x = as<T>(vae_data(rows));
    train::MseLoss<T> loss;
    train::Adam<T> adam(doc["lr"].get<double>());
    auto o = golden_options<train::VaeTrainOptions>(epochs, batch, threads);
    o.beta = doc["beta"];
    train::VaeTrainer<T> trainer(vae, loss, adam, o);
    const std::size_t per_epoch = (rows + batch - 1) / batch;
    trainer.set_noise([&](std::size_t epoch, std::size_t b, TensorView<T> eps) {
        const std::size_t step = (epoch - 1) * per_epoch + (b - 1);
        auto v = as<T>(normal(eps.size(), 1000 + step));
        std::copy(v.begin(), v.end(), eps.data());
    });
    std::vector<double> total, recon, kl;
    trainer.on_batch([&](const train::VaeBatchStats& s) { total.push_back(s.loss), recon.push_back(s.reconstruction), kl.push_back(s.kl); });
    trainer.fit(ConstTensorView<T>(x.data(), Shape{rows, 1, 240}));
    VaeErrors e;
    e.loss = max_rel(total, golden["losses"]);
    e.reconstruction = max_rel(recon, golden["reconstruction"]);
    e.kl = max_rel(kl, golden["kl"]);
    compare_parameters<T>({&vae.encoder(), &vae.mean_head(), &vae.logvar_head(), &vae.decoder()}, golden["parameters"], e);
    return e;
}

// The fixture's two BatchNorm1d models.
template <class T>
Sequential<T> bn_model(const std::string& name) {
    Sequential<T> m;
    if (name == "dense") {
        m.template emplace<Dense<T>>(6, 5, Activation::identity(), false);  // no bias before BatchNorm (its gradient is zero)
        m.template emplace<BatchNorm1d<T>>(5);
        m.template emplace<ActivationLayer<T>>(Activation::relu());
        m.template emplace<Dense<T>>(5, 2);
    } else {
        m.template emplace<Conv1D<T>>(2, 4, 3, 1, Padding::symmetric(1), 1, 1, Activation::identity(), false);
        m.template emplace<BatchNorm1d<T>>(4);
        m.template emplace<ActivationLayer<T>>(Activation::relu());
        m.template emplace<Flatten<T>>();
        m.template emplace<Dense<T>>(40, 3);
    }
    return m;
}

template <class T>
Errors run_bn_parity(const nlohmann::ordered_json& doc, const nlohmann::ordered_json& golden, const std::string& name, std::uint64_t index) {
    const std::size_t rows = doc["rows"], batch = doc["batch"], epochs = doc["epochs"];
    Sequential<T> m = bn_model<T>(name);
    hash_init<T>({&m}, 300 + 10 * index);
    const Shape xs = name == "dense" ? Shape{rows, 6} : Shape{rows, 2, 10};
    const Shape ys = m.output_shape(xs);
    auto xd = u01(xs.size(), 40 + index);
    for (double& v : xd) v = 2 * v - 1;
    std::vector<T> x = as<T>(xd), y = as<T>(u01(ys.size(), 50 + index));
    train::MseLoss<T> loss;
    train::Adam<T> adam(doc["lr"].get<double>());
    train::TrainOptions o = golden_options(epochs, batch);
    std::vector<double> losses;
    o.on_batch = [&](const train::BatchStats& s) { losses.push_back(s.loss); };
    train::Trainer<T> trainer(m, loss, adam, o);
    trainer.fit(ConstTensorView<T>(x.data(), xs), ConstTensorView<T>(y.data(), ys));
    Errors e;
    e.loss = max_rel(losses, golden["losses"]);
    compare_parameters<T>({&m}, golden["parameters"], e);
    // Inference on 4 rows uses the running statistics.
    Workspace<T> ws;
    Shape s4 = xs;
    s4[0] = 4;
    std::vector<T> out(m.output_shape(s4).size());
    m.forward(ConstTensorView<T>(x.data(), s4), TensorView<T>(out.data(), m.output_shape(s4)), ws);
    std::vector<double> outd(out.begin(), out.end());
    e.weight = std::max(e.weight, max_rel(outd, golden["eval_output"]));
    return e;
}

}  // namespace

TEST_CASE("training parity with PyTorch: reference MLP, 100 Adam steps, float32") {
    nlohmann::json doc = load_fixture();
    for (std::size_t threads : {1u, 2u}) {
        Errors e = run_parity<float>(doc, doc["float32"], threads);
        INFO("threads " << threads << ": loss " << e.loss << ", weights " << e.weight << " (scaled " << e.weight_scaled << "), sums "
                        << e.sums);
        MESSAGE("float32 parity, threads " << threads << ": max rel loss error " << e.loss << ", max rel weight error " << e.weight
                                           << " (relative to tensor max " << e.weight_scaled << ")");
        CHECK(e.loss < 1e-4);
        CHECK(e.weight < 1e-4);
        CHECK(e.sums < 1e-4);
    }
}

TEST_CASE("training parity with PyTorch: reference MLP, 100 Adam steps, float64") {
    nlohmann::json doc = load_fixture();
    Errors e = run_parity<double>(doc, doc["float64"], 1);
    MESSAGE("float64 parity: max rel loss error " << e.loss << ", max rel weight error " << e.weight);
    CHECK(e.loss < 1e-10);
    CHECK(e.weight < 1e-8);
    CHECK(e.sums < 1e-10);
}

TEST_CASE("training parity with PyTorch: study-2 conv VAE, 100 Adam steps with PyTorch's eps") {
    nlohmann::ordered_json doc = load_ordered("vae_adam.json");
    for (std::size_t threads : {1u, 2u}) {
        VaeErrors e = run_vae_parity<float>(doc, doc["float32"], threads);
        MESSAGE("VAE float32 parity, threads " << threads << ": max rel loss error " << e.loss << " (reconstruction " << e.reconstruction
                                               << ", KL " << e.kl << "), max rel weight error " << e.weight << " (relative to tensor max "
                                               << e.weight_scaled << "), sums " << e.sums);
        CHECK(e.loss < 1e-4);
        CHECK(e.reconstruction < 1e-4);
        CHECK(e.kl < 1e-4);
        CHECK(e.weight < 1e-4);
        CHECK(e.sums < 1e-4);
    }
    VaeErrors e = run_vae_parity<double>(doc, doc["float64"], 1);
    MESSAGE("VAE float64 parity: max rel loss error " << e.loss << ", max rel weight error " << e.weight);
    CHECK(e.loss < 1e-10);
    CHECK(e.kl < 1e-10);
    CHECK(e.weight < 1e-8);
    CHECK(e.sums < 1e-10);
}

TEST_CASE("training parity with PyTorch: BatchNorm1d running statistics (dense and conv), 12 Adam steps") {
    nlohmann::ordered_json doc = load_ordered("batch_norm.json");
    std::uint64_t index = 0;
    for (const char* name : {"dense", "conv"}) {
        Errors f = run_bn_parity<float>(doc, doc["float32"][name], name, index);
        Errors d = run_bn_parity<double>(doc, doc["float64"][name], name, index);
        MESSAGE("BatchNorm " << std::string(name) << " parity: float32 loss " << f.loss << ", weights/running stats/eval output " << f.weight
                             << "; float64 loss " << d.loss << ", weights " << d.weight);
        CHECK(f.loss < 1e-4);
        CHECK(f.weight < 1e-4);
        CHECK(f.sums < 1e-4);
        CHECK(d.loss < 1e-10);
        CHECK(d.weight < 1e-8);
        CHECK(d.sums < 1e-10);
        ++index;
    }
}

// Training parity with PyTorch: 100 Adam steps on the reference MLP from the
// same initial weights and data order (fixture: tools/make_training_fixtures.py).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/train/trainer.hpp"
#include "support/shared_data.hpp"

using namespace corespec::nn;

namespace {

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
    train::TrainOptions o;
    o.epochs = epochs;
    o.batch_size = batch;
    o.shuffle = false;
    o.threads = threads;
    o.restore_best = false;
    o.silent();
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

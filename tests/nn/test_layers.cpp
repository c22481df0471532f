#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/nn/layers/registry.hpp"
#include "corespec/nn/sequential.hpp"
#include "corespec/nn/train/init.hpp"
#include "nn_test_support.hpp"

using namespace corespec::nn;

namespace {
const std::vector<Activation> all_activations{Activation::identity(), Activation::relu(),  Activation::leaky_relu(0.3),
                                              Activation::elu(0.7),   Activation::gelu(),  Activation::gelu_tanh(),
                                              Activation::silu(),     Activation::tanh(),  Activation::sigmoid(),
                                              Activation::softplus()};

template <class T>
std::vector<T> run(const Layer<T>& layer, const std::vector<T>& x, Shape in, const kernels::KernelTable<std::common_type_t<T>>* K = nullptr,
                   bool training = false) {
    Shape os = layer.output_shape(in);
    std::vector<T> y(os.size());
    Workspace<T> ws;
    ws.kernels = K;
    ws.training = training;
    layer.forward(ConstTensorView<T>(x.data(), in), TensorView<T>(y.data(), os), ws);
    return y;
}
}  // namespace

TEST_CASE_TEMPLATE("nn activations match std:: maths on both paths (odd sizes, wide range)", T, float, double) {
    for (auto* K : nn_test::kernel_paths<T>())
        for (const auto& act : all_activations) {
            const std::string path = K->name;
            CAPTURE(path);
            CAPTURE(act.name());
            // 1001 points over [-30, 30] (softplus threshold, saturation) plus odd-size tails
            std::vector<double> x(1001);
            for (std::size_t i = 0; i < x.size(); ++i) x[i] = -30.0 + 60.0 * double(i) / 1000.0;
            auto xt = nn_test::cast<T>(x);
            ActivationLayer<T> layer(act);
            auto y = run(layer, xt, Shape{7, 143}, K);
            std::vector<double> ref(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) ref[i] = nn_test::act_ref(act, double(xt[i]));
            double err = nn_test::max_rel_error(y, ref);
            // xsimd's transcendental functions are within a few ulp of std::.
            CHECK(err < (sizeof(T) == 4 ? 4e-6 : 5e-14));
        }
}

TEST_CASE_TEMPLATE("nn softmax, PReLU, LayerNorm, BatchNorm1d, pooling match plain formulas", T, float, double) {
    const double tol = nn_test::tolerance<T>();
    auto x = nn_test::random_vector(2 * 5 * 13, 21, -2, 2);
    auto xt = nn_test::cast<T>(x);
    for (auto* K : nn_test::kernel_paths<T>()) {
        const std::string path = K->name;
            CAPTURE(path);
        {  // softmax over the last dimension
            auto y = run(Softmax<T>(), xt, Shape{10, 13}, K);
            std::vector<double> ref(x.size());
            for (std::size_t r = 0; r < 10; ++r) {
                double s = 0;
                for (std::size_t j = 0; j < 13; ++j) s += std::exp(x[r * 13 + j]);
                for (std::size_t j = 0; j < 13; ++j) ref[r * 13 + j] = std::exp(x[r * 13 + j]) / s;
            }
            CHECK(nn_test::max_rel_error(y, ref) < tol);
        }
    }
    {  // PReLU per channel
        PReLU<T> p(5);
        nn_test::randomize(p, 3);
        auto y = run(p, xt, Shape{2, 5, 13});
        std::vector<double> ref(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) ref[i] = x[i] > 0 ? x[i] : double(p.parameters()[(i / 13) % 5]) * x[i];
        CHECK(nn_test::max_rel_error(y, ref) < tol);
    }
    {  // LayerNorm over the last dimension
        LayerNorm<T> ln(13);
        nn_test::randomize(ln, 4);
        auto y = run(ln, xt, Shape{2, 5, 13});
        std::vector<double> ref(x.size());
        for (std::size_t r = 0; r < 10; ++r) {
            double m = 0, v = 0;
            for (std::size_t j = 0; j < 13; ++j) m += x[r * 13 + j] / 13;
            for (std::size_t j = 0; j < 13; ++j) v += (x[r * 13 + j] - m) * (x[r * 13 + j] - m) / 13;
            for (std::size_t j = 0; j < 13; ++j)
                ref[r * 13 + j] = (x[r * 13 + j] - m) / std::sqrt(v + 1e-5) * double(ln.parameters()[j]) + double(ln.parameters()[13 + j]);
        }
        CHECK(nn_test::max_rel_error(y, ref) < tol * 10);
    }
    {  // BatchNorm1d, inference and training statistics
        BatchNorm1d<T> bn(5);
        nn_test::randomize(bn, 5);
        auto rv = bn.parameter("running_var");
        for (auto& v : rv) v = std::abs(v) + T(0.5);
        auto p = bn.parameters();
        auto y = run(bn, xt, Shape{2, 5, 13});
        auto yt = run(bn, xt, Shape{2, 5, 13}, nullptr, true);
        std::vector<double> ref(x.size()), reft(x.size());
        for (std::size_t c = 0; c < 5; ++c) {
            double m = 0, v = 0;
            for (std::size_t b = 0; b < 2; ++b)
                for (std::size_t l = 0; l < 13; ++l) m += x[(b * 5 + c) * 13 + l] / 26;
            for (std::size_t b = 0; b < 2; ++b)
                for (std::size_t l = 0; l < 13; ++l) v += std::pow(x[(b * 5 + c) * 13 + l] - m, 2) / 26;
            for (std::size_t b = 0; b < 2; ++b)
                for (std::size_t l = 0; l < 13; ++l) {
                    std::size_t i = (b * 5 + c) * 13 + l;
                    ref[i] = (x[i] - double(p[10 + c])) / std::sqrt(double(p[15 + c]) + 1e-5) * double(p[c]) + double(p[5 + c]);
                    reft[i] = (x[i] - m) / std::sqrt(v + 1e-5) * double(p[c]) + double(p[5 + c]);
                }
        }
        CHECK(nn_test::max_rel_error(y, ref) < tol * 10);
        CHECK(nn_test::max_rel_error(yt, reft) < tol * 10);
    }
    {  // pooling
        auto ymax = run(MaxPool1d<T>(3, 2, 1), xt, Shape{2, 5, 13});
        auto yavg = run(AvgPool1d<T>(4, 3), xt, Shape{2, 5, 13});
        auto yg = run(GlobalAvgPool1d<T>(), xt, Shape{2, 5, 13});
        std::vector<double> rmax, ravg, rg;
        for (std::size_t r = 0; r < 10; ++r) {
            for (std::size_t j = 0; j < 7; ++j) {  // (13 + 2 - 3) / 2 + 1
                double m = -1e300;
                for (long i = long(2 * j) - 1; i < long(2 * j) + 2; ++i)
                    if (i >= 0 && i < 13) m = std::max(m, x[r * 13 + std::size_t(i)]);
                rmax.push_back(m);
            }
            for (std::size_t j = 0; j < 4; ++j) {  // (13 - 4) / 3 + 1
                double s = 0;
                for (std::size_t i = 3 * j; i < 3 * j + 4; ++i) s += x[r * 13 + i];
                ravg.push_back(s / 4);
            }
            double s = 0;
            for (std::size_t i = 0; i < 13; ++i) s += x[r * 13 + i];
            rg.push_back(s / 13);
        }
        CHECK(nn_test::max_rel_error(ymax, rmax) < tol);
        CHECK(nn_test::max_rel_error(yavg, ravg) < tol);
        CHECK(nn_test::max_rel_error(yg, rg) < tol);
    }
}

TEST_CASE("nn BatchNorm1d folds into the Dense / Conv1D before it") {
    Dense<double> d(9, 6);
    nn_test::randomize(d, 1);
    BatchNorm1d<double> bn(6);
    nn_test::randomize(bn, 2);
    for (auto& v : bn.parameter("running_var")) v = std::abs(v) + 0.3;
    auto x = nn_test::random_vector(4 * 9, 3);
    auto y1 = run(bn, run(d, x, Shape{4, 9}), Shape{4, 6});
    Dense<double> folded = d;
    CHECK(fold_batch_norm<double>(folded, bn));
    CHECK(nn_test::max_rel_error(run(folded, x, Shape{4, 9}), y1) < 1e-13);

    Conv1D<double> c(2, 6, 3, 2, Padding::same());
    nn_test::randomize(c, 4);
    auto xc = nn_test::random_vector(3 * 2 * 11, 5);
    auto yc = run(bn, run(c, xc, Shape{3, 2, 11}), Shape{3, 6, 6});
    CHECK(fold_batch_norm<double>(c, bn));
    CHECK(nn_test::max_rel_error(run(c, xc, Shape{3, 2, 11}), yc) < 1e-13);

    Flatten<double> f;
    CHECK_FALSE(fold_batch_norm<double>(f, bn));
    Dense<double> nobias(9, 6, Activation::identity(), false);
    CHECK_THROWS_AS(fold_batch_norm<double>(nobias, bn), corespec::unsupported_error);
}

TEST_CASE("nn Dropout is the identity at inference and a seeded mask in training") {
    Dropout<float> d(0.25);
    auto x = nn_test::cast<float>(nn_test::random_vector(4000, 1, 1, 2));
    CHECK(run(d, x, Shape{4, 1000}) == x);
    auto y = run(d, x, Shape{4, 1000}, nullptr, true);
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (y[i] == 0) ++dropped;
        else CHECK(y[i] == doctest::Approx(x[i] / 0.75f));
    }
    CHECK(dropped > 850);
    CHECK(dropped < 1150);
    CHECK(run(d, x, Shape{4, 1000}, nullptr, true) == y);  // same seed, same mask
    CHECK_THROWS_AS(Dropout<float>(1.0), corespec::value_error);
    // At inference a chain skips it (no copy): dense -> dropout -> dense equals dense -> dense.
    CHECK(d.passes_through(false));
    CHECK_FALSE(d.passes_through(true));
    CHECK(Dropout<float>(0.0).passes_through(true));
    Dense<float> a(10, 6), b(6, 3);
    nn_test::randomize(a, 3);
    nn_test::randomize(b, 4);
    Sequential<float> with, without;
    with.add(a.clone()).emplace<Dropout<float>>(0.5).add(b.clone()).emplace<Dropout<float>>(0.5);
    without.add(a.clone()).add(b.clone());
    const auto in = nn_test::cast<float>(nn_test::random_vector(40, 1, 1, 5));
    std::vector<float> y_with(12), y_without(12);
    Workspace<float> ws;
    with.forward(ConstTensorView<float>(in.data(), Shape{4, 10}), TensorView<float>(y_with.data(), Shape{4, 3}), ws);
    without.forward(ConstTensorView<float>(in.data(), Shape{4, 10}), TensorView<float>(y_without.data(), Shape{4, 3}), ws);
    CHECK(y_with == y_without);
}

TEST_CASE("nn backward of the other layers agrees with central differences") {
    for (const auto& act : all_activations) {
        if (act.kind == Activation::Kind::relu || act.kind == Activation::Kind::leaky_relu) continue;  // kinks
        CAPTURE(act.name());
        ActivationLayer<double> a(act);
        CHECK(nn_test::gradient_check(a, Shape{3, 7}, 1) < 1e-6);
    }
    {
        ActivationLayer<double> a(Activation::leaky_relu(0.3));  // random inputs avoid the kink
        CHECK(nn_test::gradient_check(a, Shape{3, 7}, 2) < 1e-6);
    }
    Softmax<double> sm;
    CHECK(nn_test::gradient_check(sm, Shape{3, 7}, 3) < 1e-6);
    PReLU<double> pr(4);
    CHECK(nn_test::gradient_check(pr, Shape{2, 4, 5}, 4) < 1e-6);
    LayerNorm<double> ln(6);
    nn_test::randomize(ln, 5);
    CHECK(nn_test::gradient_check(ln, Shape{2, 3, 6}, 6) < 1e-6);
    BatchNorm1d<double> bn(3);
    nn_test::randomize(bn, 7);
    for (auto& v : bn.parameter("running_var")) v = std::abs(v) + 0.3;
    CHECK(nn_test::gradient_check(bn, Shape{4, 3, 5}, 8) < 1e-6);
    AvgPool1d<double> ap(3, 2, 1);
    CHECK(nn_test::gradient_check(ap, Shape{2, 3, 9}, 9) < 1e-6);
    MaxPool1d<double> mp(2);
    CHECK(nn_test::gradient_check(mp, Shape{2, 3, 8}, 10) < 1e-6);
    GlobalAvgPool1d<double> gp;
    CHECK(nn_test::gradient_check(gp, Shape{2, 3, 8}, 11) < 1e-6);
    Flatten<double> fl;
    CHECK(nn_test::gradient_check(fl, Shape{2, 3, 4}, 12) < 1e-6);
}

TEST_CASE("nn every layer round-trips through config() and layer_from_config") {
    std::vector<std::unique_ptr<Layer<float>>> layers;
    layers.push_back(std::make_unique<Dense<float>>(7, 3, Activation::elu(0.5), false));
    layers.push_back(std::make_unique<Conv1D<float>>(4, 8, 5, 2, Padding::explicit_pad(1, 2), 2, 2, Activation::leaky_relu(0.3)));
    layers.push_back(std::make_unique<Conv1D<float>>(4, 8, 5, 2, Padding::same()));
    layers.push_back(std::make_unique<ConvTranspose1D<float>>(8, 4, 3, 2, 1, 1, 1, 1, Activation::tanh()));
    layers.push_back(std::make_unique<BatchNorm1d<float>>(6, 1e-3));
    layers.push_back(std::make_unique<LayerNorm<float>>(6, 1e-6, false));
    layers.push_back(std::make_unique<MaxPool1d<float>>(3, 2, 1));
    layers.push_back(std::make_unique<AvgPool1d<float>>(2));
    layers.push_back(std::make_unique<GlobalAvgPool1d<float>>());
    layers.push_back(std::make_unique<Flatten<float>>());
    layers.push_back(std::make_unique<Reshape<float>>(Shape{4, 16}));
    layers.push_back(std::make_unique<Dropout<float>>(0.1));
    layers.push_back(std::make_unique<Softmax<float>>());
    layers.push_back(std::make_unique<PReLU<float>>(6));
    for (const auto& act : all_activations) layers.push_back(std::make_unique<ActivationLayer<float>>(act));
    for (const auto& l : layers) {
        CAPTURE(l->config().dump());
        auto back = layer_from_config<float>(l->config());
        CHECK(back->config() == l->config());
        CHECK(back->parameter_count() == l->parameter_count());
        CHECK(back->clone()->config() == l->config());
    }
    CHECK_THROWS_AS(layer_from_config<float>(nlohmann::json{{"type", "lstm"}}), corespec::parse_error);
    CHECK_THROWS_AS(layer_from_config<float>(nlohmann::json{{"type", "dense"}, {"in_features", 3}}), corespec::parse_error);
    CHECK_THROWS_AS(layer_from_config<float>(nlohmann::json{{"type", "dense"}, {"in_features", -3}, {"out_features", 2}}),
                    corespec::parse_error);
    CHECK_THROWS_AS(layer_from_config<float>(nlohmann::json::array()), corespec::parse_error);
    CHECK_THROWS_AS(layer_from_config<float>(nlohmann::json{{"type", "relu"}, {"slope", 1}}), corespec::parse_error);
}

TEST_CASE("nn layer registry: every type's declared parameters are those of the layer it builds") {
    // The fields each type requires; everything else takes its default.
    const std::map<std::string, nlohmann::json> required{
        {"dense", {{"in_features", 5}, {"out_features", 3}}},
        {"conv1d", {{"in_channels", 2}, {"out_channels", 4}, {"kernel_size", 3}}},
        {"conv_transpose1d", {{"in_channels", 4}, {"out_channels", 2}, {"kernel_size", 3}}},
        {"batch_norm1d", {{"num_features", 4}}},
        {"layer_norm", {{"normalized_shape", 6}}},
        {"max_pool1d", {{"kernel_size", 2}}},
        {"avg_pool1d", {{"kernel_size", 2}}},
        {"reshape", {{"shape", {2, 3}}}},
        {"prelu", {{"num_parameters", 3}}},
        {"block_dense", {{"blocks", {{5, 3}, {2, 2}}}}},
        {"masked_block_mean", {{"blocks", 3}, {"width", 2}}},
    };
    train::Random rng(5);
    for (const LayerType& type : layer_type_table) {
        CAPTURE(std::string(type.name));
        nlohmann::json j = required.count(type.name) ? required.at(type.name) : nlohmann::json::object();
        j["type"] = type.name;
        const LayerSpec spec = parse_layer_spec(j);
        const std::unique_ptr<Layer<float>> built = make_layer<float>(spec);
        const ParameterShapes declared = spec.parameter_shapes();
        std::size_t total = 0;
        for (const auto& p : declared) {
            CAPTURE(p.first);
            const auto info = std::find_if(built->parameter_info().begin(), built->parameter_info().end(),
                                           [&](const ParameterInfo& i) { return i.name == p.first; });
            REQUIRE(info != built->parameter_info().end());
            CHECK(info->shape.to_vector() == p.second);
            total += info->size();
        }
        CHECK(total == built->parameter_count());
        // The built layer's config() reads back as the same layer.
        CHECK(layer_from_config<double>(built->config())->config() == built->config());
        train::init_default(*built, rng);  // PyTorch's rule, PReLU's 0.25
        if (type.name == std::string("prelu")) CHECK(built->parameters()[0] == doctest::Approx(0.25));
        if (type.name == std::string("batch_norm1d")) CHECK(built->parameter("running_var")[0] == 1.0f);
        if (type.name == std::string("block_dense")) {  // nn.Linear's rule per block: U(+-1/sqrt(in_b))
            for (const auto& name_bound : {std::pair<std::string, float>{"block0.weight", 1 / std::sqrt(5.0f)},
                                           {"block0.bias", 1 / std::sqrt(5.0f)}, {"block1.weight", 1 / std::sqrt(2.0f)}}) {
                const std::string& name = name_bound.first;  // no structured binding: CAPTURE is a lambda (clang 14)
                const float bound = name_bound.second;
                CAPTURE(name);
                float largest = 0;
                for (float v : built->parameter(name)) largest = std::max(largest, std::abs(v));
                CHECK(largest > 0);
                CHECK(largest <= bound);
            }
        }
    }
    // An alias is stored under the engine's type.
    CHECK(parse_layer_spec(nlohmann::json{{"type", "gelu_tanh"}}).type == "gelu");
}

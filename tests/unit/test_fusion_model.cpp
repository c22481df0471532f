#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "corespec/fusion/model.hpp"
#include "corespec/fusion/nmc.hpp"
#include "corespec/nn/layers/registry.hpp"
#include "corespec/report/metrics.hpp"
#include "support/nn_gradcheck.hpp"

using namespace corespec;
using nn::BlockDense;

namespace {

// Loss L = sum_i c_i y_i of the layer's output for fixed weights c.
double weighted_output(const nn::Layer<double>& l, const std::vector<double>& x, std::size_t batch, const std::vector<double>& c) {
    nn::Workspace<double> ws;
    const std::size_t in = x.size() / batch;
    const nn::Shape os = l.output_shape(nn::Shape{batch, in});
    std::vector<double> y(os.size());
    l.forward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, in}), nn::TensorView<double>(y.data(), os), ws);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += c[i] * y[i];
    return s;
}

// Relative errors of BlockDense::backward against central differences of
// weighted_output, for the input and for the parameters.
std::pair<double, double> block_dense_gradient_errors(const BlockDense<double>& l, const std::vector<double>& x,
                                                      const std::vector<double>& c, std::size_t batch) {
    const std::size_t in = x.size() / batch, out = c.size() / batch;
    nn::Workspace<double> ws;
    std::vector<double> y(c.size()), gx(x.size()), gp(l.parameter_count(), 0.0);
    const nn::ConstTensorView<double> xv(x.data(), nn::Shape{batch, in});
    l.forward(xv, nn::TensorView<double>(y.data(), nn::Shape{batch, out}), ws);
    l.backward(xv, nn::ConstTensorView<double>(y.data(), nn::Shape{batch, out}), nn::ConstTensorView<double>(c.data(), nn::Shape{batch, out}),
               nn::TensorView<double>(gx.data(), nn::Shape{batch, in}), span<double>(gp), ws);
    const std::vector<double> p(l.parameters().begin(), l.parameters().end());
    const auto nx = corespec_test::numeric_gradient([&](const std::vector<double>& v) { return weighted_output(l, v, batch, c); }, x);
    const auto np = corespec_test::numeric_gradient(
        [&](const std::vector<double>& v) {
            BlockDense<double> m(l);
            std::copy(v.begin(), v.end(), m.parameters().begin());
            m.parameters_changed();
            return weighted_output(m, x, batch, c);
        },
        p);
    return {corespec_test::max_rel_error(gx, nx), corespec_test::max_rel_error(gp, np)};
}

std::vector<double> draws(std::size_t n, std::uint64_t seed) {
    synth::Random rng(seed);
    std::vector<double> v(n);
    for (double& x : v) x = rng.uniform(-1.0, 1.0);
    return v;
}

// A small, quickly trained model on the synthetic set (shared by the tests below).
const fusion::FusionModel& small_model() {
    static const fusion::FusionModel model = [] {
        fusion::FusionOptions o;
        o.members = 2;
        o.epochs = 8;
        o.hidden = 16;
        o.encoder_width = 4;
        o.seed = 5;
        return fusion::train(fusion::nmc::synthetic_set(60, 11), fusion::nmc::synthetic_modalities(), o);
    }();
    return model;
}

}  // namespace

TEST_CASE("nn::BlockDense: the block-diagonal Dense it stands for, gradients, config") {
    BlockDense<double> l({{3, 2}, {4, 1}, {2, 2}});
    CHECK(l.in_features() == 9);
    CHECK(l.out_features() == 5);
    CHECK(l.parameter_info().size() == 6);
    CHECK(l.parameter_info()[2].name == "block1.weight");
    auto p = draws(l.parameter_count(), 1);
    std::copy(p.begin(), p.end(), l.parameters().begin());
    l.parameters_changed();

    // The same map as one Dense whose weight is zero off the blocks.
    nn::Dense<double> d(9, 5);
    auto w = d.parameter("weight"), b = d.parameter("bias");
    std::fill(w.begin(), w.end(), 0.0);
    std::size_t in0 = 0, out0 = 0;
    for (std::size_t k = 0; k < l.blocks().size(); ++k) {
        const auto& blk = l.blocks()[k];
        const auto wk = l.parameter("block" + std::to_string(k) + ".weight");
        const auto bk = l.parameter("block" + std::to_string(k) + ".bias");
        for (std::size_t j = 0; j < blk.out; ++j) {
            for (std::size_t i = 0; i < blk.in; ++i) w[(out0 + j) * 9 + in0 + i] = wk[j * blk.in + i];
            b[out0 + j] = bk[j];
        }
        in0 += blk.in, out0 += blk.out;
    }
    d.parameters_changed();
    const std::size_t batch = 19;  // more than one GEMM row tile
    const auto x = draws(batch * 9, 2), c = draws(batch * 5, 3);
    nn::Workspace<double> ws;
    std::vector<double> yl(batch * 5), yd(batch * 5);
    l.forward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, 9}), nn::TensorView<double>(yl.data(), nn::Shape{batch, 5}), ws);
    d.forward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, 9}), nn::TensorView<double>(yd.data(), nn::Shape{batch, 5}), ws);
    CHECK(corespec_test::max_rel_error(yl, yd) < 1e-13);

    // Backward against central differences, for the input and the parameters.
    const auto [input_error, parameter_error] = block_dense_gradient_errors(l, x, c, batch);
    CHECK(input_error < 1e-7);
    CHECK(parameter_error < 1e-7);

    // Config round trip through the registry; malformed configs.
    const auto back = nn::layer_from_config<double>(l.config());
    CHECK(back->config() == l.config());
    CHECK(back->parameter_count() == l.parameter_count());
    CHECK_THROWS_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "block_dense"}, {"blocks", {{3, 0}}}}), parse_error);
    CHECK_THROWS_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "block_dense"}}), parse_error);
    CHECK_THROWS_AS(BlockDense<double>({}), value_error);
    CHECK_THROWS_AS(l.output_shape(nn::Shape{2, 8}), shape_error);
}

TEST_CASE("nn::BlockDense: saved and loaded in a model file") {
    nn::Sequential<float> s;
    s.emplace<BlockDense<float>>(std::vector<BlockDense<float>::Block>{{5, 3}, {2, 2}});
    s.emplace<nn::ActivationLayer<float>>(nn::Activation::relu());
    s.emplace<nn::Dense<float>>(5, 1);
    nn::train::init_default(s, 3);
    const auto path = (std::filesystem::temp_directory_path() / "corespec_block_dense.safetensors").string();
    std::vector<float> x(4 * 7);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
    nn::SaveOptions<float> so;
    so.selftest_input = nn::ConstTensorView<float>(x.data(), nn::Shape{4, 7});
    nn::save_model(nn::make_model(s, {7}), path, so);
    const auto m = nn::load_model<float>(path);  // runs the stored self-test
    CHECK(m.output_shape(nn::Shape{4, 7}) == nn::Shape{4, 1});
    std::remove(path.c_str());
}

TEST_CASE("nn::BlockDense: identity blocks copy their features through, have no parameters, and are checked") {
    BlockDense<double> l({{3, 2}, {2, 2, true}, {4, 1}});
    CHECK(l.parameter_info().size() == 4);  // block0 and block2: weight and bias each
    CHECK(l.parameter_info()[2].name == "block2.weight");
    auto p = draws(l.parameter_count(), 4);
    std::copy(p.begin(), p.end(), l.parameters().begin());
    l.parameters_changed();
    const std::size_t batch = 5;
    const auto x = draws(batch * 9, 5), c = draws(batch * 5, 6);
    nn::Workspace<double> ws;
    std::vector<double> y(batch * 5);
    l.forward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, 9}), nn::TensorView<double>(y.data(), nn::Shape{batch, 5}), ws);
    for (std::size_t r = 0; r < batch; ++r)
        for (std::size_t j = 0; j < 2; ++j) CHECK(y[r * 5 + 2 + j] == x[r * 9 + 3 + j]);  // block 1 unchanged

    const auto [input_error, parameter_error] = block_dense_gradient_errors(l, x, c, batch);
    CHECK(input_error < 1e-7);
    CHECK(parameter_error < 1e-7);

    // The config names the identity blocks; one without them reads as before (no key written).
    CHECK(l.config().at("identity_blocks") == nlohmann::json::array({1}));
    CHECK(nn::layer_from_config<double>(l.config())->config() == l.config());
    CHECK(nn::layer_from_config<double>(l.config())->parameter_count() == l.parameter_count());
    CHECK_FALSE(BlockDense<double>({{3, 2}}).config().contains("identity_blocks"));
    const nlohmann::json base{{"type", "block_dense"}, {"blocks", {{3, 2}, {2, 2}}}};
    auto with = [&](nlohmann::json id) {
        nlohmann::json j = base;
        j["identity_blocks"] = std::move(id);
        return j;
    };
    CHECK_THROWS_WITH_AS(nn::layer_from_config<double>(with({0})), doctest::Contains("needs in == out"), parse_error);
    CHECK_THROWS_WITH_AS(nn::layer_from_config<double>(with({2})), doctest::Contains("identity_blocks[0]"), parse_error);
    CHECK_THROWS_WITH_AS(nn::layer_from_config<double>(with({1, 1})), doctest::Contains("listed twice"), parse_error);
    CHECK_THROWS_AS(nn::layer_from_config<double>(with(1)), parse_error);
    CHECK_THROWS_AS(nn::layer_from_config<double>(with({-1})), parse_error);
    CHECK(nn::layer_from_config<double>(with(nlohmann::json::array()))->config() == BlockDense<double>({{3, 2}, {2, 2}}).config());
    CHECK_THROWS_WITH_AS(BlockDense<double>({{3, 2, true}}), doctest::Contains("identity block 0 maps 3 features to 2"), value_error);
}

namespace {
// A MaskedBlockMean input row: blocks of width w, then presence bits.
std::vector<double> mean_row(const std::vector<std::vector<double>>& blocks, const std::vector<double>& present) {
    std::vector<double> row;
    for (const auto& b : blocks) row.insert(row.end(), b.begin(), b.end());
    row.insert(row.end(), present.begin(), present.end());
    return row;
}
std::vector<double> run(const nn::Layer<double>& l, const std::vector<double>& x, std::size_t batch) {
    nn::Workspace<double> ws;
    const nn::Shape os = l.output_shape(nn::Shape{batch, x.size() / batch});
    std::vector<double> y(os.size());
    l.forward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, x.size() / batch}), nn::TensorView<double>(y.data(), os), ws);
    return y;
}
}  // namespace

TEST_CASE("nn::MaskedBlockMean: the mean of the present blocks, the bits passed through, gradients, config") {
    const nn::MaskedBlockMean<double> l(3, 2);
    CHECK(l.in_features() == 9);
    CHECK(l.out_features() == 5);
    CHECK(l.parameter_count() == 0);

    // By hand: blocks (1, 2), (3, -4), (10, 20); the second absent -> mean of the first and third.
    std::vector<double> x = mean_row({{1, 2}, {3, -4}, {10, 20}}, {1, 0, 1});
    const auto one = mean_row({{1, 2}, {3, -4}, {10, 20}}, {0, 1, 0});      // one present: that block
    const auto none = mean_row({{1, 2}, {3, -4}, {10, 20}}, {0, 0, 0});     // none: zeros, no NaN
    const auto all = mean_row({{1, 2}, {3, -4}, {10, 20}}, {1, 1, 1});
    x.insert(x.end(), one.begin(), one.end());
    x.insert(x.end(), none.begin(), none.end());
    x.insert(x.end(), all.begin(), all.end());
    const auto y = run(l, x, 4);
    const std::vector<double> want{5.5, 11, 1, 0, 1,  3, -4, 0, 1, 0,  0, 0, 0, 0, 0,  14.0 / 3, 6, 1, 1, 1};
    REQUIRE(y.size() == want.size());
    for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(want[i]).epsilon(1e-15));
    // An absent block's content does not matter.
    auto other = x;
    other[2] = 1e6, other[3] = -7;
    CHECK(run(l, other, 4) == y);

    // Backward against central differences in the encodings (masks 1 0 1, 0 1 0, 0 0 0, 1 1 1
    // kept fixed: the mask is data), and the presence columns get their pass-through gradient.
    const std::size_t batch = 4;
    const auto c = draws(batch * 5, 7);
    const auto e = draws(batch * 9, 8);
    for (std::size_t r = 0; r < batch; ++r)
        for (std::size_t i = 0; i < 6; ++i) x[r * 9 + i] = e[r * 9 + i];
    std::vector<double> gx(x.size()), yx = run(l, x, batch);
    nn::Workspace<double> ws;
    l.backward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, 9}), nn::ConstTensorView<double>(yx.data(), nn::Shape{batch, 5}),
               nn::ConstTensorView<double>(c.data(), nn::Shape{batch, 5}), nn::TensorView<double>(gx.data(), nn::Shape{batch, 9}),
               span<double>(), ws);
    std::vector<double> enc, genc;
    for (std::size_t r = 0; r < batch; ++r)
        for (std::size_t i = 0; i < 6; ++i) enc.push_back(x[r * 9 + i]), genc.push_back(gx[r * 9 + i]);
    const auto nenc = corespec_test::numeric_gradient(
        [&](const std::vector<double>& v) {
            auto xv = x;
            for (std::size_t r = 0; r < batch; ++r)
                for (std::size_t i = 0; i < 6; ++i) xv[r * 9 + i] = v[r * 6 + i];
            return weighted_output(l, xv, batch, c);
        },
        enc);
    CHECK(corespec_test::max_rel_error(genc, nenc) < 1e-8);
    for (std::size_t r = 0; r < batch; ++r)
        for (std::size_t k = 0; k < 3; ++k) CHECK(gx[r * 9 + 6 + k] == c[r * 5 + 2 + k]);
    for (std::size_t i = 0; i < 6; ++i) CHECK(gx[2 * 9 + i] == 0.0);  // nothing present: no gradient
    for (double g : gx) CHECK(std::isfinite(g));

    // A presence value other than 0 / 1 is refused (the gradient would be wrong for it).
    auto half = x;
    half[9 + 7] = 0.5;
    CHECK_THROWS_WITH_AS(run(l, half, batch), doctest::Contains("row 1, presence of block 1 is 0.5"), value_error);
    half[9 + 7] = std::nan("");
    CHECK_THROWS_AS(run(l, half, batch), value_error);

    // Shapes, config round trip, refused configs.
    CHECK_THROWS_AS(l.output_shape(nn::Shape{2, 8}), shape_error);
    CHECK(l.config() == nlohmann::json{{"type", "masked_block_mean"}, {"blocks", 3}, {"width", 2}});
    CHECK(nn::layer_from_config<double>(l.config())->config() == l.config());
    CHECK_THROWS_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "masked_block_mean"}, {"blocks", 3}}), parse_error);
    CHECK_THROWS_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "masked_block_mean"}, {"blocks", 0}, {"width", 2}}), parse_error);
    CHECK_THROWS_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "masked_block_mean"}, {"blocks", 3}, {"width", -2}}), parse_error);
    CHECK_THROWS_WITH_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "masked_block_mean"}, {"blocks", 3}, {"width", 2}, {"bias", true}}),
                         doctest::Contains("unknown key"), parse_error);
    CHECK_THROWS_WITH_AS(nn::layer_from_config<double>(nlohmann::json{{"type", "masked_block_mean"}, {"blocks", 1 << 20}, {"width", 1 << 10}}),
                         doctest::Contains("exceed"), parse_error);
    CHECK_THROWS_AS(nn::MaskedBlockMean<double>(0, 2), value_error);
    CHECK_THROWS_AS(nn::MaskedBlockMean<double>(2, 0), value_error);
}

TEST_CASE("nn::MaskedBlockMean: encoders, identity presence block and mean saved and loaded in a model file") {
    nn::Sequential<float> s;
    s.emplace<BlockDense<float>>(std::vector<BlockDense<float>::Block>{{5, 3}, {4, 3}, {2, 2, true}});
    s.emplace<nn::ActivationLayer<float>>(nn::Activation::leaky_relu(0.1));  // leaves the bits 0 / 1
    s.emplace<nn::MaskedBlockMean<float>>(2, 3);
    s.emplace<nn::Dense<float>>(5, 2);
    nn::train::init_default(s, 3);
    const auto path = (std::filesystem::temp_directory_path() / "corespec_masked_block_mean.safetensors").string();
    std::vector<float> x(4 * 11);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
    const float bits[4][2] = {{1, 1}, {1, 0}, {0, 1}, {0, 0}};
    for (std::size_t r = 0; r < 4; ++r) x[r * 11 + 9] = bits[r][0], x[r * 11 + 10] = bits[r][1];
    nn::SaveOptions<float> so;
    so.selftest_input = nn::ConstTensorView<float>(x.data(), nn::Shape{4, 11});
    nn::save_model(nn::make_model(s, {11}), path, so);
    const auto m = nn::load_model<float>(path);  // runs the stored self-test
    CHECK(m.graph().layer(0).config() == s.layer(0).config());
    CHECK(m.graph().layer(2).type() == "masked_block_mean");
    std::vector<float> a(8), b(8);
    nn::Workspace<float> ws;
    s.forward(nn::ConstTensorView<float>(x.data(), nn::Shape{4, 11}), nn::TensorView<float>(a.data(), nn::Shape{4, 2}), ws);
    m.forward(nn::ConstTensorView<float>(x.data(), nn::Shape{4, 11}), nn::TensorView<float>(b.data(), nn::Shape{4, 2}), ws);
    CHECK(a == b);
    std::remove(path.c_str());
}

TEST_CASE("fusion::Modality: a recipe runs before the grid (synthetic K edge, pre-edge normalisation)") {
    const auto mods = fusion::nmc::synthetic_modalities();
    const auto& ni_k = mods[static_cast<std::size_t>(synth::NmcEdge::ni_k)];
    REQUIRE(!ni_k.recipe.is_null());
    const auto sample = synth::nmc_sample(3, 0);
    const auto& raw = sample.spectra[static_cast<std::size_t>(synth::NmcEdge::ni_k)];
    const auto pre = ni_k.preprocess(raw);
    // After normalisation the post-edge sits near 1 and the pre-edge near 0.
    const auto& e = pre.axis();
    CHECK(std::abs(pre.values()[0]) < 0.1);
    CHECK(std::abs(pre.values()[pre.size() - 1] - 1.0) < 0.3);
    CHECK(e.size() == raw.size());
    const auto f = ni_k.features(raw);
    CHECK(f.size() == ni_k.size());
    // Flat input: the recipe's failure names the modality and the step.
    grid::Spectrum<double> flat(raw.axis(), std::vector<double>(raw.size(), 1.0), raw.metadata());
    CHECK_THROWS_WITH_AS(ni_k.features(flat), doctest::Contains("Ni_K': recipe step 0 (pre_edge)"), value_error);
}

TEST_CASE("fusion: modality dropout keeps one modality; Platt scaling recovers a logistic law") {
    fusion::FeatureLayout layout;
    layout.add("a", grid::UniformAxis(0.0, 1.0, 3)).add("b", grid::UniformAxis(0.0, 1.0, 2));
    std::vector<float> in(50 * 7, 1.0f);
    synth::Random rng(1);
    fusion::detail::drop_modalities(in, layout, 0.9, rng);
    std::size_t dropped = 0;
    for (std::size_t r = 0; r < 50; ++r) {
        const float* row = in.data() + r * 7;
        CHECK(row[5] + row[6] >= 1.0f);                       // one stays
        CHECK((row[5] == 0.0f) == (row[0] + row[1] + row[2] == 0.0f));  // bit and features agree
        dropped += (row[5] == 0.0f) + (row[6] == 0.0f);
    }
    CHECK(dropped > 20);

    std::vector<double> z, y;
    synth::Random r2(2);
    for (int i = 0; i < 4000; ++i) {
        z.push_back(r2.uniform(-4.0, 4.0));
        y.push_back(r2.bernoulli(fusion::detail::sigmoid(0.5 * z.back() - 0.7)) ? 1.0 : 0.0);
    }
    const auto [a, b] = fusion::detail::fit_platt(z, y);
    CHECK(a == doctest::Approx(0.5).epsilon(0.15));
    CHECK(b == doctest::Approx(-0.7).epsilon(0.2));

    // Logits that rank the flag the wrong way: no reversed calibration, a
    // constant probability at the smoothed base rate instead.
    std::vector<double> flipped(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) flipped[i] = -z[i];
    const auto [a0, b0] = fusion::detail::fit_platt(flipped, y);
    CHECK(a0 == 0.0);
    double pos = 0;
    for (double v : y) pos += v;
    const double neg = static_cast<double>(y.size()) - pos;
    const double rate = (pos * (pos + 1) / (pos + 2) + neg / (neg + 2)) / (pos + neg);
    CHECK(b0 == doctest::Approx(std::log(rate / (1 - rate))).epsilon(1e-12));
    CHECK(fusion::detail::sigmoid(b0) == doctest::Approx(rate).epsilon(1e-12));
}

TEST_CASE("fusion::train: predictions with uncertainty, file round trip, refusal of other inputs, missing modalities") {
    const auto& model = small_model();
    const auto test = fusion::nmc::synthetic_set(6, 11, 100);
    const auto p = model.predict(test);
    REQUIRE(p.rows == 6);
    for (std::size_t t = 0; t < model.card().targets.size(); ++t)
        for (std::size_t r = 0; r < p.rows; ++r) {
            CHECK(std::isfinite(p.value[t][r]));
            if (model.card().targets[t].kind == fusion::TargetKind::binary) {
                CHECK(p.value[t][r] >= 0.0);
                CHECK(p.value[t][r] <= 1.0);
            } else {
                CHECK(p.sd[t][r] > 0.0);
            }
        }

    // The files carry the card: same predictions after loading.
    const auto dir = std::filesystem::temp_directory_path() / "corespec_fusion_model_test";
    std::filesystem::create_directories(dir);
    const auto paths = model.save((dir / "m").string());
    REQUIRE(paths.size() == model.networks());
    const auto back = fusion::FusionModel::load(paths);
    CHECK(back.card().to_json() == model.card().to_json());
    CHECK(back.card().modalities[4].recipe == model.card().modalities[4].recipe);
    const auto q = back.predict(test);
    for (std::size_t t = 0; t < p.value.size(); ++t)
        for (std::size_t r = 0; r < p.rows; ++r) CHECK(q.value[t][r] == doctest::Approx(p.value[t][r]).epsilon(1e-6));

    // Refusals: features of another layout, a plain model file, members of different models.
    auto other = fusion::nmc::synthetic_modalities();
    other.pop_back();
    CHECK_THROWS_WITH_AS(model.predict(test.features(other)), doctest::Contains("the model expects O_K (167 bins"), value_error);
    other = fusion::nmc::synthetic_modalities();
    other[0].energy_grid = fusion::grid_window(529.9, 563.1, 0.2);
    CHECK_THROWS_AS(model.predict(test.features(other)), value_error);
    nn::Sequential<float> plain;
    plain.emplace<nn::Dense<float>>(model.card().input_size(), 6);
    const auto plain_path = (dir / "plain.safetensors").string();
    nn::save_model(nn::make_model(plain, {model.card().input_size()}), plain_path);
    CHECK_THROWS_WITH_AS(fusion::FusionModel::load({plain_path}), doctest::Contains("not a corespec fusion model"), parse_error);
    // A spectrum that is not the modality's edge is refused by name.
    const auto s = synth::nmc_sample(11, 200);
    std::map<std::string, grid::Spectrum<double>> wrong{{"Ni_K", s.spectra[static_cast<std::size_t>(synth::NmcEdge::co_k)]}};
    CHECK_THROWS_WITH_AS(model.predict(wrong), doctest::Contains("Ni_K"), error);

    // Missing modalities: a subset predicts (documented), nothing is refused.
    std::map<std::string, grid::Spectrum<double>> only_o{{"O_K", s.spectra[0]}};
    const auto po = model.predict(only_o);
    CHECK(po.rows == 1);
    for (const auto& v : po.value) CHECK(std::isfinite(v[0]));
    std::map<std::string, grid::Spectrum<double>> all;
    for (std::size_t k = 0; k < s.spectra.size(); ++k) all.emplace(synth::nmc_edges[k].name, s.spectra[k]);
    const auto pa = model.predict(all);
    bool differs = false;
    for (std::size_t t = 0; t < pa.value.size(); ++t) differs = differs || pa.value[t][0] != po.value[t][0];
    CHECK(differs);
    CHECK_THROWS_AS(model.predict(std::map<std::string, grid::Spectrum<double>>{}), value_error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("fusion::train: the same seed gives the same model; options are checked") {
    fusion::FusionOptions o;
    o.members = 2;
    o.epochs = 3;
    o.hidden = 8;
    o.encoder_width = 2;
    o.strategy = fusion::Strategy::early;
    const auto d = fusion::nmc::synthetic_set(30, 2);
    const auto mods = fusion::nmc::synthetic_modalities();
    const auto a = fusion::train(d, mods, o).predict(d), b = fusion::train(d, mods, o).predict(d);
    CHECK(a.value == b.value);
    for (std::size_t t = 0; t < a.sd.size(); ++t)
        for (std::size_t r = 0; r < a.rows; ++r)
            CHECK((a.sd[t][r] == b.sd[t][r] || (std::isnan(a.sd[t][r]) && std::isnan(b.sd[t][r]))));
    o.modality_dropout = 1.0;
    CHECK_THROWS_AS(fusion::train(d, mods, o), value_error);
}

TEST_CASE("fusion::train: 1 and 2 threads give the same model bit for bit, alone and for several jobs") {
    fusion::FusionOptions o;
    o.members = 3;
    o.epochs = 6;
    o.min_steps = 0;
    o.hidden = 8;
    o.encoder_width = 3;
    o.seed = 9;
    const auto d = fusion::nmc::synthetic_set(40, 6);
    const auto mods = fusion::nmc::synthetic_modalities();
    auto same = [](const fusion::FusionModel& a, const fusion::FusionModel& b, const fusion::Dataset& x) {
        REQUIRE(a.networks() == b.networks());
        CHECK(a.card().to_json() == b.card().to_json());  // heads, calibration, constant heads
        for (std::size_t i = 0; i < a.networks(); ++i)
            CHECK(nn::train::get_parameters(a.network(i).graph()) == nn::train::get_parameters(b.network(i).graph()));
        const auto p = a.predict(x), q = b.predict(x);
        CHECK(p.value == q.value);  // exact equality, not approximate
        for (std::size_t t = 0; t < p.sd.size(); ++t)
            for (std::size_t r = 0; r < p.rows; ++r) CHECK((p.sd[t][r] == q.sd[t][r] || (std::isnan(p.sd[t][r]) && std::isnan(q.sd[t][r]))));
    };
    o.threads = 1;
    const auto one = fusion::train(d, mods, o);
    o.threads = 2;
    const auto two = fusion::train(d, mods, o);
    same(one, two, d);

    // Several jobs (a single edge and all edges) as tasks on one pool: each
    // equals the model trained alone, whatever the count.
    const std::vector<fusion::FusionJob> jobs{{{mods[0]}, o}, {mods, o}};
    const auto serial = fusion::train(d, jobs, 1), parallel = fusion::train(d, jobs, 2);
    REQUIRE(serial.size() == 2);
    REQUIRE(parallel.size() == 2);
    same(serial[0], parallel[0], d);
    same(serial[1], parallel[1], d);
    same(serial[1], one, d);
}

TEST_CASE("fusion::train: per-target early stopping and member selection name the networks of each target; files in any order") {
    const auto& model = small_model();  // per-target selection is the default, 2 members
    const auto& card = model.card();
    REQUIRE(card.heads.size() == card.targets.size());
    CHECK(model.networks() >= 2);
    CHECK(model.networks() <= 2 * card.targets.size());
    std::vector<bool> used(model.networks(), false);
    for (const auto& h : card.heads) {
        CHECK(h.size() == 2);  // the two best members always stay
        for (std::size_t i : h) used.at(i) = true;
    }
    for (bool u : used) CHECK(u);  // no network is kept that no target uses

    // Saved and read back in reverse order: the files know their places.
    const auto dir = std::filesystem::temp_directory_path() / "corespec_fusion_heads_test";
    std::filesystem::create_directories(dir);
    auto paths = model.save((dir / "m").string());
    REQUIRE(paths.size() == model.networks());
    std::reverse(paths.begin(), paths.end());
    const auto back = fusion::FusionModel::load(paths);
    CHECK(back.card().heads == card.heads);
    const auto test = fusion::nmc::synthetic_set(4, 11, 100);
    const auto p = model.predict(test), q = back.predict(test);
    for (std::size_t t = 0; t < p.value.size(); ++t)
        for (std::size_t r = 0; r < p.rows; ++r) CHECK(q.value[t][r] == doctest::Approx(p.value[t][r]).epsilon(1e-6));
    if (paths.size() > 1) {  // a missing network file is refused
        paths.pop_back();
        CHECK_THROWS_AS(fusion::FusionModel::load(paths), parse_error);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("fusion::train: a regression head with validation R2 <= 0 predicts the training mean") {
    // frac_Ni and frac_Li as given, and a target of pure noise that no spectrum tells.
    const auto base = fusion::nmc::synthetic_set(80, 21);
    fusion::Dataset d({{"frac_Ni"}, {"frac_Li"}, {"noise"}});
    synth::Random rng(3);
    for (const auto& s : base.samples()) d.add({s.id, s.group, s.spectra, {s.targets[1], s.targets[0], rng.uniform(0.0, 1.0)}});
    fusion::FusionOptions o;
    o.members = 2;
    o.epochs = 30;
    o.min_steps = 0;
    o.hidden = 16;
    o.encoder_width = 4;
    o.seed = 4;
    o.select_per_target = false;
    const auto mods = fusion::nmc::synthetic_modalities();
    o.constant_if_unpredictable = false;
    const auto free = fusion::train(d, mods, o);
    o.constant_if_unpredictable = true;
    const auto ruled = fusion::train(d, mods, o);

    // The rule's decision is the R2 of the out-of-member predictions pooled
    // over the members: member k's network on its own validation fold k of
    // train's group folds (5 for validation_fraction 0.2). One network per
    // member here (selection by the total loss), in member order.
    REQUIRE(free.networks() == o.members);
    const auto folds = fusion::group_kfold(d, 5, o.seed);
    std::vector<std::vector<double>> pooled_y(3), pooled_p(3);
    for (std::size_t k = 0; k < o.members; ++k) {
        const auto fold = d.subset(folds[k].test);
        const std::vector<float> in = fusion::detail::network_input(fold.features(free.card().modalities));
        std::vector<float> z(fold.size() * 3);
        nn::Workspace<float> ws;
        free.network(k).forward(nn::ConstTensorView<float>(in.data(), nn::Shape{fold.size(), free.card().input_size()}),
                                nn::TensorView<float>(z.data(), nn::Shape{fold.size(), 3}), ws);
        for (std::size_t t = 0; t < 3; ++t)
            for (std::size_t r = 0; r < fold.size(); ++r) {
                pooled_y[t].push_back(fold[r].targets[t]);
                pooled_p[t].push_back(free.card().target_mean[t] + free.card().target_scale[t] * z[r * 3 + t]);
            }
    }
    const auto& fit = d;  // the mean and spread of a constant head are those of all the training data
    const auto& val = d;
    // A constant head (forced here for the noise, which the rule may or may not catch
    // on 32 out-of-member points) predicts the mean and spread of the training data.
    fusion::FusionCard forced = ruled.card();
    forced.constant[2] = true;
    std::vector<nn::Model<float>> nets;
    for (std::size_t i = 0; i < ruled.networks(); ++i) nets.push_back(ruled.network(i));
    const fusion::FusionModel forced_model(forced, std::move(nets));
    CHECK(fusion::FusionCard::from_json(forced.to_json(), "card").constant == forced.constant);
    for (std::size_t t = 0; t < 3; ++t) {
        const double r2 = report::r2_score(pooled_y[t], pooled_p[t]);
        CAPTURE(t);
        CAPTURE(r2);
        CHECK(ruled.card().is_constant(t) == (r2 <= 0));
        CHECK_FALSE(free.card().is_constant(t));
        const fusion::FusionModel& m = ruled.card().is_constant(t) ? ruled : forced_model;
        if (!m.card().is_constant(t)) continue;
        double mean = 0;
        for (const auto& s : fit.samples()) mean += s.targets[t] / static_cast<double>(fit.size());
        const auto p = m.predict(val);
        for (std::size_t r = 0; r < p.rows; ++r) {
            CHECK(p.value[t][r] == doctest::Approx(mean).epsilon(1e-12));
            CHECK(p.sd[t][r] == doctest::Approx(m.card().target_scale[t]).epsilon(1e-12));
        }
    }
    CHECK_FALSE(ruled.card().is_constant(0));  // frac_Ni is learnt
}

TEST_CASE("fusion: the strategy names in a card; files from before the mean strategy read as before") {
    CHECK(fusion::strategy_from_string("early") == fusion::Strategy::early);
    CHECK(fusion::strategy_from_string("late") == fusion::Strategy::late);
    CHECK(fusion::strategy_from_string("mean") == fusion::Strategy::mean);
    for (auto s : {fusion::Strategy::early, fusion::Strategy::late, fusion::Strategy::mean})
        CHECK(fusion::strategy_from_string(fusion::to_string(s)) == s);
    CHECK_THROWS_WITH_AS(fusion::strategy_from_string("median"), doctest::Contains("early, late or mean"), value_error);
    nlohmann::json card = small_model().card().to_json();  // a late model's card, as files have held it
    CHECK(card.at("strategy") == "late");
    CHECK(fusion::FusionCard::from_json(card, "card").strategy == fusion::Strategy::late);
    card["strategy"] = "median";
    CHECK_THROWS_WITH_AS(fusion::FusionCard::from_json(card, "card"), doctest::Contains("corespec.fusion.strategy"), parse_error);
}

namespace {
const fusion::FusionModel& small_mean_model() {
    static const fusion::FusionModel model = [] {
        fusion::FusionOptions o;
        o.strategy = fusion::Strategy::mean;
        o.members = 2;
        o.epochs = 8;
        o.hidden = 16;
        o.encoder_width = 4;
        o.seed = 5;
        return fusion::train(fusion::nmc::synthetic_set(60, 11), fusion::nmc::synthetic_modalities(), o);
    }();
    return model;
}

// x with modality k marked absent in every row; its features zeroed when `zero`, else kept.
fusion::FeatureMatrix without(fusion::FeatureMatrix x, std::size_t k, bool zero) {
    const std::size_t m = x.layout.modality_count();
    for (std::size_t r = 0; r < x.rows; ++r) {
        x.present[r * m + k] = 0;
        if (zero)
            std::fill(x.values.begin() + static_cast<std::ptrdiff_t>(r * x.columns() + x.layout[k].offset),
                      x.values.begin() + static_cast<std::ptrdiff_t>(r * x.columns() + x.layout[k].end()), 0.0);
    }
    return x;
}
}  // namespace

TEST_CASE("fusion::train, mean strategy: every subset of modalities predicts; an absent modality leaves the mean") {
    const auto& model = small_mean_model();
    CHECK(model.card().strategy == fusion::Strategy::mean);
    const auto& net = model.network(0).graph();
    REQUIRE(net.size() >= 4);
    const std::size_t m = model.card().modalities.size(), w = 4;
    CHECK(net.layer(0).config().at("identity_blocks") == nlohmann::json::array({m}));  // the bits copied through
    CHECK(net.layer(2).config() == nlohmann::json{{"type", "masked_block_mean"}, {"blocks", m}, {"width", w}});

    const auto test = fusion::nmc::synthetic_set(6, 11, 100);
    const fusion::FeatureMatrix x = test.features(model.card().modalities);
    // Every non-empty subset of the 7 edges gives finite predictions.
    for (unsigned subset = 1; subset < (1u << m); ++subset) {
        fusion::FeatureMatrix xs = x;
        for (std::size_t k = 0; k < m; ++k)
            if (!(subset >> k & 1u)) xs = without(xs, k, true);
        const auto p = model.predict(xs);
        CAPTURE(subset);
        for (std::size_t t = 0; t < p.value.size(); ++t)
            for (std::size_t r = 0; r < p.rows; ++r) {
                CHECK(std::isfinite(p.value[t][r]));
                if (model.card().targets[t].kind == fusion::TargetKind::regression) CHECK(std::isfinite(p.sd[t][r]));
            }
    }

    // The mask works: what an absent modality's features hold does not matter
    // (late fusion's learnt blocks do see it), ...
    const std::size_t k = 2;
    CHECK(model.outputs(without(x, k, false)) == model.outputs(without(x, k, true)));
    const auto& late = small_model();
    CHECK(late.outputs(without(x, k, false)) != late.outputs(without(x, k, true)));
    CHECK(model.outputs(without(x, k, true)) != model.outputs(x));

    // ... and the row without it is the trunk on the mean of the other encodings.
    const std::vector<float> in = fusion::detail::network_input(x);
    nn::Sequential<float> encoders = net, trunk = net;
    while (encoders.size() > 2) encoders.erase(2);
    for (int i = 0; i < 3; ++i) trunk.erase(0);
    nn::Workspace<float> ws;
    const std::size_t rows = x.rows, ni = model.card().input_size(), nt = model.card().targets.size();
    std::vector<float> h(rows * (m * w + m));
    encoders.forward(nn::ConstTensorView<float>(in.data(), nn::Shape{rows, ni}), nn::TensorView<float>(h.data(), nn::Shape{rows, m * w + m}), ws);
    std::vector<float> z(rows * (w + m), 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        const float* hr = h.data() + r * (m * w + m);
        float* zr = z.data() + r * (w + m);
        for (std::size_t b = 0; b < m; ++b) {
            CHECK(hr[m * w + b] == 1.0f);  // the presence bits came through the encoders and the leaky ReLU as 1
            if (b == k) continue;
            for (std::size_t j = 0; j < w; ++j) zr[j] += hr[b * w + j] / static_cast<float>(m - 1);
        }
        for (std::size_t b = 0; b < m; ++b) zr[w + b] = b == k ? 0.0f : 1.0f;
    }
    std::vector<float> y(rows * nt);
    trunk.forward(nn::ConstTensorView<float>(z.data(), nn::Shape{rows, w + m}), nn::TensorView<float>(y.data(), nn::Shape{rows, nt}), ws);
    const auto direct = model.outputs(without(x, k, false))[0];
    REQUIRE(direct.size() == y.size());
    for (std::size_t i = 0; i < y.size(); ++i) CHECK(direct[i] == doctest::Approx(y[i]).epsilon(1e-5));
}

TEST_CASE("fusion::train, mean strategy: the same seed gives the same model; files round trip") {
    fusion::FusionOptions o;
    o.strategy = fusion::Strategy::mean;
    o.members = 2;
    o.epochs = 3;
    o.min_steps = 100;
    o.hidden = 8;
    o.encoder_width = 3;
    const auto d = fusion::nmc::synthetic_set(30, 2);
    const auto mods = fusion::nmc::synthetic_modalities();
    const auto a = fusion::train(d, mods, o), b = fusion::train(d, mods, o);
    const auto pa = a.predict(d), pb = b.predict(d);
    CHECK(pa.value == pb.value);
    o.seed = 2;
    CHECK(fusion::train(d, mods, o).predict(d).value != pa.value);

    const auto dir = std::filesystem::temp_directory_path() / "corespec_fusion_mean_test";
    std::filesystem::create_directories(dir);
    const auto back = fusion::FusionModel::load(a.save((dir / "m").string()));
    CHECK(back.card().strategy == fusion::Strategy::mean);
    CHECK(back.card().to_json() == a.card().to_json());
    CHECK(back.outputs(d.features(mods)) == a.outputs(d.features(mods)));
    std::filesystem::remove_all(dir);
}

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
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
    std::vector<double> gx(x.size()), gp(l.parameter_count(), 0.0);
    l.backward(nn::ConstTensorView<double>(x.data(), nn::Shape{batch, 9}), nn::ConstTensorView<double>(yl.data(), nn::Shape{batch, 5}),
               nn::ConstTensorView<double>(c.data(), nn::Shape{batch, 5}), nn::TensorView<double>(gx.data(), nn::Shape{batch, 9}),
               span<double>(gp), ws);
    const auto nx = corespec_test::numeric_gradient([&](const std::vector<double>& v) { return weighted_output(l, v, batch, c); }, x);
    CHECK(corespec_test::max_rel_error(gx, nx) < 1e-7);
    const auto np = corespec_test::numeric_gradient(
        [&](const std::vector<double>& v) {
            BlockDense<double> m(l);
            std::copy(v.begin(), v.end(), m.parameters().begin());
            m.parameters_changed();
            return weighted_output(m, x, batch, c);
        },
        p);
    CHECK(corespec_test::max_rel_error(gp, np) < 1e-7);

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

// latent/: posterior sampling, kNN and nearest centroid against brute force
// computed here in double, weighting, ties, errors; image maps and files.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <corespec/io/npy.hpp>
#include <corespec/latent/maps.hpp>

#include "support/latent_fixture.hpp"

using namespace corespec;
using latent::Classification;
using latent::Classifier;
using latent::ClassifierOptions;
using latent::LatentPoints;
using latent::Method;
using latent::Weighting;

namespace {

LatentPoints<float> random_points(std::size_t n, std::size_t dim, std::size_t classes, std::uint64_t seed) {
    synth::Random rng(seed);
    LatentPoints<float> p;
    p.dim = dim;
    for (std::size_t c = 0; c < classes; ++c) p.class_names.push_back("c" + std::to_string(c));
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < dim; ++j) p.values.push_back(static_cast<float>(rng.normal()));
        p.labels.push_back(static_cast<int>(rng.index(classes)));
    }
    return p;
}

// The brute-force kNN: all distances in double, a full stable sort.
Classification<double> brute_knn(const LatentPoints<float>& p, const float* z, std::size_t k, Weighting w) {
    std::vector<double> d(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
        double s = 0;
        for (std::size_t j = 0; j < p.dim; ++j) s += std::pow(double(p.values[i * p.dim + j]) - double(z[j]), 2);
        d[i] = s;
    }
    std::vector<std::size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
    std::vector<double> votes(p.class_names.size(), 0.0);
    for (std::size_t q = 0; q < k; ++q)
        votes[std::size_t(p.labels[order[q]])] += w == Weighting::uniform ? 1.0 : 1.0 / std::sqrt(d[order[q]]);
    const auto top = std::max_element(votes.begin(), votes.end()) - votes.begin();
    return {int(top), votes[std::size_t(top)] / std::accumulate(votes.begin(), votes.end(), 0.0)};
}

}  // namespace

TEST_CASE("kNN equals a brute-force double-precision kNN, uniform and inverse-distance, k 1 / 10 / 25") {
    const auto pts = random_points(1200, 16, 4, 3);
    synth::Random rng(11);
    std::vector<float> z(64 * 16);
    for (auto& v : z) v = static_cast<float>(rng.normal());
    for (Weighting w : {Weighting::uniform, Weighting::inverse_distance})
        for (std::size_t k : {1, 10, 25}) {
            CAPTURE(k);
            const Classifier<float> knn(pts, {Method::knn, k, w});
            auto s = knn.scratch(64);
            std::vector<Classification<float>> got(64);
            knn.classify(z.data(), 64, got.data(), s);
            for (std::size_t i = 0; i < 64; ++i) {
                const auto want = brute_knn(pts, z.data() + i * 16, k, w);
                CHECK(got[i].label == want.label);
                CHECK(got[i].confidence == doctest::Approx(want.confidence).epsilon(1e-5));
                // One query alone gives the batch's numbers bit for bit.
                const auto alone = knn.classify(z.data() + i * 16, s);
                CHECK(alone.label == got[i].label);
                CHECK(alone.confidence == got[i].confidence);
            }
        }
}

TEST_CASE("kNN ties: equal distances keep the lower point index, equal votes the lower class") {
    // Points on a line at x = 1, -1, 1, 2 (labels 1, 0, 0, 1); query at 0.
    LatentPoints<float> p{1, {1.f, -1.f, 1.f, 2.f}, {1, 0, 0, 1}, {"a", "b"}};
    const float z = 0.f;
    {
        const Classifier<float> k1(p, {Method::knn, 1, Weighting::uniform});
        auto s = k1.scratch(1);
        CHECK(k1.classify(&z, s).label == 1);  // points 0, 1, 2 all at distance 1: point 0 wins
    }
    {
        const Classifier<float> k2(p, {Method::knn, 2, Weighting::uniform});
        auto s = k2.scratch(1);
        const auto c = k2.classify(&z, s);  // points 0 (class 1) and 1 (class 0): a tie, class 0
        CHECK(c.label == 0);
        CHECK(c.confidence == doctest::Approx(0.5));
    }
    {
        const Classifier<float> k4(p, {Method::knn, 4, Weighting::inverse_distance});
        auto s = k4.scratch(1);
        const auto c = k4.classify(&z, s);  // class 1: 1 + 1/2, class 0: 1 + 1
        CHECK(c.label == 0);
        CHECK(c.confidence == doctest::Approx(2.0 / 3.5));
    }
    {
        // A neighbour at distance 0: only it votes under inverse-distance weighting.
        const Classifier<float> k4(p, {Method::knn, 4, Weighting::inverse_distance});
        auto s = k4.scratch(1);
        const float at = 2.f;
        const auto c = k4.classify(&at, s);
        CHECK(c.label == 1);
        CHECK(c.confidence == 1.f);
    }
}

TEST_CASE("nearest centroid: the class of the nearest mean, inverse-distance confidence") {
    LatentPoints<float> p{2, {0, 0, 2, 0, 10, 10, 12, 10}, {0, 0, 1, 1}, {"a", "b"}};
    const Classifier<float> nc(p, {Method::nearest_centroid, 1, Weighting::uniform});
    CHECK(nc.point_count() == 2);
    auto s = nc.scratch(2);
    const float z[4] = {1, 1, 11, 9};  // distances: sqrt(1) to (1,0) and sqrt(181) to (11,10) ...
    Classification<float> out[2];
    nc.classify(z, 2, out, s);
    CHECK(out[0].label == 0);
    CHECK(out[1].label == 1);
    const double d0 = 1.0, d1 = std::sqrt(100.0 + 81.0);
    CHECK(out[0].confidence == doctest::Approx((1 / d0) / (1 / d0 + 1 / d1)).epsilon(1e-5));
}

TEST_CASE("classifier errors: k > points, k = 0, bad labels, empty class, non-finite points, bad JSON") {
    const auto pts = random_points(5, 2, 2, 1);
    CHECK_THROWS_WITH_AS(Classifier<float>(pts, {Method::knn, 6, Weighting::uniform}),
                         "latent::Classifier: k = 6 needs 1 to 5 reference points", value_error);
    CHECK_THROWS_AS(Classifier<float>(pts, {Method::knn, 0, Weighting::uniform}), value_error);
    auto bad = pts;
    bad.labels[2] = 7;
    CHECK_THROWS_WITH_AS(Classifier<float>{bad}, "latent::Classifier: label 7 outside [0, 2)", value_error);
    auto nan = pts;
    nan.values[3] = std::nanf("");
    CHECK_THROWS_AS(Classifier<float>(nan, {Method::knn, 1, Weighting::uniform}), value_error);
    LatentPoints<float> one{1, {0.f, 1.f}, {0, 0}, {"a", "b"}};
    CHECK_THROWS_WITH_AS(Classifier<float>(one, {Method::nearest_centroid, 1, Weighting::uniform}),
                         "latent::Classifier: class 'b' has no points for its centroid", value_error);
    CHECK_THROWS_AS(ClassifierOptions::from_json(nlohmann::json{{"k", 0}}), value_error);
    CHECK_THROWS_AS(ClassifierOptions::from_json(nlohmann::json{{"method", "svm"}}), value_error);
    CHECK_THROWS_AS(ClassifierOptions::from_json(nlohmann::json{{"kk", 3}}), value_error);
    const ClassifierOptions o{Method::nearest_centroid, 4, Weighting::inverse_distance};
    const auto back = ClassifierOptions::from_json(o.to_json());
    CHECK(back.method == o.method);
    CHECK(back.k == 4);
    CHECK(back.weighting == o.weighting);
}

TEST_CASE("posterior samples: mean + exp(logvar / 2) eps, seeded per reference, 0 samples keep the means") {
    latent::Embedding<float> e{2, {1, 2, -1, 0}, {0, std::log(4.f), 0, 0}};
    const auto a = latent::sample_posterior(e, {0, 1}, {"x", "y"}, 3, 5);
    CHECK(a.size() == 6);
    CHECK(a.labels == std::vector<int>{0, 0, 0, 1, 1, 1});
    synth::Random r0(synth::mix_seed(5, 0));
    const double e0 = r0.normal(), e1 = r0.normal();
    CHECK(a.values[0] == doctest::Approx(1 + e0));
    CHECK(a.values[1] == doctest::Approx(2 + 2 * e1));  // sd exp(log 4 / 2) = 2
    // Reference 1's draws do not depend on reference 0 being there.
    latent::Embedding<float> only1{2, {-1, 0}, {0, 0}};
    synth::Random r1(synth::mix_seed(5, 1));
    const double f0 = r1.normal();
    CHECK(a.values[6] == doctest::Approx(-1 + f0));
    const auto means = latent::sample_posterior(e, {0, 1}, {"x", "y"}, 0, 5);
    CHECK(means.values == e.mean);
    CHECK_THROWS_AS(latent::sample_posterior(e, {0}, {"x"}, 1, 1), value_error);
    CHECK_THROWS_AS(latent::sample_posterior(e, {0, 2}, {"x", "y"}, 1, 1), value_error);
    (void)only1;
}

TEST_CASE("image maps: analyse_image equals one spectrum at a time, any thread count; NPY and SVG files, column shares") {
    const auto enc = corespec_test::latent_encoder();
    const latent::Analyser<float> a(corespec_test::latent_recipe().prepare(corespec_test::latent_axis()), enc,
                                    Classifier<float>(corespec_test::latent_references(enc), {Method::knn, 5}), true, 8);
    const std::size_t rows = 5, cols = 7, n = rows * cols, ch = corespec_test::latent_axis().size();
    auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p % 7 >= 3); });
    std::fill(data.begin() + 4 * ch, data.begin() + 5 * ch, 0.f);  // pixel 4: empty background window
    auto cube = xt::xarray<float>::from_shape({rows, cols, ch});
    std::copy(data.begin(), data.end(), cube.begin());
    const grid::SpectrumImage<float> image(cube, corespec_test::latent_axis());
    const auto m1 = latent::analyse_image(a, image, 1), m3 = latent::analyse_image(a, image, 3);
    CHECK(m1.label == m3.label);
    CHECK(m1.confidence == m3.confidence);
    auto s = a.scratch();
    for (std::size_t p = 0; p < n; ++p) {
        latent::SpectrumResult<float> r;
        a.process(data.data() + p * ch, 0, 1, &r, s);
        CHECK(m1.label[p] == float(r.label));
        CHECK(m1.confidence[p] == float(r.confidence));
        if (r.status == PixelStatus::ok) CHECK(m1.anomaly[p] == float(r.anomaly));
    }
    CHECK(m1.label[4] == -1.f);
    CHECK(std::isnan(m1.anomaly[4]));

    const auto dir = std::filesystem::temp_directory_path() / "corespec_test_latent_maps";
    std::filesystem::create_directories(dir);
    latent::save_maps(m1, (dir / "m").string());
    const auto back = io::read_npy<float>((dir / "m_class.npy").string());
    CHECK(back.shape == std::vector<std::size_t>{rows, cols});
    const auto text = [&](const char* name) {
        std::ifstream in(dir / name, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    };
    const std::string klass = text("m_class.svg"), conf = text("m_confidence.svg"), anomaly = text("m_anomaly.svg");
    CHECK(klass.find("<svg") != std::string::npos);
    CHECK(klass.find("class: 0 = " + m1.class_names[0]) != std::string::npos);  // the colour bar's legend
    CHECK(klass.find("1 masked") != std::string::npos);                         // pixel 4 failed
    CHECK(conf.find("1 masked") != std::string::npos);
    CHECK(anomaly.find("reconstruction mean squared error") != std::string::npos);
    CHECK(std::count(klass.begin(), klass.end(), '\n') > std::ptrdiff_t(n));  // one element per pixel at least
    // Class shares per column: columns 3..6 hold class 1 (but for the failed pixel 4 of row 0).
    const auto col = latent::column_fractions(m1, 1);
    REQUIRE(col.size() == cols);
    for (std::size_t k = 0; k < cols; ++k) {
        double want = 0;
        for (std::size_t r = 0; r < rows; ++r) want += m1.label[r * cols + k] == 1.f ? 1.0 : 0.0;
        CHECK(col[k] == doctest::Approx(want / double(rows)));
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("latent::draw_maps: class ids on the fixed scale 0 .. K-1, confidence on 0 .. 1") {
    // A frame of class 1 alone (of 3 classes) is drawn in class 1's colour, the middle of the scale, not
    // at the bottom of a one-value bar; confidence 1 everywhere is the top of 0 .. 1.
    latent::ClassMaps m;
    m.shape = {2, 2};
    m.class_names = {"a", "b", "c"};
    m.label.assign(4, 1.f), m.confidence.assign(4, 1.f), m.anomaly.assign(4, 0.5f);
    const auto f = latent::draw_maps(m, "one class");
    const auto fill = [](double t) { return "fill=\"" + report::detail::sequential(t) + "\""; };
    const auto count = [](const std::string& s, const std::string& what) {
        std::size_t n = 0;
        for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
        return n;
    };
    CHECK(count(f.klass, fill(0.5)) == 4);
    CHECK(f.klass.find(">2</text><text") != std::string::npos);  // the bar: 0 .. 2
    CHECK(f.klass.find("100 % b") != std::string::npos);
    CHECK(count(f.confidence, fill(1.0)) == 4);
    CHECK(f.confidence.find(">1</text><text") != std::string::npos);
    // Class 0 alone: the bottom colour, the same scale.
    m.label.assign(4, 0.f);
    CHECK(count(latent::draw_maps(m).klass, fill(0.0)) == 4);
}

TEST_CASE("analyser errors: recipe output vs encoder input, latent vs classifier, batch overflow") {
    const auto enc = corespec_test::latent_encoder();
    const auto refs = corespec_test::latent_references(enc);
    const auto wrong = steps::Recipe().then(steps::Resample(610, 641.5, 0.5));  // 64 values: fits
    CHECK_NOTHROW(latent::Analyser<float>(wrong.prepare(corespec_test::latent_axis()), enc, Classifier<float>(refs)));
    const auto too_long = steps::Recipe().then(steps::Resample(610, 650, 0.5));
    CHECK_THROWS_AS(latent::Analyser<float>(too_long.prepare(corespec_test::latent_axis()), enc, Classifier<float>(refs)),
                    shape_error);
    LatentPoints<float> flat{2, {0, 0, 1, 1}, {0, 1}, {"a", "b"}};
    CHECK_THROWS_AS(latent::Analyser<float>(wrong.prepare(corespec_test::latent_axis()), enc,
                                            Classifier<float>(flat, {Method::knn, 1})),
                    shape_error);
    const latent::Analyser<float> a(wrong.prepare(corespec_test::latent_axis()), enc, Classifier<float>(refs), false, 2);
    auto s = a.scratch();
    std::vector<float> x(3 * 256, 1.f);
    std::vector<latent::SpectrumResult<float>> r(3);
    CHECK_THROWS_AS(a.process(x.data(), 256, 3, r.data(), s), value_error);
}

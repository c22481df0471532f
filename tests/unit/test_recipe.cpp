// Steps and recipes: JSON round trip, bad recipes, order checks, image ==
// pixel by pixel bit for bit, raw / strided / in-place buffers, per-pixel
// status of every step, and the XAS scan -> model input as one call.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/grid/resample.hpp"
#include "corespec/io/read.hpp"
#include "corespec/steps/recipe.hpp"
#include "support/bitwise.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using steps::Recipe;
using steps::step_error;
using corespec_test::same_bits;  // bitwise, NaN == NaN

namespace {

// A core-loss line of `pixels` spectra: power law + an edge at 532 eV, with
// pixel-dependent A, r; pixel 3 all zeros (empty window), pixel 5 with a NaN.
grid::SpectrumImage<float> eels_image(std::size_t pixels, std::size_t channels = 800) {
    auto img = grid::SpectrumImage<float>::zeros({pixels}, grid::EnergyAxis::uniform(400.0, 0.25, channels));
    for (std::size_t p = 0; p < pixels; ++p) {
        auto v = img.pixel(p).values;
        const double a = 1e10 * (1.0 + 0.3 * std::sin(0.7 * double(p))), r = 3.0 + 0.2 * std::cos(0.3 * double(p));
        for (std::size_t i = 0; i < channels; ++i) {
            const double e = 400.0 + 0.25 * double(i);
            double y = a * 0.25 * std::pow(e, -r);
            if (e > 532.0) y += 20.0 * (1.0 + std::atan((e - 535.0) / 2.0));
            v[i] = static_cast<float>(y * (1.0 + 0.01 * std::sin(double(i * 7 + p * 13))));
        }
    }
    if (pixels > 3) std::fill(img.pixel(3).values.begin(), img.pixel(3).values.end(), 0.0f);
    if (pixels > 5) img.pixel(5).values[100] = std::numeric_limits<float>::quiet_NaN();
    return img;
}

prep::BackgroundOptions window(double lo, double hi) {
    prep::BackgroundOptions o;
    o.lo = lo;
    o.hi = hi;
    return o;
}

Recipe eels_recipe() {
    return Recipe()
        .then(steps::BackgroundStep(window(500.0, 509.75)))
        .then(steps::Crop(520.0, 580.0))
        .then(steps::Resample(521.0, 579.0, 0.5));
}

// XAS K edges with e0 moving from pixel to pixel; pixel 2 flat (no edge).
grid::SpectrumImage<double> xas_image(std::size_t pixels) {
    std::vector<double> e;
    for (double x = 7000; x < 7100; x += 2.0) e.push_back(x);
    for (double x = 7100; x < 7180; x += 0.5) e.push_back(x);
    for (double x = 7180; x <= 7500; x += 3.0) e.push_back(x);
    auto img = grid::SpectrumImage<double>::zeros({pixels}, grid::EnergyAxis::from_energies(e));
    for (std::size_t p = 0; p < pixels; ++p) {
        auto v = img.pixel(p).values;
        const double e0 = 7110.0 + 3.0 * double(p), step = 1.0 + 0.1 * double(p);
        for (std::size_t i = 0; i < e.size(); ++i)
            v[i] = p == 2 ? 0.5 : 0.2 - 1e-5 * (e[i] - 7000) + step / (1.0 + std::exp(-(e[i] - e0) / 1.2)) +
                                      0.002 * std::sin(0.37 * double(i));
    }
    return img;
}

Recipe xas_recipe() {
    return Recipe().then(steps::PreEdgeStep()).then(steps::Resample(-20.0, 60.0, 0.5, steps::GridReference::e0));
}

// Every step once, with non-default fields, for the round trip.
Recipe every_step() {
    prep::PreEdgeParams p;
    p.nnorm = 2;
    p.pre1 = -150.0;
    p.min_edge_snr = 10.0;
    prep::BackgroundOptions b = window(500.0, 520.0);
    b.model = prep::BackgroundModel::exponential;
    b.fit = prep::BackgroundFit::least_squares;
    b.zero_fill = true;
    prep::Broaden br;
    br.sigma = 0.3;
    br.lorentz_fwhm = 1.1;
    br.weight_by_energy = true;
    grid::ResampleOptions ro;
    ro.method = grid::Method::pchip;
    ro.out_of_range = grid::OutOfRange::hold;
    return Recipe()
        .then(steps::ZlpAlignStep(2.5, prep::ZlpMethod::gaussian, std::make_pair(-3.0, 3.0)))
        .then(steps::BackgroundStep(b))
        .then(steps::PreEdgeStep(p, prep::PreEdgeOutput::flat))
        .then(steps::Resample(-30.0, 80.0, 0.1, steps::GridReference::e0, 0.0, ro))
        .then(steps::Crop(-10.0, 70.0))
        .then(steps::Resample(0.0, 60.0, 0.25, steps::GridReference::energy, 0.0))
        .then(steps::NormalizeStep(prep::NormKind::area))
        .then(steps::Smooth(7, 3))
        .then(steps::Derivative(steps::Derivative::Method::savgol, 1, 9, 2))
        .then(steps::BroadenStep(br))
        .then(steps::Deconvolve(prep::FourierRatioOptions{1.2, 3.0, true, false}, "low_loss_2"));
}

// The error a recipe JSON text raises, as (step, field).
std::pair<std::string, std::string> recipe_error(const std::string& text) {
    try {
        Recipe::parse(text);
    } catch (const step_error& e) {
        return {e.step(), e.field()};
    }
    return {"no error", ""};
}

std::string with_steps(const std::string& steps) {
    return R"({"format": "corespec.recipe", "version": 1, "steps": [)" + steps + "]}";
}

}  // namespace

TEST_CASE("recipe JSON round trip gives an identical recipe, for every step") {
    const Recipe r = every_step();
    CHECK(r.size() == steps::step_names().size() + 1);  // resample appears twice
    const std::string text = r.dump();
    const Recipe back = Recipe::parse(text);
    CHECK(back == r);
    CHECK(back.dump() == text);
    CHECK(back.to_json()["format"] == "corespec.recipe");
    CHECK(back.to_json()["version"] == 1);
    // A copy is a deep copy, and equal.
    const Recipe copy = back;
    CHECK(copy == r);
    // Defaults fill fields a hand-written recipe leaves out.
    const Recipe minimal = Recipe::parse(with_steps(R"({"step": "pre_edge"},
        {"step": "resample", "lo": -20, "hi": 60, "step_size": 0.5, "relative_to": "e0"})"));
    CHECK(minimal == xas_recipe());
}

TEST_CASE("bad recipe JSON: each error names the step and the field") {
    using P = std::pair<std::string, std::string>;
    CHECK(recipe_error(with_steps(R"({"step": "pre_edgee"})")) == P{"recipe step 0 (pre_edgee)", "step"});
    CHECK(recipe_error(with_steps(R"({"nnorm": 2})")) == P{"recipe step 0 (?)", "step"});
    CHECK(recipe_error(with_steps(R"({"step": "eels_background", "hi": 510})")) ==
          P{"recipe step 0 (eels_background)", "lo"});
    CHECK(recipe_error(with_steps(R"({"step": "crop", "lo": "500", "hi": 510})")) == P{"recipe step 0 (crop)", "lo"});
    CHECK(recipe_error(with_steps(R"({"step": "crop", "lo": 500, "hi": 510, "high": 3})")) ==
          P{"recipe step 0 (crop)", "high"});
    CHECK(recipe_error(with_steps(R"({"step": "normalize", "kind": "l2"})")) == P{"recipe step 0 (normalize)", "kind"});
    // Wrong order: the fit window lies outside the grid an earlier resample leaves.
    CHECK(recipe_error(with_steps(R"({"step": "resample", "lo": 450, "hi": 590, "step_size": 1},
                                     {"step": "eels_background", "lo": 420, "hi": 430})")) ==
          P{"recipe step 1 (eels_background)", "lo"});
    CHECK(recipe_error(with_steps(R"({"step": "crop", "lo": 450, "hi": 590},
                                     {"step": "resample", "lo": 400, "hi": 500, "step_size": 1})")) ==
          P{"recipe step 1 (resample)", "lo"});
    // A grid relative to e0 needs a step that finds e0 first.
    CHECK(recipe_error(with_steps(R"({"step": "resample", "lo": -20, "hi": 60, "step_size": 0.5, "relative_to": "e0"})")) ==
          P{"recipe step 0 (resample)", "relative_to"});
    // The envelope.
    CHECK(recipe_error(R"({"format": "corespec.model", "version": 1, "steps": []})") == P{"recipe", "format"});
    CHECK(recipe_error(R"({"format": "corespec.recipe", "version": 2, "steps": []})") == P{"recipe", "version"});
    CHECK(recipe_error(R"({"format": "corespec.recipe", "version": 1, "steps": {}})") == P{"recipe", "steps"});
    CHECK(recipe_error(R"({"format": "corespec.recipe", "version": 1, "steps": [], "x": 1})") == P{"recipe", "x"});
    CHECK_THROWS_AS(Recipe::parse("{\"format\": "), parse_error);
    CHECK_THROWS_AS(Recipe::parse("[1, 2]"), step_error);
}

TEST_CASE("every step rejects an out-of-range parameter, naming itself and the field") {
    using P = std::pair<std::string, std::string>;
    const auto err = [](const std::string& step_json) { return recipe_error(with_steps(step_json)); };
    CHECK(err(R"({"step": "pre_edge", "nnorm": 99})") == P{"recipe step 0 (pre_edge)", "nnorm"});
    CHECK(err(R"({"step": "pre_edge", "edge_step": 0})") == P{"recipe step 0 (pre_edge)", "edge_step"});
    CHECK(err(R"({"step": "pre_edge", "npre": 2})") == P{"recipe step 0 (pre_edge)", "npre"});
    CHECK(err(R"({"step": "pre_edge", "min_edge_snr": -1})") == P{"recipe step 0 (pre_edge)", "min_edge_snr"});
    CHECK(err(R"({"step": "eels_background", "lo": 510, "hi": 500})") == P{"recipe step 0 (eels_background)", "hi"});
    CHECK(err(R"({"step": "eels_background", "lo": 500, "hi": 510, "polynomial_order": 11})") ==
          P{"recipe step 0 (eels_background)", "polynomial_order"});
    CHECK(err(R"({"step": "eels_background", "lo": 500, "hi": 510, "max_iterations": 0})") ==
          P{"recipe step 0 (eels_background)", "max_iterations"});
    CHECK(err(R"({"step": "zlp_align", "max_shift": 0})") == P{"recipe step 0 (zlp_align)", "max_shift"});
    CHECK(err(R"({"step": "zlp_align", "search_lo": -1})") == P{"recipe step 0 (zlp_align)", "search_hi"});
    CHECK(err(R"({"step": "crop", "lo": 5, "hi": 5})") == P{"recipe step 0 (crop)", "hi"});
    CHECK(err(R"({"step": "resample", "lo": 0, "hi": 10, "step_size": 0})") == P{"recipe step 0 (resample)", "step_size"});
    CHECK(err(R"({"step": "resample", "lo": 0, "hi": 10, "step_size": 20})") == P{"recipe step 0 (resample)", "step_size"});
    CHECK(err(R"({"step": "resample", "lo": 0, "hi": 10, "step_size": 1, "relative_to": "energy"})") ==
          P{"recipe step 0 (resample)", "reference"});
    CHECK(err(R"({"step": "resample", "lo": 0, "hi": 10, "step_size": 1, "method": "cubic"})") ==
          P{"recipe step 0 (resample)", "method"});
    CHECK(err(R"({"step": "smooth", "window": 4})") == P{"recipe step 0 (smooth)", "window"});
    CHECK(err(R"({"step": "smooth", "window": 5, "order": 5})") == P{"recipe step 0 (smooth)", "order"});
    CHECK(err(R"({"step": "derivative", "edge_order": 3})") == P{"recipe step 0 (derivative)", "edge_order"});
    CHECK(err(R"({"step": "derivative", "method": "savgol", "order": 0})") == P{"recipe step 0 (derivative)", "order"});
    CHECK(err(R"({"step": "broaden", "sigma": -1})") == P{"recipe step 0 (broaden)", "sigma"});
    CHECK(err(R"({"step": "broaden"})") == P{"recipe step 0 (broaden)", "sigma"});
    CHECK(err(R"({"step": "normalize", "kind": 3})") == P{"recipe step 0 (normalize)", "kind"});
    // The value types validate the same way without JSON.
    CHECK_THROWS_AS(steps::Crop(1.0, std::nan("")), step_error);
    CHECK_THROWS_AS(steps::Smooth(3, 3), step_error);
}

TEST_CASE("a step that cannot run on the axis it receives names itself and the field") {
    const auto axis = grid::EnergyAxis::uniform(400.0, 0.25, 800);  // 400 .. 599.75
    const auto fails = [&](const Recipe& r, const std::string& step, const std::string& field) {
        try {
            r.prepare(axis);
        } catch (const step_error& e) {
            CHECK(e.step() == step);
            CHECK(e.field() == field);
            return;
        }
        FAIL("no step_error");
    };
    fails(Recipe().then(steps::BackgroundStep(window(300, 310))), "recipe step 0 (eels_background)", "lo");
    fails(Recipe().then(steps::Crop(700, 800)), "recipe step 0 (crop)", "lo");
    fails(Recipe().then(steps::Resample(300, 500, 1)), "recipe step 0 (resample)", "lo");
    fails(Recipe().then(steps::ZlpAlignStep(150)), "recipe step 0 (zlp_align)", "max_shift");
    fails(Recipe().then(steps::Smooth(1001, 2)), "recipe step 0 (smooth)", "window");
    const auto explicit_axis = grid::EnergyAxis::from_energies({1, 2, 4, 8, 16, 32, 64});
    try {
        Recipe().then(steps::Smooth(3, 1)).prepare(explicit_axis);
        FAIL("no step_error");
    } catch (const step_error& e) {
        CHECK(e.field() == "window");
        CHECK(std::string(e.what()).find("uniform") != std::string::npos);
    }
}

TEST_CASE("EELS recipe on an image equals the pixels run one at a time and the direct calls, bit for bit") {
    const auto img = eels_image(24);
    const Recipe r = eels_recipe();
    const auto one = r.run(img, 1);
    const auto three = r.run(img, 3);
    const std::size_t m = one.image.channel_count();
    REQUIRE(m == 117);  // 521 .. 579 in 0.5 eV
    CHECK(one.image.axis().front() == 521.0);
    CHECK(same_bits(one.image.data().data(), three.image.data().data(), one.image.data().size()));
    CHECK(one.report.status == three.report.status);
    CHECK(same_bits(one.report.values.data(), three.report.values.data(), one.report.values.size()));
    CHECK(one.report.names == std::vector<std::string>{"eels_background.A", "eels_background.r"});
    CHECK(one.report.status[3] == PixelStatus::empty_window);
    CHECK(one.report.failed() == 1);  // the NaN of pixel 5 lies outside the fit window and the crop
    CHECK(one.report.failed_step[3] == 0);

    // Direct calls of the algorithms, one pixel at a time.
    const prep::BackgroundRemover rm(img.axis(), window(500.0, 509.75));
    const auto cropped_axis = grid::crop(img.spectrum(0), 520.0, 580.0).axis();
    const grid::Resampler rs(cropped_axis, grid::axis_from_step(521.0, 579.0, 0.5));
    const auto [first, last] = img.axis().window(520.0, 580.0);
    for (std::size_t p = 0; p < img.pixel_count(); ++p) {
        INFO("pixel " << p);
        const auto single = r.run(img.spectrum(p));
        CHECK(single.status() == one.report.status[p]);
        CHECK(same_bits(single.spectrum.values().data(), one.image.pixel(p).values.data(), m));
        if (one.report.status[p] != PixelStatus::ok) continue;
        std::vector<float> sub(img.channel_count()), out(m);
        std::vector<double> params(2);
        CHECK(rm.apply(img.pixel(p).values, span<float>(sub), span<double>(params)) == prep::BackgroundStatus::ok);
        rs.apply(span<const float>(sub.data() + first, last - first), span<float>(out));
        CHECK(same_bits(out.data(), one.image.pixel(p).values.data(), m));
        CHECK(params[0] == one.report.value(p, "eels_background.A"));
        CHECK(params[1] == one.report.value(p, "eels_background.r"));
    }
}

TEST_CASE("XAS recipe on an image: e0 per pixel, relative grid, equal to per-pixel and direct calls") {
    const auto img = xas_image(6);
    const Recipe r = xas_recipe();
    const auto res = r.run(img, 2);
    CHECK(res.image.axis().front() == -20.0);
    CHECK(res.image.axis().back() == 60.0);
    CHECK(res.report.status[2] == PixelStatus::no_edge);
    CHECK(res.report.failed_step[2] == 0);
    CHECK(std::isnan(res.image.pixel(2).values[0]));
    CHECK(res.report.failed() == 1);
    const auto e0 = res.report.column("pre_edge.e0");
    for (std::size_t p = 0; p < img.pixel_count(); ++p) {
        INFO("pixel " << p);
        const auto single = r.run(img.spectrum(p));
        CHECK(same_bits(single.spectrum.values().data(), res.image.pixel(p).values.data(), res.image.channel_count()));
        if (p == 2) continue;
        CHECK(e0[p] == doctest::Approx(7110.0 + 3.0 * double(p)).epsilon(1e-4));
        const auto pe = prep::pre_edge(span<const double>(img.axis().energies()), img.pixel(p).values);
        const grid::Spectrum<double> norm(img.axis(), pe.norm);
        const auto direct = grid::resample(norm, grid::RelativeGrid{-20.0, 60.0, 0.5}.absolute(pe.e0));
        CHECK(pe.e0 == e0[p]);
        CHECK(pe.edge_step == res.report.value(p, "pre_edge.edge_step"));
        CHECK(same_bits(direct.values().data(), res.image.pixel(p).values.data(), direct.size()));
    }
}

TEST_CASE("a caller's raw buffer: no copy, strided (energy-slowest) input, and in place") {
    const auto img = eels_image(10);
    const std::size_t n = img.channel_count(), pixels = img.pixel_count();
    const Recipe r = eels_recipe();
    const auto plan = r.prepare(img.axis());
    const std::size_t m = plan.output_axis().size();
    // Pixel-major buffer of the caller.
    std::vector<float> buffer(img.data().begin(), img.data().end()), out(pixels * m);
    const auto rep = r.run(plan, steps::Block<const float>::contiguous(buffer.data(), pixels, n), span<float>(out), 2);
    const auto ref = r.run(img, 1);
    CHECK(same_bits(out.data(), ref.image.data().data(), out.size()));
    CHECK(rep.status == ref.report.status);
    // The same data energy-slowest: value i of pixel p at [i * pixels + p].
    std::vector<float> cube(n * pixels);
    for (std::size_t p = 0; p < pixels; ++p)
        for (std::size_t i = 0; i < n; ++i) cube[i * pixels + p] = buffer[p * n + i];
    std::vector<float> out2(pixels * m);
    steps::Block<const float> strided{cube.data(), pixels, n, 1, static_cast<std::ptrdiff_t>(pixels)};
    r.run(plan, strided, span<float>(out2), 3);
    CHECK(same_bits(out2.data(), out.data(), out.size()));
    // In place: background + normalisation keep the axis, so the output can be the input.
    const Recipe same_axis = Recipe().then(steps::BackgroundStep(window(500.0, 509.75))).then(steps::NormalizeStep());
    const auto expect = same_axis.run(img, 1);
    const auto in_place = same_axis.run(img.axis(), steps::Block<const float>::contiguous(buffer.data(), pixels, n),
                                        span<float>(buffer), 2);
    CHECK(same_bits(buffer.data(), expect.image.data().data(), buffer.size()));
    CHECK(in_place.status == expect.report.status);
    // Shapes are checked.
    std::vector<float> small(3);
    CHECK_THROWS_AS(r.run(plan, steps::Block<const float>::contiguous(cube.data(), pixels, n), span<float>(small)),
                    shape_error);
}

TEST_CASE("each step reports a bad pixel in the shared status and writes NaN") {
    const auto axis = grid::EnergyAxis::uniform(-10.0, 0.1, 301);  // -10 .. 20 eV
    const auto run1 = [&](const steps::Step& s, std::vector<double> y) {
        return Recipe().then(s).run(grid::Spectrum<double>(axis, std::move(y)));
    };
    std::vector<double> peak(axis.size()), flat(axis.size(), 2.0), with_nan(axis.size());
    for (std::size_t i = 0; i < axis.size(); ++i) {
        const double e = axis.energy(i);
        peak[i] = 100.0 * std::exp(-0.5 * (e - 0.3) * (e - 0.3)) + 1.0 + 0.1 * e;
        with_nan[i] = peak[i];
    }
    with_nan[150] = std::nan("");
    CHECK(run1(steps::PreEdgeStep(), flat).status() == PixelStatus::no_edge);
    CHECK(run1(steps::PreEdgeStep(), with_nan).status() == PixelStatus::non_finite);
    CHECK(run1(steps::BackgroundStep(window(5.0, 10.0)), std::vector<double>(axis.size(), 0.0)).status() ==
          PixelStatus::empty_window);
    CHECK(run1(steps::BackgroundStep(window(5.0, 10.0)), std::vector<double>(axis.size(), -1.0)).status() ==
          PixelStatus::non_positive);
    CHECK(run1(steps::ZlpAlignStep(2.0), with_nan).status() == PixelStatus::non_finite);
    std::vector<double> far_peak(axis.size());
    for (std::size_t i = 0; i < axis.size(); ++i) far_peak[i] = std::exp(-0.5 * std::pow(axis.energy(i) - 6.0, 2));
    CHECK(run1(steps::ZlpAlignStep(2.0), far_peak).status() == PixelStatus::out_of_range);
    CHECK(run1(steps::Resample(-5, 5, 0.5), with_nan).status() == PixelStatus::non_finite);
    CHECK(run1(steps::NormalizeStep(), flat).status() == PixelStatus::constant);
    CHECK(run1(steps::NormalizeStep(prep::NormKind::sum), std::vector<double>(axis.size(), 0.0)).status() ==
          PixelStatus::constant);
    CHECK(run1(steps::Smooth(5, 2), with_nan).status() == PixelStatus::non_finite);
    CHECK(run1(steps::Derivative(), with_nan).status() == PixelStatus::non_finite);
    CHECK(run1(steps::BroadenStep(prep::Broaden{0.5}), with_nan).status() == PixelStatus::non_finite);
    const auto failed = run1(steps::NormalizeStep(), flat);
    for (double v : failed.spectrum.values()) CHECK(std::isnan(v));
    CHECK(failed.report.failed_step[0] == 0);
    // values<> throws for a failed spectrum, naming the step.
    CHECK_THROWS_WITH_AS(Recipe().then(steps::NormalizeStep()).values<float>(grid::Spectrum<double>(axis, flat)),
                         doctest::Contains("normalize"), value_error);
}

TEST_CASE("steps on one spectrum match the algorithms they wrap") {
    const auto axis = grid::EnergyAxis::uniform(-10.0, 0.1, 301);
    std::vector<double> y(axis.size());
    for (std::size_t i = 0; i < axis.size(); ++i) {
        const double e = axis.energy(i);
        y[i] = 100.0 * std::exp(-0.5 * (e - 0.3) * (e - 0.3) / 0.2) + 5.0 * std::exp(-0.1 * (e + 10));
    }
    const grid::Spectrum<double> s(axis, y);
    // zlp_align puts the peak at 0 eV.
    const auto aligned = Recipe().then(steps::ZlpAlignStep(2.0, prep::ZlpMethod::gaussian)).run(s);
    REQUIRE(aligned.status() == PixelStatus::ok);
    CHECK(std::abs(aligned.report.value(0, "zlp_align.zlp_centre") - 0.3) < 0.01);
    CHECK(prep::zlp_centre(grid::SpectrumView<const double>(aligned.spectrum.view()),
                           prep::ZlpOptions{prep::ZlpMethod::gaussian, {}}) == doctest::Approx(0.0).scale(1).epsilon(0.02));
    CHECK(aligned.spectrum.axis().front() > -8.0 - 1e-9);
    CHECK(aligned.spectrum.axis().front() < -7.9 + 1e-9);
    // smooth, derivative, normalize, broaden = the prep calls.
    const auto sm = Recipe().then(steps::Smooth(7, 3)).run(s);
    CHECK(sm.spectrum.values() == prep::SavitzkyGolay{7, 3, 0, 0.1}(span<const double>(y)));
    std::vector<double> on_axis(y.size());  // the signature that takes the step from a UniformAxis
    prep::SavitzkyGolay{7, 3}.apply(axis.as_uniform(), span<const double>(y), span<double>(on_axis));
    CHECK(on_axis == sm.spectrum.values());
    const auto d = Recipe().then(steps::Derivative()).run(s);
    CHECK(d.spectrum.values() == prep::gradient(s.view()));
    auto nrm = s;
    prep::Normalize{prep::NormKind::area}.apply(nrm.view());
    CHECK(Recipe().then(steps::NormalizeStep(prep::NormKind::area)).run(s).spectrum.values() == nrm.values());
    CHECK(Recipe().then(steps::BroadenStep(prep::Broaden{0.4})).run(s).spectrum.values() ==
          prep::Broaden{0.4}(s).values());
}

TEST_CASE("relative axes from (lo, hi, step)") {
    const auto a = grid::axis_from_step(-20.0, 60.0, 0.5);
    CHECK(a.size() == 161);
    CHECK(a.back() == 60.0);
    CHECK(grid::axis_from_step(0.0, 1.0, 0.3).size() == 4);  // 0, 0.3, 0.6, 0.9
    const grid::RelativeGrid g{-20.0, 60.0, 0.5};
    CHECK(g.absolute(7112.0).front() == 7092.0);
    CHECK(g.absolute(7112.0).size() == 161);
    CHECK_THROWS_AS(grid::axis_from_step(0.0, 1.0, 0.0), value_error);
    CHECK_THROWS_AS(grid::axis_from_step(1.0, 0.0, 0.1), value_error);
    CHECK_THROWS_AS(g.absolute(std::nan("")), value_error);
}

TEST_CASE("strided_span views every k-th element") {
    std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7, 8};
    const strided_span<int> s(v.data() + 1, 4, 2);
    CHECK(s[0] == 1);
    CHECK(s[3] == 7);
    CHECK(s.subspan(1, 2)[1] == 5);
    CHECK_FALSE(s.contiguous());
    const strided_span<const int> c = span<int>(v);
    CHECK(c.contiguous());
    CHECK(c[8] == 8);
}

CORESPEC_REFERENCE_TEST("XAS scan -> model input in one recipe call, against Larch") {
    // The reference values and tolerances of test_xas_normalize.cpp: e0 within
    // 0.01 eV, edge step within 1e-3 relative, norm within 1e-3.
    const auto reference = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::shared_path("reference/xas_reference.json")));
    const Recipe recipe = Recipe::parse(with_steps(R"({"step": "pre_edge"},
        {"step": "resample", "lo": -20, "hi": 60, "step_size": 0.5, "relative_to": "e0"})"));
    std::size_t n = 0;
    double max_norm = 0;
    for (const auto& item : reference.items()) {  // no structured bindings: INFO captures (clang 14)
        const std::string key = item.key();
        const auto& v = item.value();
        if (key == "provenance" || v.value("kind", "") != "experimental_scan" || v.contains("warnings")) continue;
        INFO(key);
        const auto spectrum = io::read_spectrum<double>(corespec_test::shared_path(key));
        const std::vector<float> x = recipe.values<float>(spectrum);  // the one call
        REQUIRE(x.size() == 161);
        // e0 and edge step as reported, and the same spectrum through run().
        const auto r = recipe.run(spectrum);
        CHECK(std::abs(r.report.value(0, "pre_edge.e0") - v["e0"].get<double>()) <= 0.01);
        CHECK(std::abs(r.report.value(0, "pre_edge.edge_step") - v["edge_step"].get<double>()) /
                  v["edge_step"].get<double>() <=
              1e-3);
        // Larch's norm on its energies, interpolated at our e0 + grid.
        std::vector<std::vector<double>> cols(3);
        std::istringstream in(corespec_test::read_text(
            corespec_test::shared_path("reference/" + v["arrays"]["default"].get<std::string>())));
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream ls(line);
            std::string field;
            for (std::size_t c = 0; c < 3 && std::getline(ls, field, ','); ++c) cols[c].push_back(std::stod(field));
        }
        const grid::Spectrum<double> larch(grid::EnergyAxis::from_energies(cols[0]), cols[1]);
        const auto larch_x =
            grid::resample(larch, grid::RelativeGrid{-20, 60, 0.5}.absolute(r.report.value(0, "pre_edge.e0")));
        double d = 0;
        for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(double(x[i]) - larch_x[i]));
        CHECK(d <= 1e-3);
        max_norm = std::max(max_norm, d);
        ++n;
    }
    CHECK(n >= 36);
    MESSAGE("recipe pre_edge -> resample(e0 - 20 .. e0 + 60) on " << n << " raw scans: max |norm - Larch| " << max_norm);
}

TEST_CASE("the older per-algorithm statuses map onto the shared PixelStatus") {
    using steps::to_pixel_status;
    CHECK(to_pixel_status(prep::Status::constant) == PixelStatus::constant);
    CHECK(to_pixel_status(prep::Status::zero_divisor) == PixelStatus::zero_divisor);
    CHECK(to_pixel_status(prep::EdgeStatus::no_edge) == PixelStatus::no_edge);
    CHECK(to_pixel_status(prep::EdgeStatus::bad_window) == PixelStatus::bad_window);
    CHECK(to_pixel_status(prep::BackgroundStatus::empty_window) == PixelStatus::empty_window);
    CHECK(to_pixel_status(prep::BackgroundStatus::fit_failed) == PixelStatus::fit_failed);
    CHECK(to_pixel_status(prep::BackgroundStatus::outlier) == PixelStatus::outlier);
    CHECK(to_pixel_status(prep::BackgroundStatus::ok) == PixelStatus::ok);
    CHECK(std::string(to_string(PixelStatus::out_of_range)) == "out_of_range");
    CHECK(std::string(to_string(PixelStatus::outlier)) == "outlier");
    const std::vector<PixelStatus> s{PixelStatus::ok, PixelStatus::no_edge, PixelStatus::ok};
    CHECK(count(s, PixelStatus::ok) == 2);
}

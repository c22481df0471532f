// The deconvolution step and companion signals: a step that needs a second
// spectrum per pixel (the low loss of each core-loss pixel, or the zero-loss
// peak of each low loss) gets it by name with the run. Equal to the direct
// calls (prep/low_loss.hpp, which match HyperSpy in test_low_loss.cpp) bit
// for bit; JSON; bad recipes and bad companions; per-pixel status; the same
// numbers on a caller's ThreadPool.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "corespec/core/thread_pool.hpp"
#include "corespec/steps/recipe.hpp"
#include "support/bitwise.hpp"

using namespace corespec;
using grid::EnergyAxis;
using steps::Companions;
using steps::Recipe;
using steps::step_error;
using corespec_test::same_bits;

namespace {

// A low-loss and a core-loss line of `pixels` spectra: ZLP + plasmon, power
// law + an edge at 530 eV, each pixel a little different.
template <class T>
struct LowCore {
    grid::SpectrumImage<T> low, core;
};

template <class T>
LowCore<T> low_core(std::size_t pixels) {
    auto low = grid::SpectrumImage<T>::zeros({pixels}, EnergyAxis::uniform(-10.0, 0.2, 400));
    auto core = grid::SpectrumImage<T>::zeros({pixels}, EnergyAxis::uniform(500.0, 0.2, 400));
    for (std::size_t p = 0; p < pixels; ++p) {
        auto ll = low.pixel(p).values;
        auto cl = core.pixel(p).values;
        const double w = 0.5 + 0.05 * double(p), plasmon = 1e3 * (1.0 + 0.2 * double(p));
        for (std::size_t i = 0; i < 400; ++i) {
            const double e = low.axis().energy(i), ec = core.axis().energy(i);
            ll[i] = static_cast<T>(1e5 * std::exp(-0.5 * e * e / (w * w)) +
                                   plasmon * std::exp(-0.5 * std::pow((e - 20.0) / 4.0, 2)) + 1.0);
            cl[i] = static_cast<T>(1e9 * std::pow(ec, -3.0) + (ec > 530 ? 10.0 + double(p) : 0.0));
        }
    }
    return {std::move(low), std::move(core)};
}

template <class T>
grid::Spectrum<T> pixel_spectrum(const grid::SpectrumImage<T>& img, std::size_t p) {
    const auto v = img.pixel(p).values;
    return grid::Spectrum<T>(img.axis(), std::vector<T>(v.begin(), v.end()));
}

}  // namespace

TEST_CASE_TEMPLATE("Fourier-ratio step on an image equals the direct call on each pixel, bit for bit", T, float, double) {
    const std::size_t pixels = 4;
    const auto d = low_core<T>(pixels);
    const auto recipe = Recipe().then(steps::Deconvolve(prep::FourierRatioOptions{}));
    CHECK(recipe.companion_names() == std::vector<std::string>{"low_loss"});
    const auto r = recipe.run(d.core, Companions<T>().add("low_loss", d.low), 2);
    REQUIRE(r.report.failed() == 0);
    CHECK(r.image.axis().size() == d.core.axis().size());
    for (std::size_t p = 0; p < pixels; ++p) {
        CAPTURE(p);
        prep::FourierRatioInfo info;
        const auto direct = prep::fourier_ratio_deconvolution(pixel_spectrum(d.core, p), pixel_spectrum(d.low, p),
                                                              prep::FourierRatioOptions{}, &info);
        std::vector<T> expected(direct.values().begin(), direct.values().end());
        CHECK(same_bits(r.image.pixel(p).values.data(), expected.data(), expected.size()));
        CHECK(r.report.value(p, "deconvolve.threshold") == info.threshold);
        CHECK(r.report.value(p, "deconvolve.fwhm") == info.fwhm);
        CHECK(r.report.value(p, "deconvolve.i0") == info.i0);
    }
    // One spectrum with its companion spectrum: the same numbers.
    const auto one = recipe.run(pixel_spectrum(d.core, 2), Companions<T>().add("low_loss", pixel_spectrum(d.low, 2)));
    REQUIRE(one.status() == PixelStatus::ok);
    CHECK(same_bits(one.spectrum.values().data(), r.image.pixel(2).values.data(), one.spectrum.size()));
}

TEST_CASE("Fourier-log step: one zero-loss spectrum shared by every pixel, crop and add_zlp as the direct call") {
    const auto d = low_core<double>(3);
    const auto zlp = grid::Spectrum<double>(d.low.axis(), [&] {
        std::vector<double> z(400);
        for (std::size_t i = 0; i < 400; ++i) z[i] = 1e5 * std::exp(-0.5 * std::pow(d.low.axis().energy(i) / 0.5, 2));
        return z;
    }());
    for (const bool crop : {false, true}) {
        prep::FourierLogOptions o;
        o.crop = crop;
        o.add_zlp = crop;
        const auto recipe = Recipe().then(steps::Deconvolve(o));
        const auto r = recipe.run(d.low, Companions<double>().add("zero_loss", zlp));
        REQUIRE(r.report.failed() == 0);
        for (std::size_t p = 0; p < 3; ++p) {
            const auto direct = prep::fourier_log_deconvolution(pixel_spectrum(d.low, p), zlp, o);
            REQUIRE(r.image.axis().size() == direct.size());
            CHECK(r.image.axis().back() == direct.axis().back());
            CHECK(same_bits(r.image.pixel(p).values.data(), direct.values().data(), direct.size()));
        }
    }
}

TEST_CASE("deconvolve: the same numbers on a caller's ThreadPool, a count, and one thread") {
    const auto d = low_core<float>(7);
    const auto recipe = Recipe().then(steps::Deconvolve(prep::FourierRatioOptions{}));
    const Companions<float> c = Companions<float>().add("low_loss", d.low);
    ThreadPool pool(3);
    const auto a = recipe.run(d.core, c, pool), b = recipe.run(d.core, c, 2), e = recipe.run(d.core, c);
    CHECK(same_bits(a.image.data().data(), e.image.data().data(), e.image.data().size()));
    CHECK(same_bits(b.image.data().data(), e.image.data().data(), e.image.data().size()));
    CHECK(a.report.values == e.report.values);
}

TEST_CASE("deconvolve: JSON round trip, and bad JSON names the field") {
    prep::FourierRatioOptions ro;
    ro.fwhm = 1.5;
    ro.extrapolate_coreloss = false;
    const auto recipe = Recipe()
                            .then(steps::Deconvolve(prep::FourierLogOptions{true, false}, "zlp"))
                            .then(steps::Deconvolve(ro));
    const auto back = Recipe::parse(recipe.dump());
    CHECK(back == recipe);
    CHECK(back.companion_names() == std::vector<std::string>{"zlp", "low_loss"});
    CHECK(back.to_json()["steps"][1]["threshold"].is_null());

    const auto error_of = [](const std::string& step_json) -> std::pair<std::string, std::string> {
        try {
            Recipe::parse(R"({"format": "corespec.recipe", "version": 1, "steps": [)" + step_json + "]}");
        } catch (const step_error& e) {
            return {e.step(), e.field()};
        }
        return {"", ""};
    };
    const std::string where = "recipe step 0 (deconvolve)";
    CHECK(error_of(R"({"step": "deconvolve"})") == std::make_pair(where, std::string("method")));
    CHECK(error_of(R"({"step": "deconvolve", "method": "richardson_lucy"})") == std::make_pair(where, std::string("method")));
    CHECK(error_of(R"({"step": "deconvolve", "method": "fourier_ratio", "crop": true})") ==
          std::make_pair(where, std::string("crop")));  // a Fourier-log field
    CHECK(error_of(R"({"step": "deconvolve", "method": "fourier_ratio", "fwhm": -1})") ==
          std::make_pair(where, std::string("fwhm")));
    CHECK(error_of(R"({"step": "deconvolve", "method": "fourier_log", "companion": ""})") ==
          std::make_pair(where, std::string("companion")));
    CHECK(error_of(R"({"step": "deconvolve", "method": "fourier_log", "companion": 3})") ==
          std::make_pair(where, std::string("companion")));
    CHECK(error_of(R"({"step": "deconvolve", "method": "fourier_ratio", "threshold": "auto"})") ==
          std::make_pair(where, std::string("threshold")));
}

TEST_CASE("deconvolve: a missing, misshapen or misplaced companion is a clear error naming the step") {
    const auto d = low_core<double>(4);
    const auto recipe = Recipe().then(steps::Crop(500.0, 579.8)).then(steps::Deconvolve(prep::FourierRatioOptions{}));
    const auto field_of = [](auto&& f) -> std::pair<std::string, std::string> {
        try {
            f();
        } catch (const step_error& e) {
            return {e.step(), e.field()};
        }
        return {"", ""};
    };
    const auto expect = std::make_pair(std::string("recipe step 1 (deconvolve)"), std::string("companion"));
    CHECK(field_of([&] { recipe.run(d.core); }) == expect);  // not given
    CHECK(field_of([&] { recipe.run(d.core, Companions<double>().add("zero_loss", d.low)); }) == expect);  // wrong name
    const auto two = low_core<double>(2);
    CHECK(field_of([&] { recipe.run(d.core, Companions<double>().add("low_loss", two.low)); }) == expect);  // 2 for 4
    // A pipeline planned for one low-loss axis, run with another.
    const auto plan = recipe.prepare(d.core.axis(), {{"low_loss", d.low.axis()}});
    CHECK(plan.companion_names() == std::vector<std::string>{"low_loss"});
    const auto other = grid::SpectrumImage<double>::zeros({4}, EnergyAxis::uniform(-5.0, 0.1, 400));
    std::vector<double> out(4 * plan.output_axis().size());
    CHECK(field_of([&] {
              recipe.run(plan, steps::Block<const double>::contiguous(d.core.data().data(), 4, 400),
                         Companions<double>().add("low_loss", other), span<double>(out));
          }) == expect);
    // A non-uniform low loss, a low loss too short for its extrapolation window.
    auto e = d.low.axis().energies();
    e[1] += 0.01;
    const auto bent = grid::SpectrumImage<double>(d.low.data(), EnergyAxis::from_energies(e));
    CHECK(field_of([&] { recipe.run(d.core, Companions<double>().add("low_loss", bent)); }) == expect);
    const auto short_ll = grid::SpectrumImage<double>::zeros({4}, EnergyAxis::uniform(-10.0, 0.2, 60));
    CHECK(field_of([&] { recipe.run(d.core, Companions<double>().add("low_loss", short_ll)); }) == expect);
    // Companions::add itself refuses a nameless, repeated or misshapen signal.
    Companions<double> c;
    c.add("low_loss", d.low);
    CHECK_THROWS_AS(c.add("low_loss", d.low), value_error);
    CHECK_THROWS_AS(c.add("", d.low), value_error);
    CHECK_THROWS_AS(c.add("x", EnergyAxis::uniform(0.0, 1.0, 10), steps::Block<const double>::contiguous(d.low.data().data(), 4, 400)),
                    shape_error);
}

TEST_CASE("deconvolve: a bad pixel (in the data or its companion) fails alone, in the shared status") {
    auto d = low_core<float>(4);
    d.low.pixel(1).values[50] = std::numeric_limits<float>::quiet_NaN();
    d.core.pixel(3).values[10] = std::numeric_limits<float>::infinity();
    std::fill(d.low.pixel(2).values.begin(), d.low.pixel(2).values.end(), 0.0f);  // no threshold, no width
    const auto r = Recipe().then(steps::Deconvolve(prep::FourierRatioOptions{})).run(d.core, Companions<float>().add("low_loss", d.low));
    CHECK(r.report.status[0] == PixelStatus::ok);
    CHECK(r.report.status[1] == PixelStatus::non_finite);
    CHECK(r.report.status[2] == PixelStatus::fit_failed);
    CHECK(r.report.status[3] == PixelStatus::non_finite);
    for (std::size_t p = 1; p < 4; ++p) {
        CHECK(r.report.failed_step[p] == 0);
        CHECK(std::isnan(r.image.pixel(p).values[0]));
    }
}

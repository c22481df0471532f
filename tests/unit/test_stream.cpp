// stream/: results equal batch processing bit for bit and in order (1 and 3
// threads), backpressure counts, nothing lost at shutdown, frame hooks, the
// JSON description, bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <corespec/nn/layers/dense.hpp>
#include <corespec/nn/layers/shape.hpp>
#include <corespec/nn/serialize.hpp>
#include <corespec/stream/stream.hpp>
#include <corespec/stream/synthetic_series.hpp>

#include "support/latent_fixture.hpp"

using namespace corespec;
using stream::Policy;
using stream::Result;
using stream::Stream;
using stream::StreamOptions;

namespace {

constexpr std::size_t channels = 256;

latent::Analyser<float> analyser(std::size_t batch) {
    const auto enc = corespec_test::latent_encoder();
    return latent::Analyser<float>(corespec_test::latent_recipe().prepare(corespec_test::latent_axis()), enc,
                                   latent::Classifier<float>(corespec_test::latent_references(enc), {latent::Method::knn, 5}),
                                   true, batch);
}

StreamOptions options(unsigned threads, std::size_t capacity, Policy policy, std::size_t batch = 7) {
    StreamOptions o;
    o.threads = threads, o.capacity = capacity, o.policy = policy, o.batch = batch;
    o.frame_width = 10, o.frame_height = 10;
    return o;
}

// Collects results (callback mode) under a lock.
struct Sink {
    std::mutex m;
    std::vector<Result<float>> got;
    void operator()(const Result<float>& r) {
        std::lock_guard<std::mutex> g(m);
        got.push_back(r);
    }
};

// Batch processing composed from the public parts, independently of
// latent::Analyser: Recipe::run over the block, the encoder on all rows at
// once, the classifier, the reconstruction error.
struct Expected {
    std::vector<int> label;
    std::vector<float> confidence, anomaly;
};
Expected batch_reference(const std::vector<float>& data, std::size_t n,
                         const steps::Recipe& recipe = corespec_test::latent_recipe(),
                         const std::optional<latent::Encoder<float>>& encoder = std::nullopt) {
    const auto vae = corespec_test::latent_encoder();
    const latent::Encoder<float>& enc = encoder ? *encoder : vae;
    const latent::Classifier<float> knn(corespec_test::latent_references(vae), {latent::Method::knn, 5});
    const auto plan = recipe.prepare(corespec_test::latent_axis());
    const std::size_t m = plan.output_axis().size();
    std::vector<float> x(n * m);
    const auto rep = recipe.run(plan, steps::Block<const float>::contiguous(data.data(), n, channels), span<float>(x));
    REQUIRE(rep.failed() == 0);
    nn::Workspace<float> ws;
    std::vector<float> mean(n * enc.latent_size()), err(n, std::nanf(""));
    enc.encode(x.data(), n, mean.data(), nullptr, ws);
    if (enc.has_decoder()) enc.reconstruction_error(x.data(), mean.data(), n, err.data(), ws);
    auto s = knn.scratch(n);
    std::vector<latent::Classification<float>> c(n);
    knn.classify(mean.data(), n, c.data(), s);
    Expected e;
    for (std::size_t i = 0; i < n; ++i) {
        e.label.push_back(c[i].label);
        e.confidence.push_back(c[i].confidence);
        e.anomaly.push_back(err[i]);
    }
    return e;
}

}  // namespace

TEST_CASE("stream results equal batch processing bit for bit, in order, on 1 and 3 threads; spectra, rows, frames") {
    const std::size_t n = 300;
    const auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p >= 120); });
    const Expected want = batch_reference(data, n);
    CHECK(std::count(want.label.begin(), want.label.end(), 0) > 0);
    for (unsigned threads : {1u, 3u}) {
        CAPTURE(threads);
        Sink sink;
        {
            Stream<float> s(options(threads, 64, Policy::block), analyser(7), std::ref(sink));
            // 100 one at a time, 10 rows, one frame of 100.
            for (std::size_t p = 0; p < 100; ++p) CHECK(s.submit(data.data() + p * channels).accepted == 1);
            for (std::size_t r = 0; r < 10; ++r)
                s.submit_row(steps::Block<const float>::contiguous(data.data() + (100 + 10 * r) * channels, 10, channels));
            const auto f = s.submit_frame(steps::Block<const float>::contiguous(data.data() + 200 * channels, 100, channels),
                                          corespec_test::latent_axis());
            CHECK(f.accepted == 100);
            s.close();
            const auto st = s.stats();
            CHECK(st.received == n);
            CHECK(st.processed == n);
            CHECK(st.delivered == n);
            CHECK(st.rejected == 0);
            CHECK(st.threads == threads);
            CHECK(st.p99_us >= st.p50_us);
            CHECK(st.p50_us > 0);
        }
        REQUIRE(sink.got.size() == n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& r = sink.got[i];
            REQUIRE(r.index == i);
            CHECK(r.frame == i / 100);
            CHECK(r.pixel == i % 100);
            CHECK(r.status == PixelStatus::ok);
            CHECK(r.label == want.label[i]);
            CHECK(r.confidence == want.confidence[i]);  // bit for bit
            CHECK(r.anomaly == want.anomaly[i]);
        }
    }
}

TEST_CASE("a recipe that starts with crops: the stream keeps their channels only, results are the whole recipe's") {
    prep::BackgroundOptions b;
    b.lo = 605.0, b.hi = 625.0;
    const auto recipe = steps::Recipe()
                            .then(steps::Crop(602.0, 690.0))
                            .then(steps::Crop(603.0, 700.0))  // two crops: one window
                            .then(steps::BackgroundStep(b))
                            .then(steps::Crop(628.0, 670.0))
                            .then(steps::Resample(630.0, 661.5, 0.5))
                            .then(steps::NormalizeStep(prep::NormKind::max));
    const std::size_t n = 120;
    auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p % 3 == 0); });
    const Expected want = batch_reference(data, n, recipe);
    data[7 * channels + 250] = std::nanf("");  // outside the kept channels: still flagged
    data[9 * channels + 1] = std::numeric_limits<float>::infinity();
    stream::StreamSpec spec;
    spec.recipe = recipe;
    spec.classifier = {latent::Method::knn, 5};
    spec.options = options(2, 32, Policy::block, 6);
    const auto enc = corespec_test::latent_encoder();
    Sink sink;
    {
        Stream<float> s(spec, corespec_test::latent_axis(), enc, corespec_test::latent_references(enc), std::ref(sink));
        CHECK(s.channels() == channels);
        const auto window = corespec_test::latent_axis().window(603.0, 690.0);
        CHECK(s.kept_channels() == window.second - window.first);
        CHECK(s.kept_channels() < channels * 3 / 4);
        CHECK(s.analyser().pipeline().input_axis().front() == corespec_test::latent_axis().energy(window.first));
        for (std::size_t r = 0; r < n / 10; ++r)
            s.submit_row(steps::Block<const float>::contiguous(data.data() + 10 * r * channels, 10, channels));
    }
    REQUIRE(sink.got.size() == n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& r = sink.got[i];
        REQUIRE(r.index == i);
        if (i == 7 || i == 9) {
            CHECK(r.status == PixelStatus::non_finite);
            CHECK(r.label == -1);
            continue;
        }
        CHECK(r.status == PixelStatus::ok);
        CHECK(r.label == want.label[i]);
        CHECK(r.confidence == want.confidence[i]);  // bit for bit
        CHECK(r.anomaly == want.anomaly[i]);
    }
    // A crop that leaves the axis is the whole recipe's error.
    spec.recipe = steps::Recipe().then(steps::Crop(800.0, 900.0)).then(steps::NormalizeStep(prep::NormKind::max));
    CHECK_THROWS_AS(Stream<float>(spec, corespec_test::latent_axis(), enc, corespec_test::latent_references(enc)), steps::step_error);
}

TEST_CASE("two-encoder variant: a deterministic encoder (saved, loaded) streams raw spectra; no anomaly score") {
    // A raw encoder of the recipe's 64 channels into the VAE's latent 4 (its training: test_vae_train.cpp).
    nn::Sequential<float> raw;
    raw.emplace<nn::Flatten<float>>();
    raw.emplace<nn::Dense<float>>(64, 4);
    nn::train::init_default(raw, 5);
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_raw_encoder.safetensors";
    nn::save_model(nn::Model<float>(raw, {1, 64}), path.string());
    const auto enc = latent::Encoder<float>::load(path.string());
    std::filesystem::remove(path);
    CHECK(enc.deterministic());
    CHECK_FALSE(enc.has_decoder());
    CHECK(enc.latent_size() == 4);
    CHECK(enc.input_size() == 64);

    const std::size_t n = 60;
    const auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p >= 30); });
    const Expected want = batch_reference(data, n, corespec_test::latent_recipe(), enc);
    stream::StreamSpec spec;
    spec.recipe = corespec_test::latent_recipe();
    spec.classifier = {latent::Method::knn, 5};
    spec.options = options(2, 16, Policy::block, 4);
    spec.options.anomaly = false;
    const auto refs = corespec_test::latent_references(corespec_test::latent_encoder());  // embedded by the VAE
    Sink sink;
    {
        Stream<float> s(spec, corespec_test::latent_axis(), enc, refs, std::ref(sink));
        s.submit_block(steps::Block<const float>::contiguous(data.data(), n, channels));
    }
    REQUIRE(sink.got.size() == n);
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(sink.got[i].label == want.label[i]);
        CHECK(sink.got[i].confidence == want.confidence[i]);
        CHECK(std::isnan(sink.got[i].anomaly));
    }
    // No decoder: no anomaly score; no log-variance: the references go through the VAE.
    spec.options.anomaly = true;
    CHECK_THROWS_WITH_AS(Stream<float>(spec, corespec_test::latent_axis(), enc, refs), doctest::Contains("deterministic"), value_error);
    nn::Workspace<float> ws;
    std::vector<float> x(64, 0.5f);
    CHECK_THROWS_AS(latent::embed(enc, x.data(), 1, ws), value_error);
    // A sequential model that does not end in [batch, latent] is no encoder.
    CHECK_THROWS_AS(latent::Encoder<float>(nn::Model<float>(nn::Sequential<float>(), {2, 8})), shape_error);
}

TEST_CASE("poll mode: the same results in order, polled in small bites while the stream runs") {
    const std::size_t n = 150;
    const auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p % 2); });
    const Expected want = batch_reference(data, n);
    Stream<float> s(options(2, 32, Policy::block), analyser(7));
    std::vector<Result<float>> got;
    std::thread consumer([&] {
        while (got.size() < n)
            s.poll_wait([&](const Result<float>& r) { got.push_back(r); }, std::chrono::milliseconds(50), 5);
    });
    for (std::size_t p = 0; p < n; ++p) s.submit(data.data() + p * channels);
    s.close();
    consumer.join();
    REQUIRE(got.size() == n);
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(got[i].index == i);
        CHECK(got[i].label == want.label[i]);
        CHECK(got[i].confidence == want.confidence[i]);
    }
    Sink sink;
    Stream<float> with_callback(options(1, 4, Policy::block), analyser(7), std::ref(sink));
    CHECK_THROWS_AS(with_callback.poll([](const Result<float>&) {}), value_error);
}

TEST_CASE("backpressure, reject policy: a full stream refuses with a count, never drops silently") {
    const auto data = corespec_test::latent_spectra(100, [](std::size_t) { return 0; });
    Stream<float> s(options(2, 16, Policy::reject), analyser(7));  // poll mode, nobody polls yet
    std::size_t accepted = 0, rejected = 0;
    for (std::size_t p = 0; p < 100; ++p) {
        const auto r = s.submit(data.data() + p * channels);
        accepted += r.accepted, rejected += r.rejected;
    }
    CHECK(accepted == 16);
    CHECK(rejected == 84);
    // A whole frame into a full stream: all of it rejected, counted.
    const auto f = s.submit_frame(steps::Block<const float>::contiguous(data.data(), 100, channels));
    CHECK(f.accepted == 0);
    CHECK(f.rejected == 100);
    s.close();
    std::vector<std::uint64_t> idx;
    CHECK(s.poll([&](const Result<float>& r) { idx.push_back(r.index); }) == 16);
    for (std::size_t i = 0; i < 16; ++i) CHECK(idx[i] == i);
    const auto st = s.stats();
    CHECK(st.received == 200);
    CHECK(st.rejected == 184);
    CHECK(st.processed == 16);
    CHECK(st.received == st.processed + st.rejected);
}

TEST_CASE("backpressure under a slow consumer: block waits (nothing rejected), reject counts what it refused") {
    const std::size_t n = 60;
    const auto data = corespec_test::latent_spectra(n, [](std::size_t) { return 1; });
    for (Policy policy : {Policy::block, Policy::reject}) {
        CAPTURE(int(policy));
        std::vector<std::uint64_t> seen;
        std::vector<std::uint64_t> accepted_idx;
        {
            Stream<float> s(options(2, 8, policy, 4), analyser(4), [&](const Result<float>& r) {
                std::this_thread::sleep_for(std::chrono::microseconds(500));  // a slow consumer
                seen.push_back(r.index);  // one call at a time: no lock needed
            });
            for (std::size_t p = 0; p < n; ++p)
                if (s.submit(data.data() + p * channels).accepted) accepted_idx.push_back(p);
            s.close();
            const auto st = s.stats();
            CHECK(st.received == n);
            CHECK(st.processed + st.rejected == n);
            CHECK(st.delivered == st.processed);
            if (policy == Policy::block) CHECK(st.rejected == 0);
            else CHECK(st.rejected > 0);  // 60 spectra arrive within microseconds, 8 fit, 2 kHz consumer
        }
        CHECK(seen == accepted_idx);  // every accepted one, in order, nothing else
    }
}

TEST_CASE("shutdown mid-stream (close or destructor) loses nothing accepted") {
    const std::size_t n = 200;
    const auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p % 3 == 0); });
    for (int how = 0; how < 2; ++how) {
        std::atomic<std::size_t> count{0};
        std::uint64_t last = 0;
        bool ordered = true;
        {
            Stream<float> s(options(3, 256, Policy::block), analyser(7), [&](const Result<float>& r) {
                if (count > 0 && r.index != last + 1) ordered = false;
                last = r.index;
                ++count;
            });
            s.submit_block(steps::Block<const float>::contiguous(data.data(), n, channels));
            if (how == 0) {
                s.close();
                CHECK(count == n);
                CHECK_THROWS_WITH_AS(s.submit(data.data()), "stream: submit after close()", value_error);
                s.close();  // idempotent
            }
        }  // how 1: the destructor closes
        CHECK(count == n);
        CHECK(ordered);
    }
}

TEST_CASE("frame hook fires when the class fractions of a frame meet the condition, partial last frame at close") {
    const std::size_t n = 250;  // frames 0, 1 complete, frame 2 half
    const auto data = corespec_test::latent_spectra(n, [](std::size_t p) { return int(p >= 100); });
    const Expected want = batch_reference(data, n);
    std::vector<stream::FrameSummary> all, fired;
    Stream<float> s(options(2, 64, Policy::block), analyser(7), [](const Result<float>&) {});
    s.on_frame([](const stream::FrameSummary&) { return true; }, [&](const stream::FrameSummary& f) { all.push_back(f); });
    s.on_frame(stream::fraction_above(1, 0.3), [&](const stream::FrameSummary& f) { fired.push_back(f); });
    s.submit_block(steps::Block<const float>::contiguous(data.data(), n, channels));
    s.close();
    REQUIRE(all.size() == 3);
    for (std::size_t f = 0; f < 3; ++f) {
        CHECK(all[f].frame == f);
        const std::size_t first = f * 100, last = std::min(n, first + 100);
        CHECK(all[f].pixels == last - first);
        const auto ones = std::size_t(std::count(want.label.begin() + long(first), want.label.begin() + long(last), 1));
        CHECK(all[f].counts[1] == ones);
        CHECK(all[f].fraction(1) == doctest::Approx(double(ones) / double(last - first)));
    }
    std::vector<std::uint64_t> fired_frames, expect_frames;
    for (const auto& f : fired) fired_frames.push_back(f.frame);
    for (const auto& f : all)
        if (f.fraction(1) > 0.3) expect_frames.push_back(f.frame);
    CHECK(fired_frames == expect_frames);
}

TEST_CASE("bad input: wrong channel count, wrong axis, rows and frames of the wrong size, non-finite values") {
    const auto data = corespec_test::latent_spectra(4, [](std::size_t) { return 0; });
    Sink sink;
    Stream<float> s(options(1, 16, Policy::block), analyser(7), std::ref(sink));
    CHECK_THROWS_AS(s.submit_block(steps::Block<const float>::contiguous(data.data(), 2, 255)), shape_error);
    CHECK_THROWS_AS(s.submit_row(steps::Block<const float>::contiguous(data.data(), 4, channels)), shape_error);
    CHECK_THROWS_AS(s.submit_frame(steps::Block<const float>::contiguous(data.data(), 4, channels)), shape_error);
    CHECK_THROWS_WITH_AS(s.submit_block(steps::Block<const float>::contiguous(data.data(), 1, channels),
                                        grid::EnergyAxis::uniform(601.0, 0.5, 256)),
                         doctest::Contains("differs from the stream's"), value_error);
    // nan policy flag (the default): accepted, reported per spectrum.
    auto bad = data;
    bad[channels + 5] = std::nanf("");
    CHECK(s.submit_block(steps::Block<const float>::contiguous(bad.data(), 4, channels)).accepted == 4);
    // Integer counts (a camera's uint16) are converted.
    std::vector<std::uint16_t> counts(channels);
    for (std::size_t i = 0; i < channels; ++i) counts[i] = std::uint16_t(std::lround(data[i]));
    CHECK(s.submit(counts.data()).accepted == 1);
    s.close();
    REQUIRE(sink.got.size() == 5);
    CHECK(sink.got[1].status == PixelStatus::non_finite);
    CHECK(sink.got[1].label == -1);
    CHECK(std::isnan(sink.got[1].anomaly));
    CHECK(sink.got[0].status == PixelStatus::ok);
    CHECK(sink.got[4].status == PixelStatus::ok);
    CHECK(s.stats().received == 5);

    // nan policy reject: submit throws naming the spectrum and channel, accepts none of that call.
    auto o = options(1, 16, Policy::block);
    o.nan = stream::NanPolicy::reject;
    Stream<float> r(o, analyser(7));
    CHECK_THROWS_WITH_AS(r.submit_block(steps::Block<const float>::contiguous(bad.data(), 4, channels)),
                         "stream: spectrum 1 of this submit (acquisition index 1), channel 5 is not finite (nan policy: reject)",
                         value_error);
    CHECK(r.stats().received == 0);

    // Bad options.
    auto zero = options(0, 16, Policy::block);
    CHECK_THROWS_AS(Stream<float>(zero, analyser(7)), value_error);
    CHECK_THROWS_AS(Stream<float>(options(1, 16, Policy::block, 8), analyser(7)), value_error);  // batch mismatch
}

TEST_CASE("stream spec JSON: round trip, builds a working stream, errors name the field") {
    stream::StreamSpec spec;
    spec.recipe = corespec_test::latent_recipe();
    spec.classifier = {latent::Method::knn, 5, latent::Weighting::inverse_distance};
    spec.options = options(2, 32, Policy::reject, 5);
    const auto back = stream::StreamSpec::parse(spec.dump());
    CHECK(back.to_json() == spec.to_json());
    CHECK(back.options.policy == Policy::reject);
    CHECK(back.options.batch == 5);
    const auto enc = corespec_test::latent_encoder();
    Sink sink;
    {
        Stream<float> s(back, corespec_test::latent_axis(), enc, corespec_test::latent_references(enc), std::ref(sink));
        const auto data = corespec_test::latent_spectra(3, [](std::size_t) { return 1; });
        s.submit_block(steps::Block<const float>::contiguous(data.data(), 3, channels));
    }
    CHECK(sink.got.size() == 3);
    CHECK_THROWS_WITH_AS(stream::StreamSpec::parse(R"({"format": "corespec.stream", "capacity": 0})"),
                         "stream spec: field 'capacity' must be a whole number >= 1, got 0", value_error);
    CHECK_THROWS_WITH_AS(stream::StreamSpec::parse(R"({"format": "corespec.stream", "policy": "drop"})"),
                         "stream spec: field 'policy': bad value \"drop\"", value_error);
    CHECK_THROWS_WITH_AS(stream::StreamSpec::parse(R"({"format": "corespec.stream", "speed": 1})"),
                         "stream spec: unknown field 'speed'", value_error);
    CHECK_THROWS_AS(stream::StreamSpec::parse(R"({"format": "other"})"), value_error);
    CHECK_THROWS_AS(stream::StreamSpec::parse("{"), parse_error);
}

TEST_CASE("SyntheticSeries::noisy_references: measured-like copies of each reference, labelled, seeded") {
    const stream::SyntheticSeries series(1, 1, 1, 0, 1, 7);
    const auto clean = series.references(2);
    const auto a = series.noisy_references(2, 50, 11), b = series.noisy_references(2, 50, 11), c = series.noisy_references(2, 50, 12);
    const std::size_t ch = stream::SyntheticSeries::channels, n = clean.labels.size();
    REQUIRE(a.labels.size() == 50 * n);
    REQUIRE(a.values.size() == 50 * n * ch);
    for (std::size_t k = 0; k < 50; ++k)
        for (std::size_t i = 0; i < n; ++i) CHECK(a.labels[k * n + i] == clean.labels[i]);
    CHECK(a.values == b.values);  // the same seed, the same draws
    CHECK(a.values != c.values);
    // Each copy is its reference times a dose in [0.9, 1.1] plus counting noise (sd sqrt(counts)): over the
    // copies the mean is the reference to about 1 % and the per-channel spread exceeds what the dose alone gives.
    for (std::size_t i = 0; i < n; ++i) {
        double mean_ratio = 0;
        for (std::size_t k = 0; k < 50; ++k) {
            double sa = 0, sc = 0;
            for (std::size_t j = 0; j < ch; ++j) sa += a.values[(k * n + i) * ch + j], sc += clean.values[i * ch + j];
            const double ratio = sa / sc;
            CHECK(ratio > 0.89);
            CHECK(ratio < 1.11);
            mean_ratio += ratio / 50;
        }
        CHECK(mean_ratio == doctest::Approx(1.0).epsilon(0.02));
    }
    CHECK(std::none_of(a.values.begin(), a.values.end(), [](float v) { return v < 0.f; }));  // clipped at 0
}

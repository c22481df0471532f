// stream_replay (FILE | --synthetic FRAMES) [--rate SPECTRA_PER_S] [--threads N] [--model VAE]
//               [--size N] [--change-frame K] [--epochs E] [--capacity N] [--policy block|reject]
//               [--maps DIR] [--save-model VAE] [--seed S]
//
// Replays a spectrum image file (each file is one frame; its rows arrive one
// at a time) or a synthetic time series (stream::SyntheticSeries: FRAMES
// frames of N x N pixels x 2048 channels, phase change at K) through a
// stream::Stream as an instrument would: study2_recipe (Ni L2,3 edge, 240
// channels), the study-2 conv VAE encoder, kNN (k = 10) over 100 posterior
// samples of each of 12 noise-free reference spectra (1,200 latent points).
// The encoder is loaded (--model) or trained briefly (VaeTrainer, --epochs)
// on the recipe's output of the first frames' pixels plus the references.
// --rate paces the input row by row (default: as fast as possible).
// Prints ONE JSON object: received, processed, rejected, spectra_per_s,
// p50_us, p99_us, threads, kernels, and for the synthetic series the frame
// at which the change began and the frame at which it was detected (more
// than 30 % of a frame in the delithiated class). --maps DIR writes each
// frame's class / confidence / anomaly maps (NPY, PPM / PGM).
// Exit status: 0 done, 1 bad input, 2 misuse.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/read.hpp"
#include "corespec/latent/maps.hpp"
#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/train/init.hpp"
#include "corespec/nn/train/vae_trainer.hpp"
#include "corespec/stream/stream.hpp"
#include "corespec/stream/synthetic_series.hpp"
#include "support/command_line.hpp"

namespace {

using namespace corespec;

// The recipe's output (240 values) of n contiguous spectra; failed ones are left out.
std::vector<float> prepared(const steps::Pipeline& plan, const float* x, std::size_t n) {
    const std::size_t m = plan.output_axis().size(), ch = plan.input_axis().size();
    std::vector<float> out;
    std::vector<float> row(m);
    std::vector<double> reports(plan.report_names().size());
    auto scratch = plan.scratch<float>();
    for (std::size_t p = 0; p < n; ++p) {
        const auto st = plan.run_pixel<float>(strided_span<const float>(x + p * ch, ch, 1), row.data(), reports.data(), scratch);
        if (st.first == PixelStatus::ok) out.insert(out.end(), row.begin(), row.end());
    }
    return out;
}

latent::Encoder<float> train_encoder(const std::vector<float>& x, std::size_t epochs, double beta, double lr, unsigned threads,
                                     std::uint64_t seed) {
    nn::Vae<float> vae = nn::make_conv_vae<float>();
    for (nn::Sequential<float>* part : nn::train::vae_parts(vae)) nn::train::init_default(*part, seed++);
    nn::train::MseLoss<float> recon;
    nn::train::Adam<float> adam(lr);
    nn::train::VaeTrainOptions o;
    o.beta = beta;
    o.epochs = epochs;
    o.batch_size = 64;
    o.threads = threads;
    o.seed = seed;
    o.silent();
    nn::train::VaeTrainer<float> trainer(vae, recon, adam, o);
    const std::size_t rows = x.size() / 240;
    if (epochs > 0) trainer.fit(nn::ConstTensorView<float>(x.data(), nn::Shape{rows, 1, 240}));
    return latent::Encoder<float>(std::move(vae));
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv,
        "stream_replay (FILE | --synthetic FRAMES) [--rate SPECTRA_PER_S] [--threads N] [--model VAE] [--size N] "
        "[--change-frame K] [--epochs E] [--beta B] [--lr LR] [--capacity N] [--policy block|reject] [--maps DIR] [--save-model VAE] [--seed S]",
        {{"--synthetic", 1}, {"--rate", 1}, {"--threads", 1}, {"--model", 1}, {"--size", 1}, {"--change-frame", 1},
         {"--epochs", 1}, {"--beta", 1}, {"--lr", 1}, {"--capacity", 1}, {"--policy", 1}, {"--maps", 1}, {"--save-model", 1}, {"--seed", 1}},
        "Replays a spectrum image file or a synthetic series (FRAMES frames of N x N x 2048, default N 64, phase\n"
        "change at K, default FRAMES / 2) through a stream (Ni L2,3 recipe -> study-2 conv VAE encoder -> kNN,\n"
        "k 10, over 1,200 latent points). Prints one JSON object: received, processed, rejected, spectra_per_s,\n"
        "p50_us, p99_us, threads, kernels, change_frame, detected_frame. --epochs (default 15; Adam --lr 5e-3,\n"
        "KL weight --beta 1e-5) trains the encoder on the first frames; --model loads one instead. Exit status: 0 done, 1 bad input, 2 misuse.\n");
    const auto& pos = cli.positional(0, 1);
    const bool synthetic = cli.has("--synthetic");
    if (synthetic == !pos.empty()) cli.fail("give either FILE or --synthetic FRAMES");
    const std::size_t frames_wanted = cli.count("--synthetic", 0, 1, 100000);
    const double rate = cli.number("--rate", 0.0, 0.0);
    const unsigned threads = static_cast<unsigned>(cli.count("--threads", 1, 1, 256));
    const std::size_t size = cli.count("--size", 64, 4, 4096);
    const std::size_t epochs = cli.count("--epochs", 15, 0, 10000);
    const double beta = cli.number("--beta", 1e-5, 0.0);
    const double lr = cli.number("--lr", 5e-3, 0.0);
    const std::size_t capacity = cli.count("--capacity", 8192, 1, 100000000);
    const std::uint64_t seed = cli.count("--seed", 1);
    const stream::Policy policy =
        cli.choice<stream::Policy>("--policy", {{"block", stream::Policy::block}, {"reject", stream::Policy::reject}},
                                   stream::Policy::block);
    const std::string maps = cli.text("--maps");
    try {
        using Clock = std::chrono::steady_clock;
        // The input: a file (one frame) or the synthetic series.
        std::optional<stream::SyntheticSeries> series;
        std::optional<grid::SpectrumImage<float>> file;
        std::size_t width = 0, height = 0, frames = 0;
        grid::EnergyAxis axis = stream::SyntheticSeries::axis();
        if (synthetic) {
            const std::size_t change = cli.count("--change-frame", frames_wanted / 2, 0, frames_wanted);
            series.emplace(size, size, frames_wanted, change, 5, seed);
            width = height = size, frames = frames_wanted;
        } else {
            file = io::read_spectrum_image<float>(pos[0]);
            const auto& nav = file->navigation_shape();
            width = nav.back();
            height = file->pixel_count() / width;
            frames = 1;
            axis = file->axis();
        }
        stream::StreamSpec spec;
        spec.recipe = stream::study2_recipe();
        spec.classifier = {latent::Method::knn, 10, latent::Weighting::uniform};
        spec.options.threads = threads;
        spec.options.capacity = capacity;
        spec.options.policy = policy;
        spec.options.frame_width = width;
        spec.options.frame_height = height;
        const steps::Pipeline plan = spec.recipe.prepare(axis);

        // References: 6 noise-free spectra per phase, on the input axis when it covers theirs.
        const stream::SyntheticSeries ref_source(1, 1, 1, 0, 1, seed);
        const auto refs = ref_source.references(6);
        const auto ref_plan = spec.recipe.prepare(stream::SyntheticSeries::axis());
        const std::vector<float> ref_x = prepared(ref_plan, refs.values.data(), refs.labels.size());
        if (ref_x.size() != refs.labels.size() * 240) throw value_error("stream_replay: a reference spectrum failed the recipe");

        // The encoder: loaded, or trained on pixels of the first frames and the references.
        const auto t_train = Clock::now();
        std::optional<latent::Encoder<float>> encoder;
        std::size_t training_rows = 0;
        if (cli.has("--model")) {
            encoder.emplace(latent::Encoder<float>::load(cli.text("--model")));
        } else {
            std::vector<float> x = ref_x;
            if (series) {
                std::vector<float> buf(series->frame_values());
                // At most 1,024 pixels of the first two frames (every stride-th): a brief training.
                const std::size_t first = std::min<std::size_t>(2, frames), fp = series->frame_pixels();
                const std::size_t stride = std::max<std::size_t>(1, first * fp / 1024);
                for (std::size_t k = 0; k < first; ++k) {
                    series->frame(k, buf.data());
                    for (std::size_t p = k * fp % stride; p < fp; p += stride) {
                        const auto one = prepared(plan, buf.data() + p * axis.size(), 1);
                        x.insert(x.end(), one.begin(), one.end());
                    }
                }
            } else {
                const auto p = prepared(plan, file->data().data(), file->pixel_count());
                x.insert(x.end(), p.begin(), p.end());
            }
            training_rows = x.size() / 240;
            encoder.emplace(train_encoder(x, epochs, beta, lr, threads, seed));
            if (cli.has("--save-model")) nn::save_model(encoder->model(), cli.text("--save-model"));
        }
        const double train_s = std::chrono::duration<double>(Clock::now() - t_train).count();
        nn::Workspace<float> ws;
        const auto points = latent::sample_posterior(latent::embed(*encoder, ref_x.data(), refs.labels.size(), ws),
                                                     refs.labels, stream::SyntheticSeries::class_names(), 100, seed);

        // Per-frame maps for --maps, the detection hook.
        const std::size_t fp = width * height;
        std::mutex maps_m;
        std::map<std::uint64_t, latent::ClassMaps> frame_maps;
        const auto callback = [&](const stream::Result<float>& r) {
            if (maps.empty()) return;
            std::lock_guard<std::mutex> g(maps_m);
            auto& m = frame_maps[r.frame];
            if (m.label.empty()) {
                m.shape = {height, width};
                m.class_names = stream::SyntheticSeries::class_names();
                m.label.assign(fp, -1.f), m.confidence.assign(fp, 0.f), m.anomaly.assign(fp, std::nanf(""));
            }
            m.label[r.pixel] = float(r.label), m.confidence[r.pixel] = float(r.confidence), m.anomaly[r.pixel] = float(r.anomaly);
        };
        stream::Stream<float> s(spec, axis, *encoder, points, callback);
        std::optional<std::uint64_t> detected;
        std::vector<double> fraction(frames, 0.0);
        s.on_frame([](const stream::FrameSummary&) { return true; },
                   [&](const stream::FrameSummary& f) {
                       if (f.frame < fraction.size()) fraction[f.frame] = f.fraction(1);
                   });
        s.on_frame(stream::fraction_above(1, 0.3), [&](const stream::FrameSummary& f) {
            if (!detected) detected = f.frame;
        });

        // Replay: rows (paced) or whole frames.
        std::vector<float> buf(series ? series->frame_values() : 0);
        double generate_s = 0;
        const auto start = Clock::now();
        std::uint64_t sent = 0;
        for (std::size_t k = 0; k < frames; ++k) {
            const float* data = file ? file->data().data() : buf.data();
            if (series) {
                const auto g0 = Clock::now();
                series->frame(k, buf.data());
                generate_s += std::chrono::duration<double>(Clock::now() - g0).count();
            }
            if (rate > 0) {
                for (std::size_t row = 0; row < height; ++row) {
                    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                              std::chrono::duration<double>(double(sent) / rate)));
                    s.submit_row(steps::Block<const float>::contiguous(data + row * width * axis.size(), width, axis.size()));
                    sent += width;
                }
            } else {
                s.submit_frame(steps::Block<const float>::contiguous(data, fp, axis.size()));
                sent += fp;
            }
        }
        s.close();
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        const auto st = s.stats();

        if (!maps.empty()) {
            std::filesystem::create_directories(maps);
            for (const auto& [k, m] : frame_maps) {
                char name[32];
                std::snprintf(name, sizeof name, "frame%04llu", static_cast<unsigned long long>(k));
                latent::save_maps(m, (std::filesystem::path(maps) / name).string());
            }
        }
        nlohmann::json j;
        j["input"] = synthetic ? std::string("synthetic") : pos[0];
        j["frames"] = frames;
        j["frame_shape"] = {height, width};
        j["channels"] = axis.size();
        j["received"] = st.received;
        j["processed"] = st.processed;
        j["rejected"] = st.rejected;
        j["seconds"] = seconds;
        j["spectra_per_s"] = seconds > 0 ? double(st.processed) / seconds : 0.0;
        j["input_rate"] = rate > 0 ? nlohmann::json(rate) : nlohmann::json("max");
        j["p50_us"] = st.p50_us;
        j["p99_us"] = st.p99_us;
        j["max_us"] = st.max_us;
        j["threads"] = threads;
        j["kernels"] = nn::kernels::kernels_name();
        j["generate_seconds"] = generate_s;
        j["encoder"] = cli.has("--model") ? cli.text("--model") : "trained";
        j["training_rows"] = training_rows;
        j["training_seconds"] = train_s;
        j["latent_points"] = points.size();
        if (series) {
            j["change_frame"] = series->change_frame();
            j["detected_frame"] = detected ? nlohmann::json(*detected) : nlohmann::json(nullptr);
        }
        nlohmann::json f = nlohmann::json::array();
        for (double v : fraction) f.push_back(std::round(v * 1000) / 1000);
        j["delithiated_fraction"] = f;
        std::cout << j.dump() << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stream_replay: %s\n", e.what());
        return 1;
    }
}

// stream_replay (FILE | --synthetic FRAMES) [--rate SPECTRA_PER_S] [--threads N] [--model VAE]
//               [--two-encoder] [--raw-model RAW] [--no-anomaly] [--size N] [--change-frame K] [--epochs E] [--ref-copies C]
//               [--refine-epochs R] [--samples S]
//               [--capacity N] [--policy block|reject] [--maps DIR] [--svg-every K]
//               [--save-model VAE] [--save-raw-model RAW] [--seed S]
//
// Replays a spectrum image file (each file is one frame; its rows arrive one
// at a time) or a synthetic time series (stream::SyntheticSeries: FRAMES
// frames of N x N pixels x 2048 channels, phase change at K) through a
// stream::Stream as an instrument would: study2_recipe (Ni L2,3 edge, 240
// channels), the study-2 conv VAE encoder, kNN (k = 10) over 100 posterior
// samples of each of 12 noise-free reference spectra (1,200 latent points).
// The encoder is loaded (--model) or trained briefly (VaeTrainer, --epochs)
// on the recipe's output of the first frames' pixels plus the references and
// --ref-copies measured-like copies of each (dose, counting noise: rows of
// both phases, which the first frames lack).
// --two-encoder trains the study's two-encoder variant instead
// (VaeTrainer::fit_two_encoder: a deterministic encoder of the raw spectra,
// study2_raw_recipe, pulled towards the VAE mean of the clean ones) and
// streams the raw spectra through it, after refitting the raw encoder to the
// trained VAE's means (--refine-epochs); --model VAE --raw-model RAW loads
// one. --samples: posterior draws per reference (0: the references' means).
// --rate paces the input row by row (default: as fast as possible).
// Prints ONE JSON object: received, processed, rejected, spectra_per_s,
// p50_us, p99_us, threads, kernels, and for the synthetic series the frame
// at which the change began and the frame at which it was detected (more
// than 30 % of a frame in the delithiated class). --maps DIR writes each
// frame's class / confidence / anomaly maps as NPY and, for every K-th frame
// (--svg-every; default: all of up to 24 frames, else about 16 of them)
// and the frames of the change, as SVG figures (report::map_svg), and for a
// framed input the class over time: the share of each column's pixels in
// the delithiated class, frame by frame (classes_over_time.svg / .npy).
// Exit status: 0 done, 1 bad input, 2 misuse.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/npy.hpp"
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

// The trained encoders: the VAE, and the raw encoder of the two-encoder variant.
struct Trained {
    latent::Encoder<float> vae;
    std::optional<latent::Encoder<float>> raw;
    double pull = 0;  // the last epoch's mean pull term (two-encoder)
};

// The VAE on x (clean rows of 240 values); with x_raw (the raw form of the
// same rows) the two-encoder variant, its raw encoder built like the VAE's
// encoder and mean head.
Trained train_encoders(const std::vector<float>& x, const std::vector<float>* x_raw, std::size_t epochs, std::size_t refine,
                       double beta, double lr, unsigned threads, std::uint64_t seed) {
    nn::Vae<float> vae = nn::make_conv_vae<float>();
    for (nn::Sequential<float>* part : nn::train::vae_parts(vae)) nn::train::init_default(*part, seed++);
    nn::Sequential<float> raw = nn::make_conv_vae<float>().encoder_mean();
    nn::train::init_default(raw, seed++);
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
    double pull = 0, sum = 0;
    std::size_t last_epoch = 0, batches = 0;
    trainer.on_batch([&](const nn::train::VaeBatchStats& b) {
        if (b.epoch != last_epoch) last_epoch = b.epoch, sum = 0, batches = 0;
        sum += b.pull, ++batches;
        pull = sum / static_cast<double>(batches);
    });
    const std::size_t rows = x.size() / 240;
    const nn::ConstTensorView<float> xv(x.data(), nn::Shape{rows, 1, 240});
    if (epochs > 0 && x_raw)
        trainer.fit_two_encoder(xv, nn::ConstTensorView<float>(x_raw->data(), nn::Shape{rows, 1, 240}), raw);
    else if (epochs > 0)
        trainer.fit(xv);
    Trained t{latent::Encoder<float>(std::move(vae)), std::nullopt, pull};
    if (x_raw && epochs > 0 && refine > 0) {
        // The pull term's target moves while the VAE learns (and the best epoch is picked on the sum of all
        // terms), so the joint training leaves the raw encoder short of the final latent space, in which the
        // references are embedded. The same term against the trained VAE's means, now fixed targets:
        // (mean over the latent of the squared error) = pull term / latent size.
        std::vector<float> mu(rows * t.vae.latent_size());
        nn::Workspace<float> ws;
        for (std::size_t b = 0; b < rows; b += 256)
            t.vae.encode(x.data() + b * 240, std::min<std::size_t>(256, rows - b), mu.data() + b * t.vae.latent_size(), nullptr, ws);
        nn::train::MseLoss<float> mse;
        nn::train::Adam<float> adam2(lr);
        nn::train::TrainOptions r;
        r.epochs = refine;
        r.batch_size = 64;
        r.threads = threads;
        r.seed = seed + 1;
        r.silent();
        nn::train::Trainer<float>(raw, mse, adam2, r)
            .fit(nn::ConstTensorView<float>(x_raw->data(), nn::Shape{rows, 1, 240}),
                 nn::ConstTensorView<float>(mu.data(), nn::Shape{rows, t.vae.latent_size()}));
        nn::Workspace<float> ws2;
        std::vector<float> out(rows * t.vae.latent_size());
        const latent::Encoder<float> re(nn::Model<float>(raw, {1, 240}));
        for (std::size_t b = 0; b < rows; b += 256)
            re.encode(x_raw->data() + b * 240, std::min<std::size_t>(256, rows - b), out.data() + b * t.vae.latent_size(), nullptr, ws2);
        double sq = 0;
        for (std::size_t i = 0; i < out.size(); ++i) sq += double(out[i] - mu[i]) * double(out[i] - mu[i]);
        t.pull = sq / double(rows);  // the pull term (weight 1) after refinement, on all training rows
    }
    if (x_raw) t.raw.emplace(nn::Model<float>(std::move(raw), {1, 240}));
    return t;
}

// The pixels p (every stride-th of n) that both recipes process: clean and raw rows appended.
void training_rows(const steps::Pipeline& clean, const steps::Pipeline* raw, const float* x, std::size_t n, std::size_t first,
                   std::size_t stride, std::vector<float>& out, std::vector<float>& out_raw) {
    const std::size_t ch = clean.input_axis().size();
    for (std::size_t p = first; p < n; p += stride) {
        const auto c = prepared(clean, x + p * ch, 1);
        if (c.empty()) continue;
        if (raw) {
            const auto r = prepared(*raw, x + p * ch, 1);
            if (r.empty()) continue;
            out_raw.insert(out_raw.end(), r.begin(), r.end());
        }
        out.insert(out.end(), c.begin(), c.end());
    }
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv,
        "stream_replay (FILE | --synthetic FRAMES) [--rate SPECTRA_PER_S] [--threads N] [--model VAE] [--two-encoder] "
        "[--raw-model RAW] [--no-anomaly] [--size N] [--change-frame K] [--epochs E] [--ref-copies C] [--refine-epochs R] "
        "[--samples S] [--beta B] [--lr LR] [--capacity N] [--batch N] "
        "[--policy block|reject] [--maps DIR] [--svg-every K] [--save-model VAE] [--save-raw-model RAW] [--seed S]",
        {{"--synthetic", 1}, {"--rate", 1}, {"--threads", 1}, {"--model", 1}, {"--two-encoder", 0}, {"--raw-model", 1}, {"--no-anomaly", 0},
         {"--size", 1}, {"--change-frame", 1}, {"--epochs", 1}, {"--ref-copies", 1}, {"--refine-epochs", 1},
         {"--samples", 1}, {"--beta", 1}, {"--lr", 1}, {"--capacity", 1}, {"--batch", 1},
         {"--policy", 1}, {"--maps", 1}, {"--svg-every", 1}, {"--save-model", 1}, {"--save-raw-model", 1}, {"--seed", 1}},
        "Replays a spectrum image file or a synthetic series (FRAMES frames of N x N x 2048, default N 64, phase\n"
        "change at K, default FRAMES / 2) through a stream (Ni L2,3 recipe -> study-2 conv VAE encoder -> kNN,\n"
        "k 10, over 1,200 latent points). Prints one JSON object: received, processed, rejected, spectra_per_s,\n"
        "p50_us, p99_us, threads, kernels, change_frame, detected_frame. --epochs (default 15; Adam --lr 1e-3,\n"
        "KL weight --beta 1e-5) trains the encoder on the first frames and the references with --ref-copies (20)\n"
        "measured-like copies of each; --model loads one instead. --two-encoder: the\n"
        "study's two-encoder variant (a raw-spectrum encoder pulled towards the VAE mean, then refitted to the trained\n"
        "VAE's means for --refine-epochs (15); the stream then runs the raw recipe, no background fit, no anomaly score);\n"
        "--model VAE --raw-model RAW loads one. --samples (100): posterior draws per reference, 0 the means. --maps DIR: NPY maps of\n"
        "every frame, SVG of every --svg-every-th and of the change. --no-anomaly: no reconstruction error (skips the\n"
        "decoder pass, the benchmark's configuration). Exit status: 0 done, 1 bad input, 2 misuse.\n");
    const auto& pos = cli.positional(0, 1);
    const bool synthetic = cli.has("--synthetic");
    if (synthetic == !pos.empty()) cli.fail("give either FILE or --synthetic FRAMES");
    const std::size_t frames_wanted = cli.count("--synthetic", 0, 1, 100000);
    const double rate = cli.number("--rate", 0.0, 0.0);
    const unsigned threads = static_cast<unsigned>(cli.count("--threads", 1, 1, 256));
    const std::size_t size = cli.count("--size", 64, 4, 4096);
    const std::size_t epochs = cli.count("--epochs", 15, 0, 10000);
    const double beta = cli.number("--beta", 1e-5, 0.0);
    const double lr = cli.number("--lr", 1e-3, 0.0);
    const std::size_t ref_copies = cli.count("--ref-copies", 20, 0, 100000);
    const std::size_t refine = cli.count("--refine-epochs", 15, 0, 10000);
    const std::size_t samples = cli.count("--samples", 100, 0, 100000);  // posterior draws per reference; 0: the means
    const std::size_t capacity = cli.count("--capacity", 8192, 1, 100000000);
    const std::size_t batch = cli.count("--batch", stream::StreamOptions{}.batch, 1, 65536);
    if (cli.has("--raw-model") && !cli.has("--model")) cli.fail("--raw-model needs --model (the VAE that embeds the references)");
    if (cli.has("--raw-model") && cli.has("--two-encoder")) cli.fail("give --two-encoder (train) or --raw-model (load), not both");
    if (cli.has("--two-encoder") && cli.has("--model"))
        cli.fail("--two-encoder trains both encoders; to load them give --model VAE --raw-model RAW");
    const bool two_encoder = cli.has("--two-encoder") || cli.has("--raw-model");
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
        spec.recipe = two_encoder ? stream::study2_raw_recipe() : stream::study2_recipe();
        spec.classifier = {latent::Method::knn, 10, latent::Weighting::uniform};
        spec.options.threads = threads;
        spec.options.capacity = capacity;
        spec.options.policy = policy;
        spec.options.batch = batch;
        // A deterministic encoder has no decoder; --no-anomaly skips the decoder pass (about half the work).
        spec.options.anomaly = !two_encoder && !cli.has("--no-anomaly");
        spec.options.frame_width = width;
        spec.options.frame_height = height;
        const steps::Pipeline plan = stream::study2_recipe().prepare(axis);
        const std::optional<steps::Pipeline> raw_plan =
            two_encoder ? std::optional<steps::Pipeline>(stream::study2_raw_recipe().prepare(axis)) : std::nullopt;

        // References: 6 noise-free spectra per phase (clean: the VAE embeds them).
        const stream::SyntheticSeries ref_source(1, 1, 1, 0, 1, seed);
        const auto refs = ref_source.references(6);
        const auto ref_plan = stream::study2_recipe().prepare(stream::SyntheticSeries::axis());
        const std::vector<float> ref_x = prepared(ref_plan, refs.values.data(), refs.labels.size());
        if (ref_x.size() != refs.labels.size() * 240) throw value_error("stream_replay: a reference spectrum failed the recipe");

        // The encoder: loaded, or trained on pixels of the first frames (and the references).
        const auto t_train = Clock::now();
        std::optional<latent::Encoder<float>> encoder, raw_encoder;
        std::size_t training_rows_n = 0;
        double pull = 0;
        if (cli.has("--model")) {
            encoder.emplace(latent::Encoder<float>::load(cli.text("--model")));
            if (cli.has("--raw-model")) raw_encoder.emplace(latent::Encoder<float>::load(cli.text("--raw-model")));
        } else {
            std::vector<float> x = ref_x, x_raw;
            const auto ref_raw_plan = stream::study2_raw_recipe().prepare(stream::SyntheticSeries::axis());
            if (two_encoder)  // the references' raw form: the same spectra, background left in
                x_raw = prepared(ref_raw_plan, refs.values.data(), refs.labels.size());
            if (x_raw.size() != (two_encoder ? ref_x.size() : 0)) throw value_error("stream_replay: a reference failed the raw recipe");
            // Measured-like copies of the references (dose, counting noise): rows of both phases, which the
            // first frames lack; without them the raw encoder maps every pixel near the first frames' phase.
            const auto noisy = ref_source.noisy_references(6, ref_copies, synth::mix_seed(seed, 4000));
            training_rows(ref_plan, two_encoder ? &ref_raw_plan : nullptr, noisy.values.data(), noisy.labels.size(), 0, 1, x,
                          x_raw);
            const steps::Pipeline* rp = raw_plan ? &*raw_plan : nullptr;
            if (series) {
                std::vector<float> buf(series->frame_values());
                // At most 1,024 pixels of the first two frames (every stride-th): a brief training.
                const std::size_t first = std::min<std::size_t>(2, frames), fp = series->frame_pixels();
                const std::size_t stride = std::max<std::size_t>(1, first * fp / 1024);
                for (std::size_t k = 0; k < first; ++k) {
                    series->frame(k, buf.data());
                    training_rows(plan, rp, buf.data(), fp, k * fp % stride, stride, x, x_raw);
                }
            } else {
                training_rows(plan, rp, file->data().data(), file->pixel_count(), 0, 1, x, x_raw);
            }
            if (x.empty()) throw value_error("stream_replay: no training spectrum passed the recipe");
            training_rows_n = x.size() / 240;
            Trained t = train_encoders(x, two_encoder ? &x_raw : nullptr, epochs, refine, beta, lr, threads, seed);
            encoder.emplace(std::move(t.vae));
            if (t.raw) raw_encoder.emplace(std::move(*t.raw));
            pull = t.pull;
            if (cli.has("--save-model")) nn::save_model(encoder->model(), cli.text("--save-model"));
            if (cli.has("--save-raw-model") && raw_encoder) nn::save_model(raw_encoder->model(), cli.text("--save-raw-model"));
        }
        const double train_s = std::chrono::duration<double>(Clock::now() - t_train).count();
        nn::Workspace<float> ws;
        const auto points = latent::sample_posterior(latent::embed(*encoder, ref_x.data(), refs.labels.size(), ws),
                                                     refs.labels, stream::SyntheticSeries::class_names(), samples, seed);

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
        stream::Stream<float> s(spec, axis, raw_encoder ? *raw_encoder : *encoder, points, callback);
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

        nlohmann::json svg_frames;  // the frames drawn as SVG (--maps)
        if (!maps.empty()) {
            std::filesystem::create_directories(maps);
            const std::size_t every = cli.count("--svg-every", frames <= 24 ? 1 : frames / 16, 1, 1000000);
            const std::size_t change = series ? series->change_frame() : frames;
            std::vector<double> over_time;  // frames x width: the delithiated share of each column
            svg_frames = nlohmann::json::array();
            for (const auto& [k, m] : frame_maps) {
                char name[32];
                std::snprintf(name, sizeof name, "frame%04llu", static_cast<unsigned long long>(k));
                const std::string prefix = (std::filesystem::path(maps) / name).string();
                const bool svg = k % every == 0 || (k >= change && k <= change + 5) || (detected && k == *detected);
                if (svg) {
                    latent::save_maps(m, prefix, "frame " + std::to_string(k));
                    svg_frames.push_back(k);
                } else {
                    io::write_npy(prefix + "_class.npy", m.shape, m.label.data());
                    io::write_npy(prefix + "_confidence.npy", m.shape, m.confidence.data());
                    io::write_npy(prefix + "_anomaly.npy", m.shape, m.anomaly.data());
                }
                const auto f = latent::column_fractions(m, 1);
                over_time.resize(width * (k + 1), std::nan(""));  // a frame without results stays masked
                std::copy(f.begin(), f.end(), over_time.begin() + static_cast<std::ptrdiff_t>(width * k));
            }
            if (!over_time.empty()) {
                const std::size_t rows = over_time.size() / width;
                latent::detail::write_text(std::filesystem::path(maps) / "classes_over_time.svg",
                                           report::map_svg(over_time, rows, width, "class over time: NMC811_delithiated share per column",
                                                           "rows: frames 0 .. " + std::to_string(rows - 1) + ", columns: image columns",
                                                           report::ValueRange{0.0, 1.0}));  // a share: one scale for any run
                std::vector<float> f32(over_time.begin(), over_time.end());
                io::write_npy((std::filesystem::path(maps) / "classes_over_time.npy").string(), {rows, width}, f32.data());
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
        j["variant"] = two_encoder ? "two-encoder" : "vae";
        j["anomaly"] = spec.options.anomaly;  // whether each result carries the reconstruction error
        j["training_rows"] = training_rows_n;
        if (two_encoder && !cli.has("--model")) j["pull_loss"] = pull;
        j["training_seconds"] = train_s;
        j["latent_points"] = points.size();
        if (series) {
            j["change_frame"] = series->change_frame();
            j["detected_frame"] = detected ? nlohmann::json(*detected) : nlohmann::json(nullptr);
        }
        nlohmann::json f = nlohmann::json::array();
        for (double v : fraction) f.push_back(std::round(v * 1000) / 1000);
        j["delithiated_fraction"] = f;
        if (!maps.empty()) j["svg_frames"] = svg_frames;
        std::cout << j.dump() << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stream_replay: %s\n", e.what());
        return 1;
    }
}

// corespec/stream/stream.hpp - spectra analysed as an instrument delivers
// them: accepted one at a time, a row or a frame at a time, analysed on
// worker threads (latent::Analyser: recipe -> encoder -> classifier), and
// handed back IN ACQUISITION ORDER through a callback or by polling.
//
//   stream::StreamSpec spec = stream::StreamSpec::parse(text);   // recipe, classifier, options
//   stream::Stream<float> s(spec, axis, encoder, references,
//                           [](const stream::Result<float>& r) { /* r.index, r.label, ... */ });
//   s.on_frame(stream::fraction_above(1, 0.3), [](const stream::FrameSummary& f) { /* steer */ });
//   s.submit_frame(steps::Block<const std::uint16_t>::contiguous(buf, 64 * 64, 2048));
//   s.close();                                    // everything accepted is delivered
//   stream::StreamStats st = s.stats();           // received, processed, rejected, p50_us, p99_us
//
// Memory is bounded: `capacity` spectra (capacity x channels values) hold
// everything accepted and not yet consumed. When they are full, submit
// waits (Policy::block) or takes what fits and returns how many it rejected
// (Policy::reject); nothing is dropped silently. Counters: received =
// processed + rejected + in flight.
//
// Threads: one submitter at a time (submits are serialised), `threads`
// workers. In callback mode the callback, and the frame hooks, run on a
// worker thread, one call at a time, in order; in poll mode they run on
// the thread that calls poll(). A worker takes up to `batch` consecutive
// spectra at once; each spectrum's numbers do not depend on which others
// share its batch, so results equal batch processing (latent::analyse_image)
// bit for bit, on any thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/latent/analysis.hpp"
#include "corespec/nn/kernels/table.hpp"
#include "corespec/steps/recipe.hpp"

namespace corespec::stream {

enum class Policy { block, reject };
/// Non-finite input values: reject (submit throws value_error and accepts
/// none of that call's spectra) or flag (accepted; status non_finite, label -1).
enum class NanPolicy { reject, flag };

/// Everything of a stream that is not a model or data: JSON-describable.
struct StreamOptions {
    unsigned threads = 1;
    std::size_t capacity = 4096;  ///< spectra accepted and not yet consumed
    Policy policy = Policy::block;
    NanPolicy nan = NanPolicy::flag;
    std::size_t batch = 32;        ///< spectra a worker analyses at once
    bool anomaly = true;           ///< score reconstruction error (costs a decoder pass)
    std::size_t frame_width = 0;   ///< pixels per row (0: not framed; submit_row / _frame need it)
    std::size_t frame_height = 0;  ///< rows per frame

    std::size_t frame_pixels() const noexcept { return frame_width * frame_height; }
};

/// A pipeline description: the recipe, the classifier and the options (the
/// encoder and the reference points are a model and data, given apart).
struct StreamSpec {
    static constexpr const char* format_name = "corespec.stream";
    steps::Recipe recipe;
    latent::ClassifierOptions classifier;
    StreamOptions options;

    nlohmann::json to_json() const {
        const StreamOptions& o = options;
        return {{"format", format_name},
                {"recipe", recipe.to_json()},
                {"classifier", classifier.to_json()},
                {"threads", o.threads},
                {"capacity", o.capacity},
                {"policy", o.policy == Policy::block ? "block" : "reject"},
                {"nan", o.nan == NanPolicy::reject ? "reject" : "flag"},
                {"batch", o.batch},
                {"anomaly", o.anomaly},
                {"frame_width", o.frame_width},
                {"frame_height", o.frame_height}};
    }
    std::string dump(int indent = 2) const { return to_json().dump(indent); }

    /// Missing option fields keep their defaults; throws value_error (or the
    /// recipe's step_error) naming the field.
    static StreamSpec from_json(const nlohmann::json& j) {
        if (!j.is_object() || !j.contains("format") || j.at("format") != format_name)
            throw value_error(std::string("stream spec: field 'format' must be \"") + format_name + "\"");
        StreamSpec s;
        StreamOptions& o = s.options;
        const auto whole = [](const std::string& key, const nlohmann::json& v, std::size_t min) {
            if (!v.is_number_unsigned() || v.get<std::size_t>() < min)
                throw value_error("stream spec: field '" + key + "' must be a whole number >= " + std::to_string(min) +
                                  ", got " + v.dump());
            return v.get<std::size_t>();
        };
        for (const auto& item : j.items()) {
            const std::string& key = item.key();
            const auto& v = item.value();
            if (key == "format") continue;
            if (key == "recipe") s.recipe = steps::Recipe::from_json(v);
            else if (key == "classifier") s.classifier = latent::ClassifierOptions::from_json(v);
            else if (key == "threads") o.threads = static_cast<unsigned>(std::min<std::size_t>(whole(key, v, 1), 1024));
            else if (key == "capacity") o.capacity = whole(key, v, 1);
            else if (key == "batch") o.batch = whole(key, v, 1);
            else if (key == "frame_width") o.frame_width = whole(key, v, 0);
            else if (key == "frame_height") o.frame_height = whole(key, v, 0);
            else if (key == "anomaly" && v.is_boolean()) o.anomaly = v.get<bool>();
            else if (key == "policy" && (v == "block" || v == "reject")) o.policy = v == "block" ? Policy::block : Policy::reject;
            else if (key == "nan" && (v == "reject" || v == "flag")) o.nan = v == "reject" ? NanPolicy::reject : NanPolicy::flag;
            else if (key == "anomaly" || key == "policy" || key == "nan")
                throw value_error("stream spec: field '" + key + "': bad value " + v.dump());
            else
                throw value_error("stream spec: unknown field '" + key + "'");
        }
        return s;
    }
    static StreamSpec parse(const std::string& text) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw parse_error("<stream spec>", "JSON", e.what());
        }
        return from_json(j);
    }
};

/// One analysed spectrum. index counts every spectrum offered to the
/// stream (rejected ones too), so frame = index / frame_pixels and
/// pixel = index % frame_pixels locate it in the acquisition.
template <class T>
struct Result : latent::SpectrumResult<T> {
    std::uint64_t index = 0, frame = 0, pixel = 0;
    double latency_us = 0;  ///< from its submit call to its delivery
};

struct SubmitResult {
    std::size_t accepted = 0, rejected = 0;
};

/// The classes of one frame's delivered spectra (failed ones counted apart).
struct FrameSummary {
    std::uint64_t frame = 0;
    std::size_t pixels = 0;  ///< delivered spectra of the frame
    std::size_t failed = 0;  ///< of which without a label
    std::vector<std::size_t> counts;  ///< per class
    /// counts[c] / pixels (0 for an empty frame or an unknown class).
    double fraction(int c) const noexcept {
        return pixels && c >= 0 && static_cast<std::size_t>(c) < counts.size()
                   ? static_cast<double>(counts[static_cast<std::size_t>(c)]) / static_cast<double>(pixels)
                   : 0.0;
    }
};
using FrameCondition = std::function<bool(const FrameSummary&)>;
using FrameAction = std::function<void(const FrameSummary&)>;

/// "More than `threshold` of the frame's pixels are in class `label`."
inline FrameCondition fraction_above(int label, double threshold) {
    return [label, threshold](const FrameSummary& f) { return f.fraction(label) > threshold; };
}

struct StreamStats {
    std::uint64_t received = 0, processed = 0, rejected = 0, delivered = 0;
    double p50_us = 0, p99_us = 0, max_us = 0;  ///< arrival -> delivery, delivered spectra
    unsigned threads = 0;
};

namespace detail {

/// Latencies in nanoseconds, 32 buckets per octave (about 3 % resolution),
/// fixed memory.
class LatencyHistogram {
public:
    void add(std::uint64_t ns) noexcept {
        ++counts_[bucket(ns)];
        ++total_;
        max_ = std::max(max_, ns);
    }
    std::uint64_t count() const noexcept { return total_; }
    double max_us() const noexcept { return static_cast<double>(max_) * 1e-3; }
    /// The q-quantile (0..1) in microseconds: the middle of its bucket.
    double quantile_us(double q) const noexcept {
        if (total_ == 0) return 0.0;
        const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < buckets; ++b) {
            seen += counts_[b];
            if (seen >= std::max<std::uint64_t>(rank, 1)) return 0.5 * (lower(b) + lower(b + 1)) * 1e-3;
        }
        return max_us();
    }

private:
    static constexpr std::size_t sub = 32, octaves = 44, buckets = sub * (octaves + 1);
    static std::size_t bucket(std::uint64_t v) noexcept {
        if (v < sub) return static_cast<std::size_t>(v);
        int msb = 63;
        while (!(v >> msb)) --msb;
        const int shift = msb - 5;  // v >> shift in [32, 64)
        const std::size_t b = sub * static_cast<std::size_t>(shift + 1) + static_cast<std::size_t>((v >> shift) - sub);
        return std::min(b, buckets - 1);
    }
    static double lower(std::size_t b) noexcept {
        if (b < sub) return static_cast<double>(b);
        const std::size_t shift = b / sub - 1;
        return static_cast<double>((sub + b % sub) << shift);
    }
    std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(buckets, 0);
    std::uint64_t total_ = 0, max_ = 0;
};

/// A recipe's leading crops as one channel window [first, last) of the
/// input axis, and the rest of the recipe planned for the window's axis.
/// A crop is a view, so the rest on the window gives the whole recipe's
/// numbers; the stream then keeps only the window's channels of a spectrum.
struct LeadingWindow {
    std::size_t first, last;
    steps::Pipeline rest;
};
inline LeadingWindow leading_window(const steps::Recipe& recipe, const grid::EnergyAxis& input) {
    (void)recipe.prepare(input);  // the whole recipe's errors, as the caller wrote it
    grid::EnergyAxis axis = input;
    std::size_t first = 0, k = 0;
    for (; k < recipe.size(); ++k) {
        const auto* crop = dynamic_cast<const steps::Crop*>(&recipe.step(k));
        if (!crop) break;
        const auto [a, b] = axis.window(crop->lo(), crop->hi());  // as Crop::prepare
        axis = axis.slice(a, b);
        first += a;
    }
    steps::Recipe rest;
    for (; k < recipe.size(); ++k) rest.then(recipe.step(k));
    const std::size_t n = axis.size();
    return {first, first + n, rest.prepare(axis)};
}

/// Whether values [from, to) of a spectrum are finite (vectorised when contiguous).
template <class U>
bool all_finite(const strided_span<const U>& px, std::size_t from, std::size_t to) {
    if constexpr (std::is_same<U, float>::value || std::is_same<U, double>::value) {
        if (px.contiguous()) return to <= from || nn::kernels::default_table<U>().all_finite(px.data() + from, to - from);
    }
    if constexpr (std::is_floating_point<U>::value) {
        for (std::size_t i = from; i < to; ++i)
            if (!std::isfinite(px[i])) return false;
    }
    return true;
}

}  // namespace detail

template <class T>
class Stream {
public:
    using Callback = std::function<void(const Result<T>&)>;

    /// Prepares spec.recipe for `input_axis`, builds the classifier over
    /// `references` and starts spec.options.threads workers. With a
    /// callback, results go to it; without, to poll(). Throws what the
    /// recipe, Analyser and Classifier throw, value_error for bad options.
    /// When the recipe starts with crops, the stream keeps only the cropped
    /// channels of each spectrum (analyser() then runs the rest of the
    /// recipe on them); the results are the whole recipe's.
    Stream(const StreamSpec& spec, const grid::EnergyAxis& input_axis, latent::Encoder<T> encoder,
           latent::LatentPoints<T> references, Callback callback = {})
        : Stream(spec, input_axis, detail::leading_window(spec.recipe, input_axis), std::move(encoder), std::move(references),
                 std::move(callback)) {}

    /// A stream over spectra on analyser.pipeline().input_axis().
    Stream(StreamOptions options, latent::Analyser<T> analyser, Callback callback = {})
        : Stream(options, std::move(analyser), std::move(callback), std::nullopt, 0) {}

private:
    Stream(const StreamSpec& spec, const grid::EnergyAxis& input_axis, detail::LeadingWindow w, latent::Encoder<T> encoder,
           latent::LatentPoints<T> references, Callback callback)
        : Stream(spec.options,
                 latent::Analyser<T>(std::move(w.rest), std::move(encoder),
                                     latent::Classifier<T>(std::move(references), spec.classifier), spec.options.anomaly,
                                     spec.options.batch),
                 std::move(callback), input_axis, w.first) {}

    // input_axis: the spectra's axis (none: the analyser's); the ring keeps
    // the analyser's channels, from channel `window` of each spectrum.
    Stream(StreamOptions options, latent::Analyser<T> analyser, Callback callback, std::optional<grid::EnergyAxis> input_axis,
           std::size_t window)
        : o_(options), a_(std::move(analyser)), callback_(std::move(callback)),
          input_axis_(input_axis ? std::move(*input_axis) : a_.pipeline().input_axis()), window_(window) {
        if (o_.threads == 0) throw value_error("stream: threads must be >= 1");
        if (o_.capacity == 0) throw value_error("stream: capacity must be >= 1");
        if (a_.batch() != o_.batch)
            throw value_error("stream: the analyser's batch (" + std::to_string(a_.batch()) + ") differs from options.batch (" +
                              std::to_string(o_.batch) + ")");
        if ((o_.frame_width == 0) != (o_.frame_height == 0))
            throw value_error("stream: set both frame_width and frame_height, or neither");
        channels_ = input_axis_.size();
        kept_ = a_.channels();
        values_.resize(o_.capacity * kept_);
        slots_.resize(o_.capacity);
        frame_.counts.assign(a_.classifier().class_names().size(), 0);
        workers_.reserve(o_.threads);
        try {
            for (unsigned t = 0; t < o_.threads; ++t) workers_.emplace_back([this] { work(); });
        } catch (...) {
            stop_workers();
            throw;
        }
    }

public:
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    /// close(), swallowing what it would throw.
    ~Stream() {
        try {
            close();
        } catch (...) {
        }
    }

    const StreamOptions& options() const noexcept { return o_; }
    /// What runs on the kept channels of each spectrum (the recipe after its leading crops).
    const latent::Analyser<T>& analyser() const noexcept { return a_; }
    /// Values per submitted spectrum (the input axis).
    std::size_t channels() const noexcept { return channels_; }
    const grid::EnergyAxis& input_axis() const noexcept { return input_axis_; }
    /// Values the stream keeps per accepted spectrum (capacity x this in memory).
    std::size_t kept_channels() const noexcept { return kept_; }

    /// Fires `then` after every frame whose summary satisfies `when`
    /// (checked once per frame, when its last pixel is delivered, a later
    /// frame's pixel is, or at close). Call before submitting.
    void on_frame(FrameCondition when, FrameAction then) {
        std::lock_guard<std::mutex> g(m_);
        hooks_.push_back({std::move(when), std::move(then)});
    }

    /// One spectrum of channels() values, value i at spectrum[i * stride].
    template <class U>
    SubmitResult submit(const U* spectrum, std::ptrdiff_t stride = 1) {
        return submit_block(steps::Block<const U>{spectrum, 1, channels_, 0, stride});
    }
    /// A block of spectra of any layout (steps::Block), in acquisition order.
    template <class U>
    SubmitResult submit_block(steps::Block<const U> block) {
        static_assert(std::is_arithmetic<U>::value, "stream::Stream::submit: arithmetic values");
        if (block.channels != channels_) throw shape_error("stream::Stream::submit channels", {channels_}, {block.channels});
        return accept(block);
    }
    template <class U>
    SubmitResult submit_block(steps::Block<const U> block, const grid::EnergyAxis& axis) {
        check_axis(axis);
        return submit_block(block);
    }
    /// frame_width spectra; throws value_error when the stream is not framed.
    template <class U>
    SubmitResult submit_row(steps::Block<const U> row) {
        if (o_.frame_width == 0 || row.pixels != o_.frame_width)
            throw shape_error("stream::Stream::submit_row pixels", {o_.frame_width}, {row.pixels});
        return submit_block(row);
    }
    /// frame_width x frame_height spectra, row-major.
    template <class U>
    SubmitResult submit_frame(steps::Block<const U> frame) {
        if (o_.frame_pixels() == 0 || frame.pixels != o_.frame_pixels())
            throw shape_error("stream::Stream::submit_frame pixels", {o_.frame_height, o_.frame_width}, {frame.pixels});
        return submit_block(frame);
    }
    template <class U>
    SubmitResult submit_frame(steps::Block<const U> frame, const grid::EnergyAxis& axis) {
        check_axis(axis);
        return submit_frame(frame);
    }

    /// Poll mode: hands up to `max` delivered-in-order results to `f` on
    /// this thread and frees their room; returns how many. Does not wait.
    template <class F>
    std::size_t poll(F&& f, std::size_t max = std::numeric_limits<std::size_t>::max()) {
        if (callback_) throw value_error("stream::Stream::poll: this stream delivers through its callback");
        std::unique_lock<std::mutex> lk(m_);
        const std::size_t n = deliver(lk, f, max);
        if (closed_ && tail_ == head_) finish_frame(lk);  // the last frame's hooks
        rethrow(lk);
        return n;
    }
    /// Waits until a result can be polled, the stream is closed and empty,
    /// or `timeout` passes; then polls like poll().
    template <class F, class Rep, class Period>
    std::size_t poll_wait(F&& f, std::chrono::duration<Rep, Period> timeout,
                          std::size_t max = std::numeric_limits<std::size_t>::max()) {
        {
            std::unique_lock<std::mutex> lk(m_);
            ready_cv_.wait_for(lk, timeout, [&] { return ready_locked() || (closed_ && tail_ == head_); });
        }
        return poll(std::forward<F>(f), max);
    }

    /// Stops accepting, analyses everything accepted, joins the workers and
    /// (callback mode) delivers every result; the last frame's hooks fire.
    /// In poll mode the results stay for poll(). Rethrows the first
    /// exception a worker or the callback threw. Idempotent.
    void close() {
        std::lock_guard<std::mutex> submitting(submit_m_);
        {
            std::lock_guard<std::mutex> g(m_);
            if (closed_ && workers_.empty()) return;
            closed_ = true;
        }
        work_cv_.notify_all();
        stop_workers();
        std::unique_lock<std::mutex> lk(m_);
        if (callback_) {
            deliver(lk, callback_, std::numeric_limits<std::size_t>::max());
            finish_frame(lk);
        }
        ready_cv_.notify_all();
        rethrow(lk);
    }
    bool closed() const {
        std::lock_guard<std::mutex> g(m_);
        return closed_;
    }

    StreamStats stats() const {
        std::lock_guard<std::mutex> g(m_);
        StreamStats s;
        s.received = received_, s.processed = processed_, s.rejected = rejected_, s.delivered = delivered_;
        s.p50_us = latency_.quantile_us(0.50), s.p99_us = latency_.quantile_us(0.99), s.max_us = latency_.max_us();
        s.threads = o_.threads;
        return s;
    }

private:
    struct Slot {
        Result<T> result;
        std::chrono::steady_clock::time_point arrival;
        bool done = false;
    };
    struct Hook {
        FrameCondition when;
        FrameAction then;
    };

    T* values(std::uint64_t seq) noexcept { return values_.data() + (seq % o_.capacity) * kept_; }
    Slot& slot(std::uint64_t seq) noexcept { return slots_[seq % o_.capacity]; }

    void check_axis(const grid::EnergyAxis& axis) const {
        if (!axis.approx_equal(input_axis_))
            throw value_error("stream: the spectra's energy axis (" + std::to_string(axis.size()) + " channels, " +
                              std::to_string(axis.front()) + " .. " + std::to_string(axis.back()) +
                              ") differs from the stream's (" + std::to_string(channels_) + " channels, " +
                              std::to_string(input_axis_.front()) + " .. " + std::to_string(input_axis_.back()) + ")");
    }

    template <class U>
    SubmitResult accept(const steps::Block<const U>& b) {
        std::lock_guard<std::mutex> submitting(submit_m_);  // one submitter at a time
        const auto arrival = std::chrono::steady_clock::now();
        if (o_.nan == NanPolicy::reject && std::is_floating_point<U>::value)
            for (std::size_t p = 0; p < b.pixels; ++p) {
                const auto px = b.pixel(p);
                if (detail::all_finite(px, 0, b.channels)) continue;
                for (std::size_t i = 0; i < b.channels; ++i)
                    if (!std::isfinite(static_cast<double>(px[i])))
                        throw value_error("stream: spectrum " + std::to_string(p) + " of this submit (acquisition index " +
                                          std::to_string(position() + p) + "), channel " + std::to_string(i) +
                                          " is not finite (nan policy: reject)");
            }
        SubmitResult r;
        std::size_t next = 0;
        while (next < b.pixels) {
            std::uint64_t first = 0, pos = 0;
            std::size_t room = 0;
            {
                std::unique_lock<std::mutex> lk(m_);
                rethrow(lk);
                if (closed_) throw value_error("stream: submit after close()");
                if (o_.policy == Policy::block)
                    space_cv_.wait(lk, [&] { return head_ - tail_ < o_.capacity || failure_; });
                rethrow(lk);
                // At most a batch per publication, so that the workers start on a
                // large block while the rest is still being copied.
                room = std::min<std::size_t>({o_.capacity - static_cast<std::size_t>(head_ - tail_), b.pixels - next, o_.batch});
                if (room == 0) {  // reject policy and full: the rest of this call is refused
                    r.rejected += b.pixels - next;
                    rejected_ += b.pixels - next;
                    received_ += b.pixels - next;
                    position_ += b.pixels - next;
                    return r;
                }
                first = head_, pos = position_;
            }
            // Slots [head_, head_ + room) are ours: workers only claim below head_.
            const bool outside = kept_ < channels_ && o_.nan == NanPolicy::flag && std::is_floating_point<U>::value;
            for (std::size_t k = 0; k < room; ++k) {
                const auto px = b.pixel(next + k);
                T* dst = values(first + k);
                if (std::is_same<U, T>::value && px.contiguous())
                    std::memcpy(dst, px.data() + window_, kept_ * sizeof(T));
                else
                    for (std::size_t i = 0; i < kept_; ++i) dst[i] = static_cast<T>(px[window_ + i]);
                // A non-finite value outside the kept channels: flagged as the analyser flags one inside.
                if (outside && !(detail::all_finite(px, 0, window_) && detail::all_finite(px, window_ + kept_, channels_)))
                    dst[0] = std::numeric_limits<T>::quiet_NaN();
                Slot& s = slot(first + k);
                s.arrival = arrival;
                s.done = false;
                s.result = Result<T>{};
                s.result.index = pos + k;
                const std::size_t fp = o_.frame_pixels();
                s.result.frame = fp ? (pos + k) / fp : 0;
                s.result.pixel = fp ? (pos + k) % fp : pos + k;
            }
            {
                std::lock_guard<std::mutex> g(m_);
                head_ += room;
                received_ += room;
                position_ += room;
            }
            work_cv_.notify_all();
            r.accepted += room;
            next += room;
        }
        return r;
    }
    std::uint64_t position() {
        std::lock_guard<std::mutex> g(m_);
        return position_;
    }

    void work() {
        auto scratch = a_.scratch();
        std::vector<latent::SpectrumResult<T>> out(o_.batch);
        std::unique_lock<std::mutex> lk(m_);
        for (;;) {
            work_cv_.wait(lk, [&] { return claim_ < head_ || closed_; });
            if (claim_ == head_) return;  // closed and drained
            const std::uint64_t first = claim_;
            // A share of what waits (so that every worker gets some of a
            // short burst), up to batch spectra: one at a time when they
            // trickle in (latency), whole batches when the ring is deep
            // (the encoder is cheaper per spectrum in a batch); not across
            // the ring's end (one contiguous block).
            const std::uint64_t waiting = head_ - claim_, share = (waiting + o_.threads - 1) / o_.threads;
            const std::size_t n = static_cast<std::size_t>(
                std::min<std::uint64_t>({share, o_.batch, o_.capacity - first % o_.capacity}));
            claim_ += n;
            lk.unlock();
            try {
                a_.process(values(first), static_cast<std::ptrdiff_t>(kept_), n, out.data(), scratch);
            } catch (...) {
                for (std::size_t k = 0; k < n; ++k) out[k] = latent::SpectrumResult<T>{};  // labelled failed
                lk.lock();
                if (!failure_) failure_ = std::current_exception();
                lk.unlock();
                space_cv_.notify_all();
            }
            for (std::size_t k = 0; k < n; ++k) static_cast<latent::SpectrumResult<T>&>(slot(first + k).result) = out[k];
            lk.lock();
            for (std::size_t k = 0; k < n; ++k) slot(first + k).done = true;
            processed_ += n;
            if (callback_)
                deliver(lk, callback_, std::numeric_limits<std::size_t>::max());
            else
                ready_cv_.notify_all();
        }
    }

    bool ready_locked() { return tail_ < claim_ && slot(tail_).done; }

    // Hands the finished results at the tail, in order, to f (outside the
    // lock; one deliverer at a time), then frees their slots.
    template <class F>
    std::size_t deliver(std::unique_lock<std::mutex>& lk, F& f, std::size_t max) {
        if (delivering_) return 0;  // the current deliverer picks ours up before it stops
        delivering_ = true;
        std::size_t total = 0;
        while (total < max && ready_locked()) {
            const std::uint64_t begin = tail_;
            std::uint64_t end = begin;
            while (end < claim_ && slot(end).done && total + (end - begin) < max) ++end;
            const std::vector<Hook>* hooks = &hooks_;
            lk.unlock();
            const auto now = std::chrono::steady_clock::now();
            for (std::uint64_t q = begin; q < end; ++q) {
                Result<T>& r = slot(q).result;
                r.latency_us = std::chrono::duration<double, std::micro>(now - slot(q).arrival).count();
                account_frame(r, *hooks);
                try {
                    f(static_cast<const Result<T>&>(r));
                } catch (...) {
                    std::lock_guard<std::mutex> g(m_);
                    if (!failure_) failure_ = std::current_exception();
                }
            }
            lk.lock();
            for (std::uint64_t q = begin; q < end; ++q) {
                latency_.add(static_cast<std::uint64_t>(std::max(0.0, slot(q).result.latency_us) * 1e3));
                slot(q).done = false;
            }
            delivered_ += end - begin;
            total += static_cast<std::size_t>(end - begin);
            tail_ = end;
            space_cv_.notify_all();
        }
        delivering_ = false;
        if (closed_ && tail_ == head_) ready_cv_.notify_all();
        return total;
    }

    // Deliverer only (no lock needed: one deliverer at a time, ordered by m_).
    void account_frame(const Result<T>& r, const std::vector<Hook>& hooks) {
        if (o_.frame_pixels() == 0) return;
        if (frame_open_ && r.frame != frame_.frame) fire(hooks);
        if (!frame_open_) {
            frame_open_ = true;
            frame_.frame = r.frame;
            frame_.pixels = frame_.failed = 0;
            std::fill(frame_.counts.begin(), frame_.counts.end(), 0);
        }
        ++frame_.pixels;
        if (r.label >= 0) ++frame_.counts[static_cast<std::size_t>(r.label)];
        else ++frame_.failed;
        if (r.pixel + 1 == o_.frame_pixels()) fire(hooks);
    }
    void fire(const std::vector<Hook>& hooks) {
        frame_open_ = false;
        for (const Hook& h : hooks) {
            try {
                if (h.when(frame_)) h.then(frame_);
            } catch (...) {
                std::lock_guard<std::mutex> g(m_);
                if (!failure_) failure_ = std::current_exception();
            }
        }
    }
    void finish_frame(std::unique_lock<std::mutex>& lk) {
        if (delivering_ || !frame_open_) return;
        delivering_ = true;  // frame_ belongs to the deliverer
        const std::vector<Hook>* hooks = &hooks_;
        lk.unlock();
        fire(*hooks);
        lk.lock();
        delivering_ = false;
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> g(m_);
            closed_ = true;
        }
        work_cv_.notify_all();
        for (auto& w : workers_)
            if (w.joinable()) w.join();
        workers_.clear();
    }

    void rethrow(std::unique_lock<std::mutex>&) {
        if (failure_ && !rethrown_) {
            rethrown_ = true;
            std::rethrow_exception(failure_);
        }
    }

    StreamOptions o_;
    latent::Analyser<T> a_;
    Callback callback_;
    grid::EnergyAxis input_axis_;
    std::size_t window_ = 0;    // first kept channel of a spectrum
    std::size_t channels_ = 0;  // per submitted spectrum
    std::size_t kept_ = 0;      // per stored spectrum (the analyser's)
    std::vector<T> values_;     // capacity x kept_: the accepted spectra
    std::vector<Slot> slots_;  // capacity: their results

    mutable std::mutex m_;
    std::mutex submit_m_;
    std::condition_variable work_cv_, space_cv_, ready_cv_;
    // Sequence numbers of accepted spectra: tail_ <= claim_ <= head_ <= tail_ + capacity.
    std::uint64_t head_ = 0, claim_ = 0, tail_ = 0;
    std::uint64_t position_ = 0;  // acquisition index of the next offered spectrum
    std::uint64_t received_ = 0, processed_ = 0, rejected_ = 0, delivered_ = 0;
    bool closed_ = false, delivering_ = false, rethrown_ = false;
    std::exception_ptr failure_;
    detail::LatencyHistogram latency_;
    std::vector<Hook> hooks_;
    FrameSummary frame_;  // the frame being delivered (deliverer only)
    bool frame_open_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace corespec::stream

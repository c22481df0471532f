// corespec/latent/analysis.hpp - the per-spectrum analysis of study 2:
// recipe (alignment, background, crop, normalisation) -> encoder mean ->
// classifier in latent space, plus the reconstruction error as an anomaly
// score. One code path for a spectrum image (latent/maps.hpp) and a stream
// (stream/stream.hpp), so both give the same numbers bit for bit.
//
//   latent::Analyser<float> a(recipe.prepare(axis), encoder, classifier);
//   auto s = a.scratch();                                   // one per thread
//   a.process(spectra, channels, count, results, s);        // count <= a.batch()
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/status.hpp"
#include "corespec/latent/classifier.hpp"
#include "corespec/latent/encoder.hpp"
#include "corespec/nn/kernels/table.hpp"
#include "corespec/steps/recipe.hpp"

namespace corespec::latent {

/// What became of one spectrum. label -1 (confidence 0, anomaly NaN) when
/// status is not ok: the input was not finite (failed_step npos) or recipe
/// step failed_step failed.
template <class T>
struct SpectrumResult {
    PixelStatus status = PixelStatus::ok;
    std::uint16_t failed_step = steps::RecipeReport::npos;
    int label = -1;
    T confidence = T(0);
    T anomaly = std::numeric_limits<T>::quiet_NaN();  ///< NaN unless the analyser scores anomalies
};

template <class T>
class Analyser {
public:
    /// Throws shape_error when the recipe's output does not fit the encoder
    /// or the encoder's latent size the classifier; value_error for batch 0
    /// and for an anomaly score asked of a deterministic encoder.
    Analyser(steps::Pipeline pipeline, Encoder<T> encoder, Classifier<T> classifier, bool anomaly = true,
             std::size_t batch = 32)
        : pipe_(std::move(pipeline)), enc_(std::move(encoder)), cls_(std::move(classifier)), anomaly_(anomaly),
          batch_(batch) {
        if (pipe_.output_axis().size() != enc_.input_size())
            throw shape_error("latent::Analyser: recipe output vs encoder input", {enc_.input_size()},
                              {pipe_.output_axis().size()});
        if (enc_.latent_size() != cls_.dim())
            throw shape_error("latent::Analyser: encoder latent vs classifier points", {cls_.dim()}, {enc_.latent_size()});
        if (batch_ == 0) throw value_error("latent::Analyser: batch must be > 0");
        if (anomaly_ && !enc_.has_decoder())
            throw value_error("latent::Analyser: the anomaly score needs a decoder; this encoder is deterministic (anomaly off)");
    }

    const steps::Pipeline& pipeline() const noexcept { return pipe_; }
    const Encoder<T>& encoder() const noexcept { return enc_; }
    const Classifier<T>& classifier() const noexcept { return cls_; }
    std::size_t channels() const noexcept { return pipe_.input_axis().size(); }
    std::size_t batch() const noexcept { return batch_; }
    bool scores_anomaly() const noexcept { return anomaly_; }

    /// Per-thread buffers (allocated once; process() then allocates nothing
    /// once the workspace has grown for the batch).
    struct Scratch {
        typename steps::Pipeline::template Scratch<T> prep;
        std::vector<double> reports;
        std::vector<T> x, mean, err;
        std::vector<std::size_t> rows;  // which of the batch reached the encoder
        std::vector<Classification<T>> labels;
        typename Classifier<T>::Scratch knn;
        nn::Workspace<T> ws;
    };
    Scratch scratch() const {
        return {pipe_.template scratch<T>(),
                std::vector<double>(pipe_.report_names().size()),
                std::vector<T>(batch_ * enc_.input_size()),
                std::vector<T>(batch_ * enc_.latent_size()),
                std::vector<T>(batch_),
                std::vector<std::size_t>(batch_),
                std::vector<Classification<T>>(batch_),
                cls_.scratch(batch_),
                nn::Workspace<T>()};
    }

    /// Analyses `count` (<= batch()) spectra of channels() values on the
    /// recipe's input axis, spectrum i at in[i * stride ...]. `latent`
    /// (count x latent size, optional) receives the encoder means (NaN for
    /// failed spectra).
    void process(const T* in, std::ptrdiff_t stride, std::size_t count, SpectrumResult<T>* out, Scratch& s,
                 T* latent = nullptr) const {
        if (count > batch_)
            throw value_error("latent::Analyser::process: " + std::to_string(count) + " spectra, batch is " +
                              std::to_string(batch_));
        const std::size_t n = channels(), m = enc_.input_size(), l = enc_.latent_size();
        std::size_t ok = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const T* spectrum = in + static_cast<std::ptrdiff_t>(i) * stride;
            out[i] = SpectrumResult<T>{};
            if (!nn::kernels::default_table<T>().all_finite(spectrum, n)) {  // vectorised
                out[i].status = PixelStatus::non_finite;
                continue;
            }
            const auto [st, step] = pipe_.run_pixel<T>(strided_span<const T>(spectrum, n, 1), s.x.data() + ok * m,
                                                       s.reports.data(), s.prep);
            out[i].status = st, out[i].failed_step = step;
            if (st == PixelStatus::ok) s.rows[ok++] = i;
        }
        // Rows are independent through the encoder and the distance GEMM, so
        // the batch's make-up does not change a spectrum's numbers.
        enc_.encode(s.x.data(), ok, s.mean.data(), nullptr, s.ws);
        cls_.classify(s.mean.data(), ok, s.labels.data(), s.knn);
        if (anomaly_) enc_.reconstruction_error(s.x.data(), s.mean.data(), ok, s.err.data(), s.ws);
        for (std::size_t r = 0; r < ok; ++r) {
            SpectrumResult<T>& o = out[s.rows[r]];
            o.label = s.labels[r].label;
            o.confidence = s.labels[r].confidence;
            if (anomaly_) o.anomaly = s.err[r];
        }
        if (latent) {
            std::fill(latent, latent + count * l, std::numeric_limits<T>::quiet_NaN());
            for (std::size_t r = 0; r < ok; ++r)
                std::copy(s.mean.data() + r * l, s.mean.data() + (r + 1) * l, latent + s.rows[r] * l);
        }
    }

private:
    steps::Pipeline pipe_;
    Encoder<T> enc_;
    Classifier<T> cls_;
    bool anomaly_;
    std::size_t batch_;
};

}  // namespace corespec::latent

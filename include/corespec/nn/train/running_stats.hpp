// corespec/nn/train/running_stats.hpp - BatchNorm1d running statistics in
// training, as PyTorch updates them in train mode.
//
// Layers are const during a training forward (several threads run one model),
// so the trainer collects the input moments of each layer that has running
// statistics (Layer::moments_size() > 0: BatchNorm1d) per thread from the
// activations of forward_trace, sums the threads in a fixed order and updates
// the running statistics once per batch, from the whole batch:
//
//   RunningStatistics<T> stats;
//   stats.begin(model, threads);                       // before the batch
//   stats.accumulate(model, acts, t);                  // in thread t, after forward_trace
//   stats.apply(model);                                // after all threads
//
// With one thread this is exactly PyTorch's update. With several, each
// thread normalises its slice by the slice's statistics (the layer's forward)
// while the running statistics still come from the whole batch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "corespec/core/span.hpp"
#include "corespec/nn/sequential.hpp"

namespace corespec::nn::train {

template <class T>
class RunningStatistics {
public:
    /// Zeroes the accumulators of every layer of `model` with running
    /// statistics for `threads` threads (0: collect nothing, apply() is then
    /// a no-op). Allocates nothing for a model without any or once sized.
    void begin(const Sequential<T>& model, std::size_t threads) {
        layers_.clear();
        if (threads == 0) return;
        std::size_t size = 0;
        for (std::size_t i = 0; i < model.size(); ++i)
            if (const std::size_t m = model.layer(i).moments_size()) {
                layers_.push_back({i, size});
                size += m;
            }
        size_ = size;
        acc_.resize(threads);
        for (auto& a : acc_) a.assign(size_, 0.0);
    }

    bool empty() const noexcept { return layers_.empty(); }

    /// Adds thread t's moments; acts as filled by Sequential::forward_trace.
    void accumulate(const Sequential<T>& model, const std::vector<ConstTensorView<T>>& acts, std::size_t t) {
        for (const Entry& e : layers_) {
            const Layer<T>& l = model.layer(e.layer);
            l.accumulate_moments(acts[e.layer], span<double>(acc_[t].data() + e.offset, l.moments_size()));
        }
    }

    /// Sums the threads (in order) and updates every such layer.
    void apply(Sequential<T>& model) {
        if (layers_.empty()) return;
        for (std::size_t t = 1; t < acc_.size(); ++t)
            for (std::size_t i = 0; i < size_; ++i) acc_[0][i] += acc_[t][i];
        for (const Entry& e : layers_) {
            Layer<T>& l = model.layer(e.layer);
            l.update_running_statistics(span<const double>(acc_[0].data() + e.offset, l.moments_size()));
        }
    }

private:
    struct Entry {
        std::size_t layer, offset;
    };
    std::vector<Entry> layers_;
    std::vector<std::vector<double>> acc_;
    std::size_t size_ = 0;
};

}  // namespace corespec::nn::train

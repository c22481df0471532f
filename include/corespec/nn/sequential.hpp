// corespec/nn/sequential.hpp - a chain of layers, the basic model.
//
// const and thread-safe: any number of threads may call forward at once,
// each with its own Workspace. forward_parallel splits a batch over threads.
// Parameters are addressed PyTorch-style as "<index>.<name>" ("0.weight");
// the model's flat gradient buffer is the concatenation of its layers'.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "corespec/nn/layer.hpp"

namespace corespec::nn {

template <class T>
class Sequential {
public:
    Sequential() = default;
    Sequential(const Sequential& o) { for (const auto& l : o.layers_) layers_.push_back(l->clone()); }
    Sequential& operator=(const Sequential& o) {
        if (this != &o) { Sequential c(o); layers_ = std::move(c.layers_); }
        return *this;
    }
    Sequential(Sequential&&) noexcept = default;
    Sequential& operator=(Sequential&&) noexcept = default;

    /// Appends a layer; returns *this for chaining.
    Sequential& add(std::unique_ptr<Layer<T>> layer) {
        if (!layer) throw value_error("nn::Sequential::add: null layer");
        layers_.push_back(std::move(layer));
        return *this;
    }
    template <class L, class... Args>
    Sequential& emplace(Args&&... args) { return add(std::make_unique<L>(std::forward<Args>(args)...)); }

    std::size_t size() const noexcept { return layers_.size(); }
    Layer<T>& layer(std::size_t i) { return *layers_.at(i); }
    const Layer<T>& layer(std::size_t i) const { return *layers_.at(i); }

    /// Output shape for an input shape (batch first); throws shape_error.
    Shape output_shape(const Shape& in) const {
        Shape s = in;
        for (const auto& l : layers_) s = l->output_shape(s);
        return s;
    }

    /// out = model(in). Intermediate activations live in `ws`; nothing is
    /// allocated once `ws` has seen this batch size. Throws shape_error.
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const {
        Shape want = output_shape(in.shape());
        if (want != out.shape()) throw shape_error("nn::Sequential output", want.to_vector(), out.shape().to_vector());
        if (layers_.empty()) {
            for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i];
            return;
        }
        typename Workspace<T>::Frame frame(ws);
        ConstTensorView<T> cur = in;
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            Shape s = layers_[i]->output_shape(cur.shape());
            TensorView<T> next = (i + 1 == layers_.size()) ? out : TensorView<T>(ws.allocate(s.size()), s);
            // Each layer's own scratch is released before the next layer runs;
            // the activations stay (a sliding window would save memory, but the
            // arena is reused anyway - measure before changing).
            typename Workspace<T>::Frame inner(ws);
            layers_[i]->forward(cur, next, ws);
            cur = next;
        }
    }

    /// Batch forward split over workspaces.size() threads (the calling thread
    /// included), one contiguous block of samples each. Starting threads
    /// allocates; use forward for the allocation-free path.
    void forward_parallel(ConstTensorView<T> in, TensorView<T> out, span<Workspace<T>> workspaces) const {
        std::size_t threads = workspaces.size();
        std::size_t batch = in.batch();
        if (threads <= 1 || batch < 2) {
            if (threads == 0) throw value_error("nn::Sequential::forward_parallel: no workspace");
            forward(in, out, workspaces[0]);
            return;
        }
        Shape want = output_shape(in.shape());
        if (want != out.shape()) throw shape_error("nn::Sequential output", want.to_vector(), out.shape().to_vector());
        if (threads > batch) threads = batch;
        std::vector<std::thread> pool;
        pool.reserve(threads - 1);
        std::vector<std::exception_ptr> failures(threads);
        auto run = [&](std::size_t t) {
            std::size_t first = batch * t / threads, last = batch * (t + 1) / threads;
            try {
                forward(in.batch_slice(first, last - first), out.batch_slice(first, last - first), workspaces[t]);
            } catch (...) {
                failures[t] = std::current_exception();
            }
        };
        for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(run, t);
        run(0);
        for (auto& th : pool) th.join();
        for (auto& f : failures)
            if (f) std::rethrow_exception(f);
    }

    // --- training support -------------------------------------------------

    /// Forward keeping every activation: acts[0] = in, acts[i + 1] = output of
    /// layer i (allocated in `ws`; keep a Frame open around forward_trace and
    /// the matching backward).
    void forward_trace(ConstTensorView<T> in, std::vector<ConstTensorView<T>>& acts, Workspace<T>& ws) const {
        acts.clear();
        acts.push_back(in);
        for (const auto& l : layers_) {
            Shape s = l->output_shape(acts.back().shape());
            TensorView<T> next(ws.allocate(s.size()), s);
            {
                typename Workspace<T>::Frame inner(ws);
                l->forward(acts.back(), next, ws);
            }
            acts.push_back(next);
        }
    }

    /// Backward through the whole chain from the activations of forward_trace.
    /// grad_in may be empty; grad_params (size parameter_count(), layers'
    /// buffers concatenated) is accumulated and may be empty.
    void backward(const std::vector<ConstTensorView<T>>& acts, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>& ws) const {
        if (acts.size() != layers_.size() + 1) throw value_error("nn::Sequential::backward: activations do not match the model");
        if (!grad_params.empty() && grad_params.size() != parameter_count())
            throw shape_error("nn::Sequential::backward gradient buffer", {parameter_count()}, {grad_params.size()});
        typename Workspace<T>::Frame frame(ws);
        ConstTensorView<T> g = grad_out;
        std::size_t offset = parameter_count();
        for (std::size_t i = layers_.size(); i-- > 0;) {
            const Layer<T>& l = *layers_[i];
            offset -= l.parameter_count();
            TensorView<T> gi;
            if (i == 0) gi = grad_in;
            else gi = TensorView<T>(ws.allocate(acts[i].size()), acts[i].shape());
            span<T> gp = grad_params.empty() ? span<T>() : grad_params.subspan(offset, l.parameter_count());
            l.backward(acts[i], acts[i + 1], g, gi, gp, ws);
            g = gi;
        }
    }

    std::size_t parameter_count() const noexcept {
        std::size_t n = 0;
        for (const auto& l : layers_) n += l->parameter_count();
        return n;
    }

    /// Removes layer i (e.g. a BatchNorm1d after folding it).
    void erase(std::size_t i) {
        if (i >= layers_.size()) throw range_error("nn::Sequential::erase: no layer " + std::to_string(i));
        layers_.erase(layers_.begin() + static_cast<std::ptrdiff_t>(i));
    }

    /// Calls parameters_changed() on every layer (after loading or an optimiser step).
    void parameters_changed() { for (auto& l : layers_) l->parameters_changed(); }

private:
    std::vector<std::unique_ptr<Layer<T>>> layers_;
};

}  // namespace corespec::nn

// corespec/nn/layer.hpp - the abstract layer of the nn engine.
//
// A layer owns its parameters in one flat array (PyTorch's layouts and names,
// e.g. Dense "weight" [out, in] then "bias" [out]) and maps a batched input
// tensor to a batched output tensor:
//
//   Shape out = layer.output_shape(in.shape());        // throws shape_error
//   layer.forward(in, out_view, workspace);            // const, no allocation
//   layer.backward(in, out, grad_out, grad_in, grad_params, workspace);
//
// forward is const and keeps nothing: backward receives the forward's input
// and output again (that is all any layer here needs; what is cheaper to
// recompute, e.g. im2col columns or a dropout mask, is recomputed).
// Parameter gradients go to a caller-provided flat buffer laid out exactly as
// parameters() and are *accumulated* (+=), so a trainer can sum over
// micro-batches or threads and zero when it chooses.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/nn/tensor.hpp"
#include "corespec/nn/workspace.hpp"

namespace corespec::nn {

/// One named parameter inside a layer's flat parameter array.
struct ParameterInfo {
    std::string name;       ///< PyTorch's name: "weight", "bias", "running_mean", ...
    Shape shape;            ///< PyTorch's layout, no batch dimension
    std::size_t offset = 0; ///< first element in parameters()
    bool trainable = true;  ///< false for buffers (BatchNorm running statistics)
    std::size_t size() const noexcept { return shape.size(); }
};

template <class T>
class Layer {
public:
    using value_type = T;

    virtual ~Layer() = default;

    /// Lower-case type name as used in the architecture JSON ("dense", "conv1d", ...).
    virtual std::string type() const = 0;

    /// The output shape (batch first) for an input shape (batch first).
    /// Throws shape_error when the input does not fit the layer.
    virtual Shape output_shape(const Shape& input) const = 0;

    /// out = layer(in) for every sample of the batch. `out` must have
    /// output_shape(in.shape()) (checked: shape_error). Scratch comes from `ws`;
    /// in steady state nothing is allocated. Safe to call concurrently on one
    /// layer with different workspaces.
    virtual void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const = 0;

    /// Backward pass of the forward that mapped `in` to `out`:
    ///   grad_in      = d loss / d in   (overwritten; skipped if grad_in.empty())
    ///   grad_params += d loss / d parameters, laid out as parameters()
    ///                 (skipped if grad_params.empty(); size parameter_count() otherwise)
    /// Throws unsupported_error when the layer has no backward (has_backward()).
    virtual void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out,
                          TensorView<T> grad_in, span<T> grad_params, Workspace<T>& ws) const {
        (void)in, (void)out, (void)grad_out, (void)grad_in, (void)grad_params, (void)ws;
        throw unsupported_error("nn::" + type() + ": backward is not implemented");
    }
    virtual bool has_backward() const noexcept { return false; }

    /// Whether forward's output is its input's data unchanged (under
    /// output_shape): then a chain skips the layer instead of copying. True for
    /// Flatten and Reshape; for Dropout outside training.
    virtual bool passes_through(bool training) const noexcept { (void)training; return false; }

    /// The layer's description (type and hyper-parameters, no weights) as
    /// JSON; layer_from_config (layers/registry.hpp) rebuilds the layer.
    virtual nlohmann::json config() const = 0;

    /// A deep copy (parameters included).
    virtual std::unique_ptr<Layer> clone() const = 0;

    // --- parameters -------------------------------------------------------
    const std::vector<ParameterInfo>& parameter_info() const noexcept { return info_; }
    std::size_t parameter_count() const noexcept { return params_.size(); }
    span<T> parameters() noexcept { return span<T>(params_.data(), params_.size()); }
    span<const T> parameters() const noexcept { return span<const T>(params_.data(), params_.size()); }

    /// The parameter called `name` (throws value_error if there is none).
    span<T> parameter(const std::string& name) { return span<T>(params_.data() + find(name).offset, find(name).size()); }
    span<const T> parameter(const std::string& name) const {
        return span<const T>(params_.data() + find(name).offset, find(name).size());
    }
    const ParameterInfo& find(const std::string& name) const {
        for (const ParameterInfo& p : info_)
            if (p.name == name) return p;
        throw value_error("nn::" + type() + ": no parameter '" + name + "'");
    }

    // --- statistics that training updates outside forward -------------------
    // (BatchNorm1d's running mean and variance: forward is const and shared
    // by threads, so a trainer sums each thread's moments and updates once
    // per batch; see train/running_stats.hpp.)

    /// Size of the moment accumulator; 0 for layers without such statistics.
    virtual std::size_t moments_size() const noexcept { return 0; }
    /// Adds the moments of `in` (this layer's input in a training forward, or
    /// a batch slice of it) to acc (size moments_size()).
    virtual void accumulate_moments(ConstTensorView<T> in, span<double> acc) const { (void)in, (void)acc; }
    /// Updates the statistics from the summed moments of a whole batch.
    virtual void update_running_statistics(span<const double> acc) { (void)acc; }

    /// Must be called after parameters were written through parameters() /
    /// parameter() (loader, optimiser step): layers refresh derived data such
    /// as packed weight panels here. Not thread-safe with forward.
    virtual void parameters_changed() {}

protected:
    Layer() = default;
    Layer(const Layer&) = default;
    Layer& operator=(const Layer&) = default;

    /// Appends a zero-initialised parameter; returns its offset.
    std::size_t declare_parameter(std::string name, Shape shape, bool trainable = true) {
        ParameterInfo p{std::move(name), shape, params_.size(), trainable};
        params_.resize(params_.size() + shape.size(), T(0));
        info_.push_back(std::move(p));
        return info_.back().offset;
    }

    /// Throws shape_error unless `out` has the shape the layer produces for `in`.
    void check_output(ConstTensorView<T> in, const TensorView<T>& out) const {
        Shape want = output_shape(in.shape());
        if (want != out.shape()) throw shape_error("nn::" + type() + " output", want.to_vector(), out.shape().to_vector());
    }

    std::vector<T> params_;
    std::vector<ParameterInfo> info_;
};

}  // namespace corespec::nn

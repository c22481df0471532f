// corespec/nn/layers/registry.hpp - rebuild a layer from its config() JSON.
//
// The inverse of Layer::config(): {"type": "dense", "in_features": 702, ...}
// -> a layer with zero (or default) parameters, ready for a weight loader.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/block_dense.hpp"
#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/norm.hpp"
#include "corespec/nn/layers/pool.hpp"
#include "corespec/nn/layers/shape.hpp"

namespace corespec::nn {

namespace detail {

inline const nlohmann::json& field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) throw value_error("nn::layer_from_config: '" + j.value("type", std::string("?")) + "' needs \"" + key + "\"");
    return *it;
}
inline std::size_t size_field(const nlohmann::json& j, const char* key) {
    const auto& v = field(j, key);
    if (!v.is_number_integer() || v.get<long long>() < 0)
        throw value_error(std::string("nn::layer_from_config: \"") + key + "\" must be a non-negative integer");
    return v.get<std::size_t>();
}
inline std::size_t size_or(const nlohmann::json& j, const char* key, std::size_t fallback) {
    return j.contains(key) ? size_field(j, key) : fallback;
}
inline double number_or(const nlohmann::json& j, const char* key, double fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_number()) throw value_error(std::string("nn::layer_from_config: \"") + key + "\" must be a number");
    return j[key].get<double>();
}
inline bool bool_or(const nlohmann::json& j, const char* key, bool fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_boolean()) throw value_error(std::string("nn::layer_from_config: \"") + key + "\" must be a boolean");
    return j[key].get<bool>();
}
inline Activation activation_field(const nlohmann::json& j) {
    if (!j.contains("activation")) return Activation::identity();
    if (!j["activation"].is_string()) throw value_error("nn::layer_from_config: \"activation\" must be a string");
    Activation a = Activation::from_name(j["activation"].get<std::string>());
    if (a.has_parameter()) a.alpha = number_or(j, "activation_alpha", a.kind == Activation::Kind::elu ? 1.0 : 0.01);
    return a;
}

}  // namespace detail

/// The layer described by `j` (see docs/nn.md for every type's fields).
/// Throws value_error for an unknown type or missing / malformed fields.
template <class T>
std::unique_ptr<Layer<T>> layer_from_config(const nlohmann::json& j) {
    using namespace detail;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw value_error("nn::layer_from_config: expected an object with a string \"type\"");
    const std::string type = j["type"].get<std::string>();
    if (type == "dense")
        return std::make_unique<Dense<T>>(size_field(j, "in_features"), size_field(j, "out_features"), activation_field(j),
                                          bool_or(j, "bias", true));
    if (type == "block_dense")
        return std::make_unique<BlockDense<T>>(BlockDense<T>::blocks_from_json(field(j, "blocks"), "nn::layer_from_config: block_dense"),
                                               bool_or(j, "bias", true));
    if (type == "conv1d")
        return std::make_unique<Conv1D<T>>(size_field(j, "in_channels"), size_field(j, "out_channels"),
                                           size_field(j, "kernel_size"), size_or(j, "stride", 1),
                                           j.contains("padding") ? Padding::from_json(j["padding"]) : Padding::valid(),
                                           size_or(j, "dilation", 1), size_or(j, "groups", 1), activation_field(j),
                                           bool_or(j, "bias", true));
    if (type == "conv_transpose1d")
        return std::make_unique<ConvTranspose1D<T>>(size_field(j, "in_channels"), size_field(j, "out_channels"),
                                                    size_field(j, "kernel_size"), size_or(j, "stride", 1),
                                                    size_or(j, "padding", 0), size_or(j, "output_padding", 0),
                                                    size_or(j, "dilation", 1), size_or(j, "groups", 1),
                                                    activation_field(j), bool_or(j, "bias", true));
    if (type == "batch_norm1d")
        return std::make_unique<BatchNorm1d<T>>(size_field(j, "num_features"), number_or(j, "eps", 1e-5),
                                                number_or(j, "momentum", 0.1));
    if (type == "layer_norm")
        return std::make_unique<LayerNorm<T>>(size_field(j, "normalized_shape"), number_or(j, "eps", 1e-5),
                                              bool_or(j, "elementwise_affine", true));
    if (type == "max_pool1d")
        return std::make_unique<MaxPool1d<T>>(size_field(j, "kernel_size"), size_or(j, "stride", 0), size_or(j, "padding", 0));
    if (type == "avg_pool1d")
        return std::make_unique<AvgPool1d<T>>(size_field(j, "kernel_size"), size_or(j, "stride", 0), size_or(j, "padding", 0));
    if (type == "global_avg_pool1d") return std::make_unique<GlobalAvgPool1d<T>>();
    if (type == "flatten") return std::make_unique<Flatten<T>>();
    if (type == "reshape") {
        const auto& s = field(j, "shape");
        if (!s.is_array()) throw value_error("nn::layer_from_config: reshape \"shape\" must be an array");
        std::vector<std::size_t> dims;
        for (const auto& d : s) {
            if (!d.is_number_integer() || d.get<long long>() <= 0) throw value_error("nn::layer_from_config: reshape dimensions must be positive integers");
            dims.push_back(d.get<std::size_t>());
        }
        return std::make_unique<Reshape<T>>(Shape(dims));
    }
    if (type == "dropout") return std::make_unique<Dropout<T>>(number_or(j, "p", 0.5));
    if (type == "softmax") return std::make_unique<Softmax<T>>();
    if (type == "prelu") return std::make_unique<PReLU<T>>(size_or(j, "num_parameters", 1), number_or(j, "init", 0.25));
    // element-wise activations by name
    Activation a;
    try {
        a = Activation::from_name(type);
    } catch (const value_error&) {
        throw value_error("nn::layer_from_config: unknown layer type '" + type + "'");
    }
    if (a.has_parameter()) a.alpha = number_or(j, "alpha", a.kind == Activation::Kind::elu ? 1.0 : 0.01);
    return std::make_unique<ActivationLayer<T>>(a);
}

}  // namespace corespec::nn

// corespec/nn/models/builders.hpp - Sequential <-> JSON, BatchNorm folding.
#pragma once

#include <nlohmann/json.hpp>

#include "corespec/nn/layers/registry.hpp"
#include "corespec/nn/sequential.hpp"

namespace corespec::nn {

/// {"type": "sequential", "layers": [layer configs...]}
template <class T>
nlohmann::json sequential_config(const Sequential<T>& m) {
    nlohmann::json layers = nlohmann::json::array();
    for (std::size_t i = 0; i < m.size(); ++i) layers.push_back(m.layer(i).config());
    return {{"type", "sequential"}, {"layers", layers}};
}

/// The inverse of sequential_config (parameters zero / default). Throws
/// value_error (not a sequential object), parse_error (a layer).
template <class T>
Sequential<T> sequential_from_config(const nlohmann::json& j) {
    if (!j.is_object() || j.value("type", std::string()) != "sequential" || !j.contains("layers") || !j["layers"].is_array())
        throw value_error("nn::sequential_from_config: expected {\"type\": \"sequential\", \"layers\": [...]}");
    Sequential<T> m;
    for (const auto& l : j["layers"]) m.add(layer_from_config<T>(l));
    return m;
}

/// Folds every BatchNorm1d that follows a Dense or Conv1D (with bias and no
/// activation) into it and removes it; returns how many were folded.
template <class T>
std::size_t fold_batch_norms(Sequential<T>& m) {
    std::size_t folded = 0;
    for (std::size_t i = 1; i < m.size();) {
        auto* bn = dynamic_cast<const BatchNorm1d<T>*>(&m.layer(i));
        if (bn && fold_batch_norm<T>(m.layer(i - 1), *bn)) {
            m.erase(i);
            ++folded;
        } else {
            ++i;
        }
    }
    return folded;
}

}  // namespace corespec::nn

// corespec/nn/model_spec.hpp - the architecture JSON of a corespec model file,
// parsed and validated (docs/model_format.md describes the schema).
//
// It turns a JSON text into a ModelSpec whose every hyper-parameter has been
// checked (types, ranges, consistency such as channels divisible by groups)
// by its layer type in layers/registry.hpp, and which can say, for each
// layer, the exact shape of every parameter tensor it needs. The loader
// (serialize.hpp) compares those shapes with the safetensors file before it
// constructs a layer, so a hostile file can never make it allocate more than
// the file itself holds.
//
// Errors are parse_error(source, location, reason) with the JSON path of the
// offending value as location ("graph.layers[3].kernel_size").
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/nn/json_input.hpp"
#include "corespec/nn/layers/registry.hpp"

namespace corespec::nn {

/// A chain of layers.
struct SequentialSpec {
    std::vector<LayerSpec> layers;
};

/// A whole model file's architecture.
struct ModelSpec {
    enum class Kind { sequential, vae, multi_head };

    std::string dtype;                      ///< "float32" or "float64": the dtype of every parameter tensor
    std::vector<std::size_t> input_shape;   ///< per sample (no batch); empty when the file does not say
    Kind kind = Kind::sequential;
    SequentialSpec sequential;              ///< kind == sequential
    SequentialSpec encoder, mean, logvar, decoder;  ///< kind == vae
    SequentialSpec trunk;                   ///< kind == multi_head
    std::vector<std::pair<std::string, SequentialSpec>> heads;  ///< kind == multi_head, in output order
    bool has_selftest = false;
    std::string selftest_input, selftest_output;  ///< tensor names
    double selftest_rtol = 0.0;             ///< 0: the loader's default for the scalar type
    nlohmann::json json;                    ///< the document as read

    /// Every sequential part, with its JSON path ("graph", "graph.encoder", ...).
    std::vector<std::pair<std::string, const SequentialSpec*>> parts() const {
        std::vector<std::pair<std::string, const SequentialSpec*>> out;
        switch (kind) {
            case Kind::sequential: out.push_back({"graph", &sequential}); break;
            case Kind::vae:
                out.push_back({"graph.encoder", &encoder});
                out.push_back({"graph.mean", &mean});
                out.push_back({"graph.logvar", &logvar});
                out.push_back({"graph.decoder", &decoder});
                break;
            case Kind::multi_head:
                out.push_back({"graph.trunk", &trunk});
                for (const auto& h : heads) out.push_back({"graph.heads." + h.first, &h.second});
                break;
        }
        return out;
    }
};

/// The format name and the newest version this reader understands.
inline constexpr const char* model_format_name = "corespec.nn";
inline constexpr int model_format_version = 1;
/// The safetensors __metadata__ key holding the architecture JSON.
inline constexpr const char* model_metadata_key = "corespec.model";

namespace detail {

class SpecParser : public SpecReader {
public:
    using SpecReader::SpecReader;

    LayerSpec layer(const nlohmann::json& in, const std::string& where, const std::string& default_prefix) const;
    /// `prefix` starts the default tensor names of its layers' parameters
    /// ("" for the graph, "encoder.", "heads.<name>.", ...).
    SequentialSpec sequential(const nlohmann::json& in, const std::string& where, const std::string& prefix) const;
    ModelSpec model(const nlohmann::json& doc) const;
};

inline LayerSpec SpecParser::layer(const nlohmann::json& in, const std::string& where,
                                   const std::string& default_prefix) const {
    return read_layer_spec(*this, in, where, default_prefix);
}

inline SequentialSpec SpecParser::sequential(const nlohmann::json& in, const std::string& where,
                                             const std::string& prefix) const {
    if (!in.is_object()) fail(where, "expected an object {\"type\": \"sequential\", \"layers\": [...]}");
    const nlohmann::json& t = member(in, where, "type");
    if (!t.is_string() || t.get<std::string>() != "sequential") fail(where + ".type", "expected \"sequential\"");
    const nlohmann::json& layers = member(in, where, "layers");
    if (!layers.is_array()) fail(where + ".layers", "expected an array");
    SequentialSpec s;
    for (std::size_t i = 0; i < layers.size(); ++i)
        s.layers.push_back(layer(layers[i], where + ".layers[" + std::to_string(i) + "]", prefix + std::to_string(i) + "."));
    return s;
}

inline ModelSpec SpecParser::model(const nlohmann::json& doc) const {
    if (!doc.is_object()) fail("(root)", "the architecture must be a JSON object");
    ModelSpec m;
    m.json = doc;
    const nlohmann::json& format = member(doc, "(root)", "format");
    if (!format.is_string() || format.get<std::string>() != model_format_name)
        fail("format", std::string("expected \"") + model_format_name + "\"");
    const nlohmann::json& version = member(doc, "(root)", "version");
    if (!version.is_number_integer() || version.get<std::int64_t>() < 1) fail("version", "expected a positive integer");
    if (version.get<std::int64_t>() > model_format_version)
        throw unsupported_error(source() + ": model format version " + version.dump() + " is newer than this reader (" +
                                std::to_string(model_format_version) + ")");
    const nlohmann::json& dtype = member(doc, "(root)", "dtype");
    if (!dtype.is_string() || (dtype.get<std::string>() != "float32" && dtype.get<std::string>() != "float64"))
        fail("dtype", "expected \"float32\" or \"float64\"");
    m.dtype = dtype.get<std::string>();

    if (const auto s = doc.find("input_shape"); s != doc.end()) {
        if (!s->is_array() || s->empty() || s->size() > 2) fail("input_shape", "expected 1 or 2 dimensions (no batch)");
        for (std::size_t i = 0; i < s->size(); ++i)
            m.input_shape.push_back(static_cast<std::size_t>(integer((*s)[i], "input_shape[" + std::to_string(i) + "]", 1, max_features)));
    }

    const nlohmann::json& g = member(doc, "(root)", "graph");
    if (!g.is_object()) fail("graph", "expected an object");
    const nlohmann::json& kind = member(g, "graph", "type");
    const std::string k = kind.is_string() ? kind.get<std::string>() : "";
    if (k == "sequential") {
        m.kind = ModelSpec::Kind::sequential;
        m.sequential = sequential(g, "graph", "");
    } else if (k == "vae") {
        m.kind = ModelSpec::Kind::vae;
        m.encoder = sequential(member(g, "graph", "encoder"), "graph.encoder", "encoder.");
        m.mean = sequential(member(g, "graph", "mean"), "graph.mean", "mean.");
        m.logvar = sequential(member(g, "graph", "logvar"), "graph.logvar", "logvar.");
        m.decoder = sequential(member(g, "graph", "decoder"), "graph.decoder", "decoder.");
    } else if (k == "multi_head") {
        m.kind = ModelSpec::Kind::multi_head;
        m.trunk = sequential(member(g, "graph", "trunk"), "graph.trunk", "trunk.");
        const nlohmann::json& heads = member(g, "graph", "heads");
        if (!heads.is_array() || heads.empty()) fail("graph.heads", "expected a non-empty array of heads");
        for (std::size_t i = 0; i < heads.size(); ++i) {
            const std::string where = "graph.heads[" + std::to_string(i) + "]";
            if (!heads[i].is_object()) fail(where, "expected an object");
            const nlohmann::json& name = member(heads[i], where, "name");
            if (!name.is_string() || name.get_ref<const std::string&>().empty()) fail(where + ".name", "expected a name");
            for (const auto& h : m.heads)
                if (h.first == name.get<std::string>()) fail(where + ".name", "duplicate head name");
            m.heads.push_back({name.get<std::string>(), sequential(heads[i], where, "heads." + name.get<std::string>() + ".")});
        }
    } else {
        fail("graph.type", "unknown graph type " + kind.dump() + " (expected sequential, vae or multi_head)");
    }

    if (const auto st = doc.find("selftest"); st != doc.end()) {
        if (!st->is_object()) fail("selftest", "expected an object");
        const nlohmann::json& i = member(*st, "selftest", "input");
        const nlohmann::json& o = member(*st, "selftest", "output");
        if (!i.is_string() || !o.is_string()) fail("selftest", "input and output must be tensor names");
        m.has_selftest = true;
        m.selftest_input = i.get<std::string>();
        m.selftest_output = o.get<std::string>();
        if (const auto r = st->find("rtol"); r != st->end()) {
            m.selftest_rtol = number(*r, "selftest.rtol");
            if (!(m.selftest_rtol > 0.0 && m.selftest_rtol < 1.0)) fail("selftest.rtol", "expected a value in (0, 1)");
        }
    }
    return m;
}

}  // namespace detail

/// Validates an already parsed architecture document (same errors).
inline ModelSpec model_spec_from_json(const nlohmann::json& doc, const std::string& source = "<memory>") {
    try {
        return detail::SpecParser(source).model(doc);
    } catch (const nlohmann::json::exception& e) {  // a value of an unexpected JSON type
        throw parse_error(source, "(root)", std::string("malformed architecture: ") + e.what());
    }
}

/// Parses and validates an architecture JSON text. `source` names it in
/// errors. Throws parse_error (JSON syntax, or beyond JsonLimits' size and
/// nesting depth: byte offset; schema: JSON path), unsupported_error for a
/// newer format version.
inline ModelSpec parse_model_spec(std::string_view text, const std::string& source = "<memory>") {
    return model_spec_from_json(parse_bounded_json(text, source, "architecture"), source);
}

}  // namespace corespec::nn

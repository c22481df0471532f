// Hostile and awkward model files: nesting that would overflow nlohmann's
// recursive parser, oversized JSON, paths that are not readable files; and
// hand-written architectures whose parameter tensors are not named.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/nn/serialize.hpp"
#include "nn_fixtures.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::nn;
using nn_test::contains;
using nn_test::fixture;

namespace {

// The message of the corespec::error of type E that f throws ("" if none).
template <class E, class F>
std::string message_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

// 2 million '[' (the 4 MB file of the bug report) closed again.
std::string deep_json(std::size_t levels = 2000000) { return std::string(levels, '[') + std::string(levels, ']'); }

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
    const auto p = std::filesystem::temp_directory_path() / ("corespec_hostile_" + name);
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

}  // namespace

TEST_CASE("nn JSON: nesting beyond the depth limit is a parse_error before the parser runs") {
    const std::string deep = deep_json();
    const std::string m = message_of<parse_error>([&] { parse_model_spec(deep, "deep.json"); });
    CHECK(contains(m, "deep.json: offset 64: architecture nests deeper than 64 levels"));
    // The same inside an object, as a model file would be.
    const std::string in_object = "{\"format\": \"corespec.nn\", \"graph\": " + deep + "}";
    CHECK(contains(message_of<parse_error>([&] { parse_model_spec(in_object); }), "nests deeper than 64 levels"));
    // A JSON file given as the model (nn_predict / nn_explain's path).
    const auto path = temp_file("deep.json", "{\"weights\": \"w.safetensors\", \"graph\": " + deep + "}");
    CHECK(contains(message_of<parse_error>([&] { read_model_file(path.string()); }), "nests deeper than 64 levels"));
    std::filesystem::remove(path);
    // Brackets inside strings (with escaped quotes) do not count.
    const std::string quoted = "{\"description\": \"\\\"" + std::string(1000, '[') + "\", \"x\": [[1]]}";
    CHECK(parse_bounded_json(quoted, "q", "architecture").at("x")[0][0] == 1);
    // Exactly at the limit parses (to a schema error, not a depth error).
    const std::string at_limit = std::string(63, '[') + std::string(63, ']');
    CHECK(contains(message_of<parse_error>([&] { parse_model_spec("{\"a\": " + at_limit + "}"); }), "missing \"format\""));
}

TEST_CASE("nn JSON: oversized text is a parse_error naming the size and the limit") {
    JsonLimits small;
    small.max_bytes = 100;
    const std::string text(101, ' ');
    CHECK(contains(message_of<parse_error>([&] { parse_bounded_json(text, "big.json", "architecture", 0, small); }),
                   "big.json: offset 0: architecture of 101 bytes exceeds the limit of 100 bytes"));
}

TEST_CASE("nn safetensors: a deeply nested header or model metadata is a parse_error") {
    // Header JSON nested 2 million levels.
    const std::string header = "{\"__metadata__\": " + deep_json() + "}";
    std::vector<unsigned char> image(8 + header.size());
    for (std::size_t i = 0; i < 8; ++i) image[i] = static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff);
    std::copy(header.begin(), header.end(), image.begin() + 8);
    const std::string m = message_of<parse_error>([&] { SafeTensors::parse(image.data(), image.size(), "deep.safetensors"); });
    CHECK(contains(m, "deep.safetensors: offset 88: header nests deeper than 64 levels"));
    // A well-formed safetensors file whose corespec.model metadata string nests deeply.
    SafeTensors st;
    st.metadata[model_metadata_key] = "{\"graph\": " + deep_json() + "}";
    const std::vector<unsigned char> bytes = st.serialize();
    CHECK(contains(message_of<parse_error>([&] { load_model_from_memory<float>(bytes.data(), bytes.size(), "meta"); }),
                   "meta: offset 73: architecture nests deeper than 64 levels"));
}

TEST_CASE("nn model path: a directory or a missing file names the path and the reason") {
    const std::string dir = std::filesystem::temp_directory_path().string();
    CHECK(message_of<io_error>([&] { read_model_file(dir); }) == "cannot read '" + dir + "': Is a directory");
    CHECK(message_of<io_error>([&] { load_model<float>(dir); }) == "cannot read '" + dir + "': Is a directory");
    const std::string missing = dir + "/corespec_no_such_model.safetensors";
    CHECK(message_of<io_error>([&] { read_model_file(missing); }) == "cannot open '" + missing + "': No such file or directory");
    CHECK(message_of<io_error>([&] { SafeTensors::read(missing); }) == "cannot open '" + missing + "': No such file or directory");
    // An architecture JSON whose weights file is missing names that file.
    const auto arch = temp_file("arch.json", R"({"format": "corespec.nn", "version": 1, "dtype": "float32",
        "weights": "corespec_no_such_weights.safetensors",
        "graph": {"type": "sequential", "layers": [{"type": "dense", "in_features": 4, "out_features": 3}]}})");
    CHECK(contains(message_of<io_error>([&] { read_model_file(arch.string()); }), "corespec_no_such_weights.safetensors': No such file"));
    std::filesystem::remove(arch);
}

TEST_CASE("nn model spec: unnamed parameters take PyTorch's INDEX.weight / INDEX.bias names") {
    // The study-1 MLP fixture (exported from an nn.Sequential) with every
    // "params" removed loads with the same tensors: the self-test passes.
    SafeTensors st = SafeTensors::read(fixture("mlp_study1_f32.safetensors"));
    nlohmann::json doc = nlohmann::json::parse(st.metadata.at(model_metadata_key));
    std::vector<std::map<std::string, std::string>> exported;
    for (auto& layer : doc["graph"]["layers"]) {
        exported.push_back(layer.value("params", std::map<std::string, std::string>{}));
        layer.erase("params");
    }
    const ModelSpec spec = parse_model_spec(doc.dump(), "unnamed");
    REQUIRE(spec.sequential.layers.size() == exported.size());
    for (std::size_t i = 0; i < exported.size(); ++i) CHECK(spec.sequential.layers[i].params == exported[i]);
    st.metadata[model_metadata_key] = doc.dump();
    const std::vector<unsigned char> bytes = st.serialize();
    const Model<float> model = load_model_from_memory<float>(bytes.data(), bytes.size(), "unnamed");  // runs the self-test
    CHECK(model.graph().parameter_count() == 702 * 128 + 128 + 128 * 64 + 64 + 64 * 8 + 8);

    // In a VAE or multi-head graph the default carries the part's name.
    const ModelSpec heads = parse_model_spec(R"({"format": "corespec.nn", "version": 1, "dtype": "float32",
        "graph": {"type": "multi_head",
                  "trunk": {"type": "sequential", "layers": [{"type": "dense", "in_features": 4, "out_features": 3}, {"type": "relu"}]},
                  "heads": [{"name": "a", "type": "sequential",
                             "layers": [{"type": "relu"}, {"type": "dense", "in_features": 3, "out_features": 1, "bias": false}]}]}})");
    CHECK(heads.trunk.layers[0].params == std::map<std::string, std::string>{{"weight", "trunk.0.weight"}, {"bias", "trunk.0.bias"}});
    CHECK(heads.heads[0].second.layers[1].params == std::map<std::string, std::string>{{"weight", "heads.a.1.weight"}});
    // A named parameter still wins, and an unknown one is still refused.
    const ModelSpec named = parse_model_spec(R"({"format": "corespec.nn", "version": 1, "dtype": "float32", "graph": {"type": "sequential",
        "layers": [{"type": "dense", "in_features": 4, "out_features": 3, "params": {"weight": "w"}}]}})");
    CHECK(named.sequential.layers[0].params == std::map<std::string, std::string>{{"weight", "w"}, {"bias", "0.bias"}});
    CHECK(contains(message_of<parse_error>([] {
                       parse_model_spec(R"({"format": "corespec.nn", "version": 1, "dtype": "float32", "graph": {"type": "sequential",
                           "layers": [{"type": "dense", "in_features": 4, "out_features": 3, "params": {"scale": "s"}}]}})");
                   }),
                   "a dense layer has no parameter \"scale\""));
}

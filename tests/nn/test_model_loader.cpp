// The model loader and saver: round trips, the self-test, and clear
// exceptions for malformed or mismatched model files.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/models/vae.hpp"
#include "corespec/nn/serialize.hpp"
#include "nn_fixtures.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::nn;
using nn_test::contains;
using nn_test::fixture;

namespace {

// The study-1 MLP fixture with its architecture JSON edited by `edit` and
// its tensors by `edit_tensors`, as a file image.
template <class EditJson, class EditTensors>
std::vector<unsigned char> edited_mlp(EditJson edit, EditTensors edit_tensors) {
    SafeTensors st = SafeTensors::read(fixture("mlp_study1_f32.safetensors"));
    nlohmann::json doc = nlohmann::json::parse(st.metadata.at(model_metadata_key));
    edit(doc);
    st.metadata[model_metadata_key] = doc.dump();
    SafeTensors out;
    out.metadata = st.metadata;
    for (const std::string& n : st.names()) out.add(n, st.at(n));
    edit_tensors(out);
    return out.serialize();
}

auto no_tensor_edit = [](SafeTensors&) {};

template <class T = float>
Model<T> load(const std::vector<unsigned char>& bytes, LoadOptions opt = {}) {
    return load_model_from_memory<T>(bytes.data(), bytes.size(), "edited", opt);
}

// The message of the corespec::error that loading `bytes` raises.
std::string message_of(const std::vector<unsigned char>& bytes) {
    try {
        load(bytes);
    } catch (const corespec::error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("model loader: the fixture loads with its architecture") {
    const Model<float> m = load_model<float>(fixture("mlp_study1_f32.safetensors"));
    CHECK(m.kind() == ModelSpec::Kind::sequential);
    CHECK(m.input_shape() == std::vector<std::size_t>{702});
    // ReLU fused into the Dense layers, dropout kept (identity at inference).
    CHECK(m.graph().size() == 5);
    CHECK(m.graph().layer(0).type() == "dense");
    CHECK(m.output_shape(Shape{5, 702}) == Shape{5, 8});
}

TEST_CASE("model loader: malformed and mismatched files raise clear exceptions") {
    // Unknown layer type.
    {
        const auto bytes = edited_mlp([](nlohmann::json& d) { d["graph"]["layers"][1]["type"] = "swish2"; }, no_tensor_edit);
        CHECK_THROWS_AS(load(bytes), parse_error);
        CHECK(contains(message_of(bytes), "graph.layers[1].type"));
        CHECK(contains(message_of(bytes), "unknown layer type \"swish2\""));
    }
    // A hyper-parameter that disagrees with the tensor shapes.
    {
        const auto bytes = edited_mlp([](nlohmann::json& d) { d["graph"]["layers"][0]["out_features"] = 127; }, no_tensor_edit);
        CHECK_THROWS_AS(load(bytes), shape_error);
        CHECK(contains(message_of(bytes), "graph.layers[0].params.weight"));
    }
    // Layers that do not chain (128 -> 64 declared as 100 -> 64).
    {
        const auto bytes = edited_mlp(
            [](nlohmann::json& d) { d["graph"]["layers"][3]["in_features"] = 100; },
            [](SafeTensors& st) {
                std::vector<float> w(64 * 100, 0.0f);
                st.add<float>("3.weight", {64, 100}, w);
            });
        CHECK_THROWS_AS(load(bytes), shape_error);
    }
    // A missing tensor.
    {
        const auto bytes = edited_mlp([](nlohmann::json& d) { d["graph"]["layers"][0]["params"]["bias"] = "nope"; }, no_tensor_edit);
        CHECK_THROWS_AS(load(bytes), parse_error);
        CHECK(contains(message_of(bytes), "tensor 'nope' is not in the file"));
    }
    // A dtype mismatch: one F64 tensor in a float32 model.
    {
        const auto bytes = edited_mlp([](nlohmann::json&) {},
                                      [](SafeTensors& st) {
                                          std::vector<double> b(128, 0.0);
                                          st.add<double>("0.bias", {128}, b);
                                      });
        CHECK_THROWS_AS(load(bytes), parse_error);
        CHECK(contains(message_of(bytes), "dtype mismatch"));
    }
    // Missing and malformed fields, bad values, newer versions.
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d.erase("graph"); }, no_tensor_edit)), parse_error);
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d["dtype"] = "int8"; }, no_tensor_edit)), parse_error);
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d["graph"]["type"] = "graph"; }, no_tensor_edit)), parse_error);
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d["graph"]["layers"][0]["in_features"] = -702; }, no_tensor_edit)),
                    parse_error);
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d["graph"]["layers"][0]["kernel_size"] = 3; }, no_tensor_edit)),
                    parse_error);  // unknown key for a dense layer
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d["version"] = 99; }, no_tensor_edit)), unsupported_error);
    CHECK_THROWS_AS(load(edited_mlp([](nlohmann::json& d) { d["input_shape"] = {701}; }, no_tensor_edit)), shape_error);
    // Text that is not a valid architecture (the first found by fuzzing).
    CHECK_THROWS_AS(parse_model_spec("{\"format\": 1e705}"), parse_error);
    CHECK_THROWS_AS(parse_model_spec("[]"), parse_error);
    CHECK_THROWS_AS(parse_model_spec(""), parse_error);
    // Engine limits are unsupported_error, not silent approximations.
    CHECK_THROWS_AS(load(edited_mlp(
                        [](nlohmann::json& d) {
                            d["graph"]["layers"].push_back({{"type", "softplus"}, {"beta", 2.0}});
                            d.erase("selftest");
                        },
                        no_tensor_edit)),
                    unsupported_error);

    // A truncated file and a file without architecture.
    {
        auto bytes = edited_mlp([](nlohmann::json&) {}, no_tensor_edit);
        bytes.resize(bytes.size() - 100);
        CHECK_THROWS_AS(load(bytes), parse_error);
        SafeTensors plain;
        plain.add<float>("w", {2}, std::vector<float>{1, 2});
        const auto p = plain.serialize();
        CHECK(contains(message_of(p), "not a corespec model file"));
    }
    CHECK_THROWS_AS(load_model<float>(fixture("does_not_exist.safetensors")), io_error);
}

TEST_CASE("model loader: the self-test catches wrong weights") {
    const auto bytes = edited_mlp([](nlohmann::json&) {},
                                  [](SafeTensors& st) {
                                      std::vector<float> b = st.at("6.bias").to_vector<float>();  // the last Dense
                                      b[3] += 1e-3f;
                                      st.add<float>("6.bias", {b.size()}, b);
                                  });
    CHECK_THROWS_AS(load(bytes), selftest_error);
    try {
        load(bytes);
    } catch (const selftest_error& e) {
        CHECK(e.error() > e.tolerance());
        CHECK(e.tolerance() == 1e-5);
    }
    LoadOptions skip;
    skip.verify = false;
    CHECK_NOTHROW(load(bytes, skip));
    // A stored tolerance loosens the check.
    const auto loose = edited_mlp([](nlohmann::json& d) { d["selftest"]["rtol"] = 0.5; },
                                  [](SafeTensors& st) {
                                      std::vector<float> b = st.at("6.bias").to_vector<float>();
                                      b[3] += 1e-3f;
                                      st.add<float>("6.bias", {b.size()}, b);
                                  });
    CHECK_NOTHROW(load(loose));
    // Self-test tensors that do not fit the model.
    const auto misfit = edited_mlp([](nlohmann::json& d) { d["selftest"]["output"] = "selftest.input"; }, no_tensor_edit);
    CHECK_THROWS_AS(load(misfit), shape_error);
}

TEST_CASE("model loader: input of the wrong shape at run time") {
    const Model<float> m = load_model<float>(fixture("mlp_study1_f32.safetensors"));
    std::vector<float> x(2 * 701, 0.5f), y(2 * 8);
    Workspace<float> ws;
    CHECK_THROWS_AS(m.forward(ConstTensorView<float>(x.data(), Shape{2, 701}), TensorView<float>(y.data(), Shape{2, 8}), ws),
                    shape_error);
    std::vector<float> x3(2 * 702);
    CHECK_THROWS_AS(m.forward(ConstTensorView<float>(x3.data(), Shape{2, 702}), TensorView<float>(y.data(), Shape{2, 7}), ws),
                    shape_error);
    const Model<float> vae = load_model<float>(fixture("vae_study2_f32.safetensors"));
    std::vector<float> z(2 * 16), mean(2 * 16), logvar(2 * 16);
    CHECK_THROWS_AS(vae.encode(ConstTensorView<float>(x3.data(), Shape{2, 702}), TensorView<float>(mean.data(), Shape{2, 16}),
                               TensorView<float>(logvar.data(), Shape{2, 16}), ws),
                    shape_error);
    CHECK_THROWS_AS(m.decode(ConstTensorView<float>(z.data(), Shape{2, 16}), TensorView<float>(y.data(), Shape{2, 8}), ws),
                    value_error);
}

TEST_CASE_TEMPLATE("model saver: save and load give the same model", T, float, double) {
    Sequential<T> seq = make_mlp<T>({12, 9, 5}, Activation::leaky_relu(0.2), Activation::sigmoid());
    init_uniform(seq, 7);
    std::vector<T> x(3 * 12);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(std::sin(0.37 * double(i)));
    SaveOptions<T> opt;
    opt.selftest_input = ConstTensorView<T>(x.data(), Shape{3, 12});
    opt.description = "round trip";
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_saved_model.safetensors";
    save_model(seq, path.string(), opt);

    const Model<T> back = load_model<T>(path.string());  // runs the stored self-test
    CHECK(back.input_shape() == std::vector<std::size_t>{12});
    CHECK(back.spec().json.at("description") == "round trip");
    std::vector<T> y1(3 * 5), y2(3 * 5);
    Workspace<T> ws;
    seq.forward(ConstTensorView<T>(x.data(), Shape{3, 12}), TensorView<T>(y1.data(), Shape{3, 5}), ws);
    back.forward(ConstTensorView<T>(x.data(), Shape{3, 12}), TensorView<T>(y2.data(), Shape{3, 5}), ws);
    CHECK(y1 == y2);

    // A loaded model saves again to an equivalent file (VAE graph included).
    const Model<T> vae = load_model<T>(fixture(std::is_same<T, float>::value ? "vae_study2_f32.safetensors" : "vae_study2_f64.safetensors"));
    save_model(vae, path.string());
    const Model<T> vae2 = load_model<T>(path.string());
    CHECK(vae2.kind() == ModelSpec::Kind::vae);
    std::vector<T> in(2 * 240), r1(2 * 240), r2(2 * 240);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<T>(0.5 + 0.4 * std::cos(0.05 * double(i)));
    vae.forward(ConstTensorView<T>(in.data(), Shape{2, 1, 240}), TensorView<T>(r1.data(), Shape{2, 1, 240}), ws);
    vae2.forward(ConstTensorView<T>(in.data(), Shape{2, 1, 240}), TensorView<T>(r2.data(), Shape{2, 1, 240}), ws);
    CHECK(r1 == r2);
    std::filesystem::remove(path);
}

TEST_CASE("model loader: an architecture JSON file beside its weights") {
    const auto dir = std::filesystem::temp_directory_path() / "corespec_test_json_model";
    std::filesystem::create_directories(dir);
    const SafeTensors st = SafeTensors::read(fixture("dense_f64.safetensors"));
    nlohmann::json doc = nlohmann::json::parse(st.metadata.at(model_metadata_key));
    SafeTensors weights;
    for (const std::string& n : st.names()) weights.add(n, st.at(n));
    weights.write((dir / "weights.safetensors").string());
    doc["weights"] = "weights.safetensors";
    std::ofstream(dir / "model.json") << doc.dump(2);
    const Model<double> m = load_model<double>((dir / "model.json").string());  // self-test included
    CHECK(m.graph().layer(0).type() == "dense");
    doc.erase("weights");
    std::ofstream(dir / "model.json") << doc.dump(2);
    CHECK_THROWS_AS(load_model<double>((dir / "model.json").string()), parse_error);
    std::ofstream(dir / "model.json") << "{\"weights\": ";
    CHECK_THROWS_AS(load_model<double>((dir / "model.json").string()), parse_error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("model loader: a multi-head model concatenates its heads") {
    // Built from the format directly: trunk Dense 4->3 (ReLU), heads 3->2 and 3->1.
    nlohmann::json doc = {
        {"format", "corespec.nn"}, {"version", 1}, {"dtype", "float64"}, {"input_shape", {4}},
        {"graph",
         {{"type", "multi_head"},
          {"trunk", {{"type", "sequential"}, {"layers", {{{"type", "dense"}, {"in_features", 4}, {"out_features", 3}, {"params", {{"weight", "t.w"}, {"bias", "t.b"}}}},
                                                          {{"type", "relu"}}}}}},
          {"heads",
           {{{"name", "regression"}, {"type", "sequential"}, {"layers", {{{"type", "dense"}, {"in_features", 3}, {"out_features", 2}, {"bias", false}, {"params", {{"weight", "r.w"}}}}}}},
            {{"name", "labels"}, {"type", "sequential"}, {"layers", {{{"type", "dense"}, {"in_features", 3}, {"out_features", 1}, {"bias", false}, {"params", {{"weight", "c.w"}}}}, {{"type", "sigmoid"}}}}}}}}}};
    SafeTensors st;
    const std::vector<double> tw = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0}, tb = {0, 0, 0.5};
    st.add<double>("t.w", {3, 4}, tw);
    st.add<double>("t.b", {3}, tb);
    st.add<double>("r.w", {2, 3}, std::vector<double>{1, 1, 0, 0, 0, 2});
    st.add<double>("c.w", {1, 3}, std::vector<double>{0, 0, 0});
    st.metadata[model_metadata_key] = doc.dump();
    const auto bytes = st.serialize();
    const Model<double> m = load_model_from_memory<double>(bytes.data(), bytes.size());
    CHECK(m.kind() == ModelSpec::Kind::multi_head);
    const std::vector<double> x = {2, 3, 4, 5};
    std::vector<double> y(3);
    Workspace<double> ws;
    m.forward(ConstTensorView<double>(x.data(), Shape{1, 4}), TensorView<double>(y.data(), Shape{1, 3}), ws);
    // trunk: relu(2, 3, -4 + 0.5) = (2, 3, 0); heads: (5, 0) and sigmoid(0) = 0.5.
    CHECK(y == std::vector<double>{5, 0, 0.5});
    // It saves and reloads.
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_multi_head.safetensors";
    SaveOptions<double> opt;
    opt.selftest_input = ConstTensorView<double>(x.data(), Shape{1, 4});
    save_model(m, path.string(), opt);
    CHECK(load_model<double>(path.string()).kind() == ModelSpec::Kind::multi_head);
    std::filesystem::remove(path);
}

TEST_CASE("model saver: a VAE and a multi-head model built in code round trip; typed accessors") {
    Vae<float> vae = make_conv_vae<float>();
    init_uniform(vae.encoder(), 1);
    init_uniform(vae.mean_head(), 2);
    init_uniform(vae.logvar_head(), 3);
    init_uniform(vae.decoder(), 4);
    std::vector<float> x(2 * 240);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 + 0.4 * std::sin(0.03 * double(i)));
    SaveOptions<float> opt;
    opt.selftest_input = ConstTensorView<float>(x.data(), Shape{2, 1, 240});
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_engine_vae.safetensors";
    save_model(vae, path.string(), opt);
    const Model<float> m = load_model<float>(path.string());  // self-test included
    const Vae<float>& back = m;  // the same type
    CHECK(back.latent_size() == 16);
    CHECK(back.encoder().size() == vae.encoder().size());
    CHECK(back.encoder_mean().size() == vae.encoder().size() + vae.mean_head().size());
    std::vector<float> r1(x.size()), r2(x.size());
    Workspace<float> ws;
    vae.reconstruct(ConstTensorView<float>(x.data(), Shape{2, 1, 240}), TensorView<float>(r1.data(), Shape{2, 1, 240}), ws);
    back.reconstruct(ConstTensorView<float>(x.data(), Shape{2, 1, 240}), TensorView<float>(r2.data(), Shape{2, 1, 240}), ws);
    CHECK(r1 == r2);
    CHECK_THROWS_AS(m.trunk(), value_error);
    CHECK_THROWS_AS(m.graph(), value_error);
    CHECK_THROWS_AS(m.head("content"), value_error);

    Sequential<float> trunk = make_mlp<float>({6, 5});
    std::vector<Sequential<float>> heads;
    heads.push_back(make_mlp<float>({5, 2}));
    heads.push_back(make_mlp<float>({5, 3}, Activation::relu(), Activation::sigmoid()));
    init_uniform(trunk, 5);
    init_uniform(heads[0], 6);
    init_uniform(heads[1], 7);
    MultiHead<float> mh(trunk, {"content", "defects"}, heads);
    SaveOptions<float> mopt;
    mopt.input_shape = {6};
    save_model(mh, path.string(), mopt);
    const MultiHead<float> mh2 = load_model<float>(path.string());
    CHECK(mh2.head_count() == 2);
    CHECK(mh2.head_name(1) == "defects");
    CHECK(&mh2.head("defects") == &mh2.head(1));
    CHECK_THROWS_AS(mh2.head("nope"), value_error);
    CHECK_THROWS_AS(mh2.encoder(), value_error);
    CHECK_THROWS_AS(mh2.latent_size(), value_error);
    std::vector<float> in = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f}, a0(2), a1(3), b0(2), b1(3);
    const TensorView<float> oa[] = {TensorView<float>(a0.data(), Shape{1, 2}), TensorView<float>(a1.data(), Shape{1, 3})};
    const TensorView<float> ob[] = {TensorView<float>(b0.data(), Shape{1, 2}), TensorView<float>(b1.data(), Shape{1, 3})};
    mh.forward(ConstTensorView<float>(in.data(), Shape{1, 6}), span<const TensorView<float>>(oa, 2), ws);
    mh2.forward(ConstTensorView<float>(in.data(), Shape{1, 6}), span<const TensorView<float>>(ob, 2), ws);
    CHECK(a0 == b0);
    CHECK(a1 == b1);
    std::filesystem::remove(path);
}

TEST_CASE("model loader: peak activation size bounds the scratch") {
    const Model<float> vae = load_model<float>(fixture("vae_study2_f32.safetensors"));
    // The first conv: 16 channels x 120 per sample is the largest tensor.
    CHECK(vae.peak_activation_size(Shape{3, 1, 240}) == 3 * 16 * 120);
    CHECK_THROWS_AS(vae.peak_activation_size(Shape{3, 240}), shape_error);
}

TEST_CASE("nn Model::forward_parallel on the caller's pool equals forward (VAE fixture)") {
    const Model<double> model = load_model<double>(fixture("vae_study2_f64.safetensors"));
    const std::size_t batch = 45;
    std::vector<double> x(batch * 240);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5 + 0.4 * std::sin(0.013 * double(i));
    const Shape in_shape{batch, 1, 240}, out_shape = model.output_shape(in_shape);
    std::vector<double> serial(out_shape.size()), parallel(out_shape.size());
    Workspace<double> ws;
    model.forward(ConstTensorView<double>(x.data(), in_shape), TensorView<double>(serial.data(), out_shape), ws);
    corespec::ThreadPool pool(3);
    std::vector<Workspace<double>> wss(pool.size());
    for (int repeat = 0; repeat < 2; ++repeat) {  // the pool and workspaces are reused
        model.forward_parallel(ConstTensorView<double>(x.data(), in_shape), TensorView<double>(parallel.data(), out_shape),
                               corespec::span<Workspace<double>>(wss.data(), wss.size()), pool);
        CHECK(parallel == serial);
    }
}

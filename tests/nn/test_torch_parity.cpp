// Parity with PyTorch on the golden fixtures of tests/data/nn (written by
// tools/make_nn_fixtures.py): every fixture is loaded, run on its stored
// input and compared with PyTorch's stored output.
//   float32 fixtures: max relative error <= 1e-5
//   float64 fixtures: max relative error <= 1e-12
// (relative error = max |y - ref| / max |ref|, see nn::max_relative_error).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "corespec/nn/serialize.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::nn;

namespace {

std::vector<std::filesystem::path> fixtures() {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(corespec_test::source_path("tests/data/nn")))
        if (e.path().extension() == ".safetensors") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

bool is_f32(const std::filesystem::path& p) { return p.stem().string().size() > 4 && p.stem().string().substr(p.stem().string().size() - 4) == "_f32"; }

// Runs the model on the fixture's stored input; returns the error vs PyTorch.
template <class T>
double parity_error(const Model<T>& model, const SafeTensors& st) {
    const TensorData& ti = st.at("selftest.input");
    const TensorData& to = st.at("selftest.output");
    const std::vector<T> x = ti.to_vector<T>();
    const Shape in(ti.shape);
    const Shape os = model.output_shape(in);
    REQUIRE(os.to_vector() == to.shape);
    std::vector<T> y(os.size());
    Workspace<T> ws;
    model.forward(ConstTensorView<T>(x.data(), in), TensorView<T>(y.data(), os), ws);
    const std::vector<double> ref = to.to_vector<double>();
    return max_relative_error(span<const T>(y.data(), y.size()), span<const double>(ref.data(), ref.size()));
}

template <class T>
double golden_error(const std::vector<T>& y, const TensorData& ref) {
    const std::vector<double> r = ref.to_vector<double>();
    return max_relative_error(span<const T>(y.data(), y.size()), span<const double>(r.data(), r.size()));
}

}  // namespace

TEST_CASE("torch parity: every fixture within 1e-5 (float32) / 1e-12 (float64)") {
    const auto files = fixtures();
    REQUIRE(files.size() >= 60);
    double worst32 = 0, worst64 = 0;
    for (const auto& f : files) {
        CAPTURE(f.filename().string());
        const SafeTensors st = SafeTensors::read(f.string());
        LoadOptions opt;
        opt.verify = false;  // measured here instead
        double err = 0;
        try {
            if (is_f32(f)) {
                err = parity_error(load_model<float>(f.string(), opt), st);
                CHECK(err <= 1e-5);
                worst32 = std::max(worst32, err);
            } else {
                err = parity_error(load_model<double>(f.string(), opt), st);
                CHECK(err <= 1e-12);
                worst64 = std::max(worst64, err);
            }
        } catch (const corespec::error& e) {
            FAIL_CHECK(std::string(e.what()));
            continue;
        }
        std::printf("parity %-40s %.3e\n", f.filename().string().c_str(), err);
    }
    std::printf("parity worst: float32 %.3e, float64 %.3e\n", worst32, worst64);
}

TEST_CASE("torch parity: the self-test of every fixture passes at load") {
    for (const auto& f : fixtures()) {
        CAPTURE(f.filename().string());
        if (is_f32(f))
            CHECK_NOTHROW(load_model<float>(f.string()));
        else
            CHECK_NOTHROW(load_model<double>(f.string()));
    }
}

TEST_CASE_TEMPLATE("torch parity: study-2 VAE encode and decode match PyTorch", T, float, double) {
    const bool f32 = std::is_same<T, float>::value;
    const std::string file = corespec_test::source_path(std::string("tests/data/nn/vae_study2_") + (f32 ? "f32" : "f64") + ".safetensors").string();
    const double tol = f32 ? 1e-5 : 1e-12;
    const SafeTensors st = SafeTensors::read(file);
    const Model<T> vae = load_model<T>(file);
    REQUIRE(vae.kind() == ModelSpec::Kind::vae);
    CHECK(vae.input_shape() == std::vector<std::size_t>{1, 240});

    const std::vector<T> x = st.at("selftest.input").template to_vector<T>();
    const std::size_t batch = st.at("selftest.input").shape[0];
    std::vector<T> mean(batch * 16), logvar(batch * 16);
    Workspace<T> ws;
    vae.encode(ConstTensorView<T>(x.data(), Shape{batch, 1, 240}), TensorView<T>(mean.data(), Shape{batch, 16}),
               TensorView<T>(logvar.data(), Shape{batch, 16}), ws);
    const double e_mean = golden_error(mean, st.at("golden.mean"));
    const double e_logvar = golden_error(logvar, st.at("golden.logvar"));
    CHECK(e_mean <= tol);
    CHECK(e_logvar <= tol);

    const std::vector<T> z = st.at("golden.z").template to_vector<T>();
    std::vector<T> decoded(batch * 240);
    vae.decode(ConstTensorView<T>(z.data(), Shape{batch, 16}), TensorView<T>(decoded.data(), Shape{batch, 1, 240}), ws);
    const double e_dec = golden_error(decoded, st.at("golden.decoded"));
    CHECK(e_dec <= tol);
    std::printf("parity vae_study2 %s: mean %.3e, logvar %.3e, decoded %.3e\n", f32 ? "f32" : "f64", e_mean, e_logvar, e_dec);
}

TEST_CASE("torch parity: a float64 file runs as float and a float32 file as double") {
    const std::string f64 = corespec_test::source_path("tests/data/nn/mlp_study1_f64.safetensors").string();
    const std::string f32 = corespec_test::source_path("tests/data/nn/mlp_study1_f32.safetensors").string();
    // The self-test runs with the float tolerance in both cases.
    CHECK_NOTHROW(load_model<float>(f64));
    CHECK_NOTHROW(load_model<double>(f32));
    LoadOptions opt;
    opt.verify = false;
    CHECK(parity_error(load_model<float>(f64, opt), SafeTensors::read(f64)) <= 1e-5);
}

TEST_CASE("torch parity: BatchNorm folding and activation fusion do not change the result") {
    for (const char* name : {"dense_batch_norm_f64", "conv1d_batch_norm_f64"}) {
        CAPTURE(name);
        const std::string file = corespec_test::source_path(std::string("tests/data/nn/") + name + ".safetensors").string();
        const SafeTensors st = SafeTensors::read(file);
        LoadOptions folded;
        const Model<double> a = load_model<double>(file, folded);
        LoadOptions plain;
        plain.fold_batch_norm = false;
        plain.fuse_activations = false;
        const Model<double> b = load_model<double>(file, plain);
        // Folding removes the BatchNorm layer, fusion the activation.
        CHECK(a.graph().size() == 1);
        CHECK(b.graph().size() == 3);
        CHECK(parity_error(a, st) <= 1e-12);
        CHECK(parity_error(b, st) <= 1e-12);
    }
}

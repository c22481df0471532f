#include <doctest/doctest.h>

#include <vector>

#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "nn_test_support.hpp"

using namespace corespec::nn;

namespace {
struct ConvCase {
    std::size_t batch, cin, lin, cout, k, stride, dilation, groups;
    Padding pad;
};
}  // namespace

TEST_CASE_TEMPLATE("nn::Conv1D matches direct summation (stride, padding, dilation, groups)", T, float, double) {
    const std::vector<ConvCase> cases{
        {2, 1, 240, 16, 7, 2, 1, 1, Padding::same()},   {3, 16, 120, 32, 7, 2, 1, 1, Padding::same()},
        {1, 3, 17, 5, 3, 1, 1, 1, Padding::valid()},    {2, 4, 33, 6, 5, 3, 2, 2, Padding::explicit_pad(1, 4)},
        {1, 6, 19, 9, 1, 1, 1, 3, Padding::symmetric(2)}, {2, 2, 21, 4, 3, 1, 3, 1, Padding::same()},
    };
    for (auto* K : nn_test::kernel_paths<T>())
        for (const auto& c : cases) {
            const std::string path = K->name;
            CAPTURE(path);
            CAPTURE(c.cin);
            CAPTURE(c.k);
            Conv1D<T> conv(c.cin, c.cout, c.k, c.stride, c.pad, c.dilation, c.groups, Activation::identity());
            nn_test::randomize(conv, 7);
            auto x = nn_test::random_vector(c.batch * c.cin * c.lin, 8);
            auto xt = nn_test::cast<T>(x);
            Shape os = conv.output_shape(Shape{c.batch, c.cin, c.lin});
            std::vector<T> y(os.size());
            Workspace<T> ws;
            ws.kernels = K;
            conv.forward(ConstTensorView<T>(xt.data(), {c.batch, c.cin, c.lin}), TensorView<T>(y.data(), os), ws);
            auto [pl, pr] = c.pad.resolve(c.lin, c.k, c.stride, c.dilation);
            std::vector<double> w(conv.parameter("weight").begin(), conv.parameter("weight").end());
            std::vector<double> b(conv.parameter("bias").begin(), conv.parameter("bias").end());
            auto ref = nn_test::conv1d_ref(x, w, b, c.batch, c.cin, c.lin, c.cout, c.k, c.stride, pl, pr, c.dilation, c.groups);
            REQUIRE(ref.size() == y.size());
            CHECK(nn_test::max_rel_error(y, ref) < nn_test::tolerance<T>());
            if (c.pad.mode == Padding::Mode::same) CHECK(os[2] == (c.lin + c.stride - 1) / c.stride);
        }
}

TEST_CASE_TEMPLATE("nn::ConvTranspose1D matches the scatter definition", T, float, double) {
    struct TC { std::size_t batch, cin, lin, cout, k, stride, pad, opad, dil, groups; };
    const std::vector<TC> cases{{2, 64, 15, 32, 3, 2, 1, 1, 1, 1}, {1, 32, 30, 16, 7, 2, 3, 1, 1, 1},
                                {2, 4, 9, 6, 4, 3, 0, 2, 1, 2},    {1, 3, 11, 5, 3, 1, 2, 0, 2, 1},
                                {3, 16, 60, 1, 7, 2, 3, 1, 1, 1}};
    for (auto* K : nn_test::kernel_paths<T>())
        for (const auto& c : cases) {
            const std::string path = K->name;
            CAPTURE(path);
            CAPTURE(c.cin);
            ConvTranspose1D<T> conv(c.cin, c.cout, c.k, c.stride, c.pad, c.opad, c.dil, c.groups, Activation::leaky_relu(0.3));
            nn_test::randomize(conv, 9);
            auto x = nn_test::random_vector(c.batch * c.cin * c.lin, 10);
            auto xt = nn_test::cast<T>(x);
            Shape os = conv.output_shape(Shape{c.batch, c.cin, c.lin});
            std::vector<T> y(os.size());
            Workspace<T> ws;
            ws.kernels = K;
            conv.forward(ConstTensorView<T>(xt.data(), {c.batch, c.cin, c.lin}), TensorView<T>(y.data(), os), ws);
            std::vector<double> w(conv.parameter("weight").begin(), conv.parameter("weight").end());
            std::vector<double> b(conv.parameter("bias").begin(), conv.parameter("bias").end());
            auto ref = nn_test::conv_transpose1d_ref(x, w, b, c.batch, c.cin, c.lin, c.cout, c.k, c.stride, c.pad, c.opad, c.dil, c.groups);
            for (auto& v : ref) v = nn_test::act_ref(Activation::leaky_relu(0.3), v);
            REQUIRE(ref.size() == y.size());
            CHECK(nn_test::max_rel_error(y, ref) < nn_test::tolerance<T>());
        }
}

TEST_CASE("nn conv layers reject bad configurations and inputs") {
    CHECK_THROWS_AS(Conv1D<float>(3, 4, 3, 1, Padding::valid(), 1, 2), corespec::value_error);
    CHECK_THROWS_AS(Conv1D<float>(3, 4, 0), corespec::value_error);
    CHECK_THROWS_AS(ConvTranspose1D<float>(4, 4, 3, 2, 0, 2), corespec::value_error);
    Conv1D<float> c(2, 4, 5);
    CHECK_THROWS_AS(c.output_shape(Shape{1, 2, 4}), corespec::shape_error);
    CHECK_THROWS_AS(c.output_shape(Shape{1, 3, 40}), corespec::shape_error);
    CHECK_THROWS_AS(c.output_shape(Shape{1, 80}), corespec::shape_error);
    CHECK(Padding::from_json(nlohmann::json::array({1, 2})).right == 2);
    CHECK_THROWS_AS(Padding::from_json("full"), corespec::value_error);
    CHECK(c.config()["padding"] == "valid");
}

TEST_CASE("nn backward passes agree with central differences (double)") {
    SUBCASE("dense") {
        for (auto act : {Activation::identity(), Activation::tanh(), Activation::gelu(), Activation::silu(),
                         Activation::softplus(), Activation::elu(1.0), Activation::sigmoid(), Activation::gelu_tanh()}) {
            CAPTURE(act.name());
            Dense<double> d(13, 7, act);
            nn_test::randomize(d, 3);
            CHECK(nn_test::gradient_check(d, Shape{5, 13}, 4) < 1e-6);
        }
    }
    SUBCASE("conv1d") {
        Conv1D<double> c(4, 6, 3, 2, Padding::same(), 1, 2, Activation::tanh());
        nn_test::randomize(c, 5);
        CHECK(nn_test::gradient_check(c, Shape{2, 4, 11}, 6) < 1e-6);
        Conv1D<double> c2(3, 5, 4, 1, Padding::explicit_pad(2, 1), 2, 1, Activation::gelu());
        nn_test::randomize(c2, 7);
        CHECK(nn_test::gradient_check(c2, Shape{2, 3, 13}, 8) < 1e-6);
    }
    SUBCASE("conv_transpose1d") {
        ConvTranspose1D<double> c(4, 6, 3, 2, 1, 1, 1, 2, Activation::silu());
        nn_test::randomize(c, 9);
        CHECK(nn_test::gradient_check(c, Shape{2, 4, 7}, 10) < 1e-6);
        ConvTranspose1D<double> c2(3, 2, 5, 3, 2, 0, 2, 1, Activation::identity());
        nn_test::randomize(c2, 11);
        CHECK(nn_test::gradient_check(c2, Shape{1, 3, 6}, 12) < 1e-6);
    }
}

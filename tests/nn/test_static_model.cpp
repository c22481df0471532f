#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/models/static_mlp.hpp"
#include "nn_test_support.hpp"

using namespace corespec::nn;

TEST_CASE_TEMPLATE("nn compile-time MLP equals the run-time one (both kernel paths, batch 1 and many)", T, float, double) {
    auto rt = make_mlp<T>({702, 128, 64, 8}, Activation::relu(), Activation::sigmoid());
    init_uniform(rt, 11);
    auto ct = std::make_unique<StaticMlp<T, 702, 128, 64, 8>>();
    ct->load(rt);
    for (auto* K : nn_test::kernel_paths<T>()) {
        const std::string path = K->name;
        CAPTURE(path);
        for (std::size_t batch : {1u, 7u, 33u}) {
            auto x = nn_test::cast<T>(nn_test::random_vector(batch * 702, unsigned(batch), 0, 1));
            std::vector<T> y1(batch * 8), y2(batch * 8);
            Workspace<T> ws;
            ws.kernels = K;
            rt.forward(ConstTensorView<T>(x.data(), {batch, 702}), TensorView<T>(y1.data(), {batch, 8}), ws);
            ct->forward(ConstTensorView<T>(x.data(), {batch, 702}), TensorView<T>(y2.data(), {batch, 8}), ws);
            CHECK(y1 == y2);  // same kernels, same order of operations: bit-identical
        }
    }
    auto wrong = make_mlp<T>({702, 100, 64, 8});
    CHECK_THROWS_AS(ct->load(wrong), corespec::shape_error);
    auto shallow = make_mlp<T>({702, 8});
    CHECK_THROWS_AS(ct->load(shallow), corespec::shape_error);
}

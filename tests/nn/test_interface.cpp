#include <doctest/doctest.h>

#include <cstdint>

#include "corespec/nn/sequential.hpp"

using namespace corespec::nn;

TEST_CASE("nn::Shape and TensorView basics") {
    Shape s{4, 3, 5};
    CHECK(s.rank() == 3);
    CHECK(s.size() == 60);
    CHECK(s.drop_batch() == Shape{3, 5});
    CHECK(s.drop_batch().with_batch(7) == Shape{7, 3, 5});
    CHECK_THROWS_AS(Shape({1, 2, 3, 4}), corespec::value_error);
    std::vector<float> buf(60);
    TensorView<float> t(buf.data(), s);
    CHECK(t.batch() == 4);
    CHECK(t.sample_size() == 15);
    CHECK(t.sample(2) == buf.data() + 30);
    CHECK(t.batch_slice(1, 2).shape() == Shape{2, 3, 5});
    CHECK_THROWS_AS(t.reshaped(Shape{4, 16}), corespec::shape_error);
    ConstTensorView<float> c = t;
    CHECK(c.data() == buf.data());
}

TEST_CASE("nn::Workspace reuses its chunks and frames release in LIFO order") {
    Workspace<double> ws;
    double* a;
    {
        Workspace<double>::Frame f(ws);
        a = ws.allocate(100);
        double* b = ws.allocate(1000);
        CHECK(reinterpret_cast<std::uintptr_t>(a) % 64 == 0);
        CHECK(reinterpret_cast<std::uintptr_t>(b) % 64 == 0);
        CHECK(b != a);
    }
    std::size_t cap = ws.capacity();
    {
        Workspace<double>::Frame f(ws);
        CHECK(ws.allocate(100) == a);
        ws.allocate(1000);
    }
    CHECK(ws.capacity() == cap);
}

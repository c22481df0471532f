// corespec/nn/models/static_mlp.hpp - a compile-time MLP: layer sizes are
// template parameters, weights live inside the object (no pointers to chase,
// no shape checks at run time), and the same packed GEMM kernels run it.
//
//   auto m = std::make_unique<StaticMlp<float, 702, 128, 64, 8>>();  // ~400 kB: heap, not stack
//   m->load(runtime_model);          // copies weights + activations, checks sizes
//   m->forward(x, y, batch, ws);     // [batch, 702] -> [batch, 8]
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <utility>

#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/sequential.hpp"

namespace corespec::nn {

/// One Dense layer with compile-time sizes.
template <class T, std::size_t In, std::size_t Out>
struct StaticDense {
    static_assert(In > 0 && Out > 0, "StaticDense: sizes must be positive");
    static constexpr std::size_t in_features = In, out_features = Out;

    alignas(64) std::array<T, kernels::packed_size<T>(In, Out)> packed{};
    std::array<T, Out> bias{};
    Activation act{};

    /// Copies a run-time Dense (throws shape_error when its sizes differ).
    void load(const Dense<T>& d) {
        if (d.in_features() != In || d.out_features() != Out)
            throw shape_error("nn::StaticDense::load", {Out, In}, {d.out_features(), d.in_features()});
        kernels::pack_b<T>(In, Out, d.parameter("weight").data(), 1, static_cast<std::ptrdiff_t>(In), packed.data());
        bias.fill(T(0));
        if (d.has_bias()) {
            auto b = d.parameter("bias");
            for (std::size_t i = 0; i < Out; ++i) bias[i] = b[i];
        }
        act = d.activation();
    }

    void forward(const T* x, T* y, std::size_t batch, const kernels::KernelTable<T>& K) const noexcept {
        kernels::GemmArgs<T> a;
        a.m = batch, a.n = Out, a.k = In;
        a.a = x, a.a_rs = static_cast<std::ptrdiff_t>(In), a.a_cs = 1;
        a.b_packed = packed.data();
        a.c = y, a.c_rs = static_cast<std::ptrdiff_t>(Out), a.c_cs = 1;
        a.bias_col = bias.data();
        a.act = act;
        K.gemm(a);
    }
};

namespace detail {
template <class T, std::size_t... S>
struct StaticLayers;
template <class T, std::size_t A, std::size_t B>
struct StaticLayers<T, A, B> {
    using type = std::tuple<StaticDense<T, A, B>>;
};
template <class T, std::size_t A, std::size_t B, std::size_t C, std::size_t... R>
struct StaticLayers<T, A, B, C, R...> {
    using type = decltype(std::tuple_cat(std::declval<std::tuple<StaticDense<T, A, B>>>(),
                                         std::declval<typename StaticLayers<T, B, C, R...>::type>()));
};
template <std::size_t... S>
constexpr std::size_t nth(std::size_t i) noexcept {
    constexpr std::size_t all[] = {S...};
    return all[i];
}
template <std::size_t... S>
constexpr std::size_t max_of() noexcept {
    std::size_t m = 0;
    ((m = S > m ? S : m), ...);
    return m;
}
}  // namespace detail

/// MLP Sizes[0] -> Sizes[1] -> ... (at least two sizes).
template <class T, std::size_t... Sizes>
class StaticMlp {
    static_assert(sizeof...(Sizes) >= 2, "StaticMlp needs an input and an output size");
    using Layers = typename detail::StaticLayers<T, Sizes...>::type;
    static constexpr std::size_t depth = sizeof...(Sizes) - 1;

public:
    static constexpr std::size_t in_features = detail::nth<Sizes...>(0);
    static constexpr std::size_t out_features = detail::nth<Sizes...>(sizeof...(Sizes) - 1);
    static constexpr std::size_t max_width = detail::max_of<Sizes...>();

    /// Copies a run-time model made of exactly these Dense layers (e.g. from
    /// make_mlp or a model file). Throws shape_error / value_error otherwise.
    void load(const Sequential<T>& m) {
        if (m.size() != depth) throw shape_error("nn::StaticMlp::load layers", {depth}, {m.size()});
        load_layers(m, std::make_index_sequence<depth>{});
    }

    /// y[batch, out] = model(x[batch, in]); intermediate activations come from
    /// `ws` (batch 1 uses the stack). No allocation in steady state.
    void forward(const T* x, T* y, std::size_t batch, Workspace<T>& ws) const {
        const auto& K = kernels::kernels_of(ws);
        if (batch == 1) {
            alignas(64) T a[max_width], b[max_width];
            run(x, y, 1, a, b, K, std::make_index_sequence<depth>{});
            return;
        }
        typename Workspace<T>::Frame frame(ws);
        T* a = ws.allocate(batch * max_width);
        T* b = ws.allocate(batch * max_width);
        run(x, y, batch, a, b, K, std::make_index_sequence<depth>{});
    }

    /// Tensor form with shape checks (throws shape_error).
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const {
        if (in.rank() != 2 || in.shape()[1] != in_features)
            throw shape_error("nn::StaticMlp input", {in.batch(), in_features}, in.shape().to_vector());
        if (out.shape() != Shape{in.batch(), out_features})
            throw shape_error("nn::StaticMlp output", {in.batch(), out_features}, out.shape().to_vector());
        forward(in.data(), out.data(), in.batch(), ws);
    }

private:
    template <std::size_t... I>
    void load_layers(const Sequential<T>& m, std::index_sequence<I...>) {
        auto dense = [&](std::size_t i) -> const Dense<T>& {
            auto* d = dynamic_cast<const Dense<T>*>(&m.layer(i));
            if (!d) throw value_error("nn::StaticMlp::load: layer " + std::to_string(i) + " is '" + m.layer(i).type() + "', not dense");
            return *d;
        };
        (std::get<I>(layers_).load(dense(I)), ...);
    }

    template <std::size_t... I>
    void run(const T* x, T* y, std::size_t batch, T* a, T* b, const kernels::KernelTable<T>& K,
             std::index_sequence<I...>) const noexcept {
        const T* cur = x;
        T* bufs[2] = {a, b};
        ((std::get<I>(layers_).forward(cur, I + 1 == depth ? y : bufs[I % 2], batch, K), cur = bufs[I % 2]), ...);
    }

    Layers layers_;
};

}  // namespace corespec::nn

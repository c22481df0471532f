// corespec/nn/kernels/gemm.hpp - a packed, register-blocked GEMM with a fused
// epilogue (bias per column or per row, activation), the engine's workhorse.
//
//   C(i, j) = act( sum_k A(i, k) B(k, j) + bias_col[j] + bias_row[i] )    or
//   C(i, j) += sum_k A(i, k) B(k, j)                                       (accumulate)
//
// A is read in place through strides (A(i, k) = a[i * a_rs + k * a_cs]). B is
// packed once into panels of NR = 64 / sizeof(T) columns (one cache line per
// k; 16 floats, 8 doubles), zero-padded: the same packing serves every
// architecture, so layers can pack their weights at load time without
// knowing which kernels will run. The micro-kernel keeps an MR x NR tile of C
// in registers (6 x 16 floats on AVX2: 12 accumulators + 2 B vectors + 1
// broadcast of the 16 ymm registers); batch 1 takes a GEMV path that runs 4
// panels at once so that enough independent FMA chains hide the latency.
#pragma once

#include <algorithm>
#include <cstddef>

#include "corespec/nn/kernels/activation.hpp"
#include "corespec/nn/kernels/simd.hpp"

namespace corespec::nn::kernels {

/// Columns per packed B panel.
template <class T>
constexpr std::size_t panel_width = 64 / sizeof(T);

/// Elements of a packed k x n matrix.
template <class T>
constexpr std::size_t packed_size(std::size_t k, std::size_t n) noexcept {
    return (n + panel_width<T> - 1) / panel_width<T> * panel_width<T> * k;
}

/// Packs B(k, j) = b[k * rs + j * cs] (k < kdim, j < n) into panels:
/// out[(p * kdim + k) * NR + jj] = B(k, p * NR + jj), zero past n.
template <class T>
void pack_b(std::size_t kdim, std::size_t n, const T* b, std::ptrdiff_t rs, std::ptrdiff_t cs, T* out) noexcept {
    constexpr std::size_t NR = panel_width<T>;
    for (std::size_t p = 0; p * NR < n; ++p) {
        std::size_t nr = std::min(NR, n - p * NR);
        T* dst = out + p * kdim * NR;
        const T* src = b + static_cast<std::ptrdiff_t>(p * NR) * cs;
        for (std::size_t k = 0; k < kdim; ++k, dst += NR) {
            const T* s = src + static_cast<std::ptrdiff_t>(k) * rs;
            std::size_t j = 0;
            if (cs == 1)
                for (; j < nr; ++j) dst[j] = s[j];
            else
                for (; j < nr; ++j) dst[j] = s[static_cast<std::ptrdiff_t>(j) * cs];
            for (; j < NR; ++j) dst[j] = T(0);
        }
    }
}

template <class T>
struct GemmArgs {
    std::size_t m = 0, n = 0, k = 0;
    const T* a = nullptr;
    std::ptrdiff_t a_rs = 0, a_cs = 1;  ///< A(i, k) = a[i * a_rs + k * a_cs]
    const T* b_packed = nullptr;        ///< pack_b layout, packed_size(k, n) elements
    /// Alternative to b_packed: row k of panel p is the NR contiguous values
    /// at b_rows[p * k + k] (unaligned; columns past n are read but unused).
    /// Convolutions point these into their (padded, stride-split) input
    /// instead of copying an im2col matrix.
    const T* const* b_rows = nullptr;
    T* c = nullptr;
    std::ptrdiff_t c_rs = 0, c_cs = 1;  ///< C(i, j) = c[i * c_rs + j * c_cs]
    const T* bias_col = nullptr;        ///< n values added to every row, or null
    const T* bias_row = nullptr;        ///< m values added to every column, or null
    Activation act{};
    bool accumulate = false;            ///< C += A B (bias and act ignored)
};

namespace detail {

template <class T, class Arch>
constexpr std::size_t vectors_per_panel = panel_width<T> / Simd<T, Arch>::width;

/// Rows per register tile: about 12 accumulators (16 registers on AVX2/SSE/NEON).
template <class T, class Arch>
constexpr std::size_t max_rows = vectors_per_panel<T, Arch> >= 12 ? 1 : 12 / vectors_per_panel<T, Arch>;

// The inner loop: measure before changing (bench_nn).
template <class T, class Arch, std::size_t MR>
inline void micro_kernel(std::size_t kdim, const T* a, std::ptrdiff_t a_rs, std::ptrdiff_t a_cs, const T* bp,
                         T* tile) noexcept {
    using S = Simd<T, Arch>;
    using V = typename S::V;
    constexpr std::size_t W = S::width, NV = vectors_per_panel<T, Arch>, NR = panel_width<T>;
    V acc[MR][NV];
    for (std::size_t i = 0; i < MR; ++i)
        for (std::size_t v = 0; v < NV; ++v) acc[i][v] = S::set(T(0));
    const T* ar[MR];
    for (std::size_t i = 0; i < MR; ++i) ar[i] = a + static_cast<std::ptrdiff_t>(i) * a_rs;
    if (a_cs == 1) {
        for (std::size_t k = 0; k < kdim; ++k, bp += NR) {
            V b[NV];
            for (std::size_t v = 0; v < NV; ++v) b[v] = S::load_aligned(bp + v * W);
            for (std::size_t i = 0; i < MR; ++i) {
                V ai = S::set(ar[i][k]);
                for (std::size_t v = 0; v < NV; ++v) acc[i][v] = S::fma(ai, b[v], acc[i][v]);
            }
        }
    } else {
        for (std::size_t k = 0; k < kdim; ++k, bp += NR) {
            const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(k) * a_cs;
            V b[NV];
            for (std::size_t v = 0; v < NV; ++v) b[v] = S::load_aligned(bp + v * W);
            for (std::size_t i = 0; i < MR; ++i) {
                V ai = S::set(ar[i][off]);
                for (std::size_t v = 0; v < NV; ++v) acc[i][v] = S::fma(ai, b[v], acc[i][v]);
            }
        }
    }
    for (std::size_t i = 0; i < MR; ++i)
        for (std::size_t v = 0; v < NV; ++v) S::store_aligned(tile + i * NR + v * W, acc[i][v]);
}

template <class T, class Arch, std::size_t MR>
inline void micro_kernel_rows(std::size_t kdim, const T* a, std::ptrdiff_t a_rs, std::ptrdiff_t a_cs,
                              const T* const* brows, T* tile) noexcept {
    using S = Simd<T, Arch>;
    using V = typename S::V;
    constexpr std::size_t W = S::width, NV = vectors_per_panel<T, Arch>, NR = panel_width<T>;
    V acc[MR][NV];
    for (std::size_t i = 0; i < MR; ++i)
        for (std::size_t v = 0; v < NV; ++v) acc[i][v] = S::set(T(0));
    for (std::size_t k = 0; k < kdim; ++k) {
        const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(k) * a_cs;
        V b[NV];
        for (std::size_t v = 0; v < NV; ++v) b[v] = S::load(brows[k] + v * W);
        for (std::size_t i = 0; i < MR; ++i) {
            V ai = S::set(a[static_cast<std::ptrdiff_t>(i) * a_rs + off]);
            for (std::size_t v = 0; v < NV; ++v) acc[i][v] = S::fma(ai, b[v], acc[i][v]);
        }
    }
    for (std::size_t i = 0; i < MR; ++i)
        for (std::size_t v = 0; v < NV; ++v) S::store_aligned(tile + i * NR + v * W, acc[i][v]);
}

/// One row of A against P consecutive panels (the batch-1 path).
template <class T, class Arch, std::size_t P>
inline void gemv_kernel(std::size_t kdim, const T* a, std::ptrdiff_t a_cs, const T* bp, T* tile) noexcept {
    using S = Simd<T, Arch>;
    using V = typename S::V;
    constexpr std::size_t W = S::width, NV = vectors_per_panel<T, Arch>, NR = panel_width<T>;
    V acc[P][NV];
    for (std::size_t p = 0; p < P; ++p)
        for (std::size_t v = 0; v < NV; ++v) acc[p][v] = S::set(T(0));
    const std::size_t stride = kdim * NR;
    for (std::size_t k = 0; k < kdim; ++k, bp += NR) {
        V ai = S::set(a[static_cast<std::ptrdiff_t>(k) * a_cs]);
        for (std::size_t p = 0; p < P; ++p)
            for (std::size_t v = 0; v < NV; ++v) acc[p][v] = S::fma(ai, S::load_aligned(bp + p * stride + v * W), acc[p][v]);
    }
    for (std::size_t p = 0; p < P; ++p)
        for (std::size_t v = 0; v < NV; ++v) S::store_aligned(tile + p * NR + v * W, acc[p][v]);
}

/// Bias, activation and store of an mr x (ld_tile) tile whose first column
/// is column j0 of C; nr valid columns. The activation runs once over the
/// whole tile (padding columns included: they hold finite values) rather
/// than per row: the call and its loop set-up cost as much as a short row.
template <class T, class Arch>
inline void epilogue(const GemmArgs<T>& g, T* tile, std::size_t ld_tile, std::size_t i0, std::size_t mr, std::size_t j0,
                     std::size_t nr) noexcept {
    if (!g.accumulate) {
        if (g.bias_col || g.bias_row) {
            for (std::size_t i = 0; i < mr; ++i) {
                T* row = tile + i * ld_tile;
                const T b = g.bias_row ? g.bias_row[i0 + i] : T(0);
                if (g.bias_col)
                    for (std::size_t j = 0; j < nr; ++j) row[j] += g.bias_col[j0 + j] + b;
                else
                    for (std::size_t j = 0; j < nr; ++j) row[j] += b;
            }
        }
        activation_forward<T, Arch>(g.act, tile, tile, mr * ld_tile);
    }
    for (std::size_t i = 0; i < mr; ++i) {
        const T* row = tile + i * ld_tile;
        T* c = g.c + static_cast<std::ptrdiff_t>(i0 + i) * g.c_rs + static_cast<std::ptrdiff_t>(j0) * g.c_cs;
        if (g.accumulate) {
            if (g.c_cs == 1)
                for (std::size_t j = 0; j < nr; ++j) c[j] += row[j];
            else
                for (std::size_t j = 0; j < nr; ++j) c[static_cast<std::ptrdiff_t>(j) * g.c_cs] += row[j];
        } else {
            if (g.c_cs == 1)
                for (std::size_t j = 0; j < nr; ++j) c[j] = row[j];
            else
                for (std::size_t j = 0; j < nr; ++j) c[static_cast<std::ptrdiff_t>(j) * g.c_cs] = row[j];
        }
    }
}

template <class T, class Arch, std::size_t MR>
inline void row_block(const GemmArgs<T>& g, std::size_t i0, T* tile) noexcept {
    constexpr std::size_t NR = panel_width<T>;
    const T* a = g.a + static_cast<std::ptrdiff_t>(i0) * g.a_rs;
    for (std::size_t j0 = 0, p = 0; j0 < g.n; j0 += NR, ++p) {
        if (g.b_rows) micro_kernel_rows<T, Arch, MR>(g.k, a, g.a_rs, g.a_cs, g.b_rows + p * g.k, tile);
        else micro_kernel<T, Arch, MR>(g.k, a, g.a_rs, g.a_cs, g.b_packed + p * g.k * NR, tile);
        epilogue<T, Arch>(g, tile, NR, i0, MR, j0, std::min(NR, g.n - j0));
    }
}

template <class T, class Arch, std::size_t MR>
inline void row_tail(const GemmArgs<T>& g, std::size_t i0, std::size_t mr, T* tile) noexcept {
    if constexpr (MR > 0) {
        if (mr == MR) row_block<T, Arch, MR>(g, i0, tile);
        else row_tail<T, Arch, MR - 1>(g, i0, mr, tile);
    } else {
        (void)g, (void)i0, (void)mr, (void)tile;
    }
}

}  // namespace detail

/// The GEMM described by `g` (see GemmArgs). No allocation; A, packed B and C
/// must not overlap.
template <class T, class Arch>
void gemm(const GemmArgs<T>& g) noexcept {
    constexpr std::size_t NR = panel_width<T>, MR = detail::max_rows<T, Arch>;
    constexpr std::size_t GP = 4;  // panels per GEMV step
    alignas(64) T tile[(MR > GP ? MR : GP) * NR];
    if (g.m == 0 || g.n == 0) return;
    if (g.k == 0) {  // empty sum: bias and activation of zero
        for (std::size_t i = 0; i < g.m; ++i) {
            for (std::size_t j0 = 0; j0 < g.n; j0 += NR) {
                std::fill(tile, tile + NR, T(0));
                detail::epilogue<T, Arch>(g, tile, NR, i, 1, j0, std::min(NR, g.n - j0));
            }
        }
        return;
    }
    if (g.m == 1 && !g.b_rows) {
        std::size_t panels = (g.n + NR - 1) / NR, p = 0;
        for (; p + GP <= panels; p += GP) {
            detail::gemv_kernel<T, Arch, GP>(g.k, g.a, g.a_cs, g.b_packed + p * g.k * NR, tile);
            detail::epilogue<T, Arch>(g, tile, GP * NR, 0, 1, p * NR, std::min(GP * NR, g.n - p * NR));
        }
        for (; p < panels; ++p) {
            detail::gemv_kernel<T, Arch, 1>(g.k, g.a, g.a_cs, g.b_packed + p * g.k * NR, tile);
            detail::epilogue<T, Arch>(g, tile, NR, 0, 1, p * NR, std::min(NR, g.n - p * NR));
        }
        return;
    }
    std::size_t i0 = 0;
    for (; i0 + MR <= g.m; i0 += MR) detail::row_block<T, Arch, MR>(g, i0, tile);
    if (i0 < g.m) detail::row_tail<T, Arch, MR - 1>(g, i0, g.m - i0, tile);
}

}  // namespace corespec::nn::kernels

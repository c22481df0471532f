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
// knowing which kernels will run. The micro-kernel keeps an MR x (NP panels)
// tile of C in registers, sized to the register file: 6 x 16 floats on AVX2
// (12 accumulators + 2 B vectors + 1 broadcast of 16 ymm registers), 12 x 32
// on AVX-512 (24 accumulators of 32 zmm). Batch 1 takes a GEMV path (the
// same kernel, one row, 4 panels) so that enough independent FMA chains hide
// the latency.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

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

/// Vector registers of the architecture (AVX-512 has 32, the others we target 16).
template <class Arch>
constexpr std::size_t vector_registers = std::is_base_of<xsimd::avx512f, Arch>::value ? 32 : 16;

/// Panels per register tile: two with 32 registers and one vector per panel
/// (AVX-512: 12 x 32 floats, 24 accumulators), which halves the broadcasts
/// of A per FMA; otherwise one.
template <class T, class Arch>
constexpr std::size_t tile_panels = vector_registers<Arch> == 32 && vectors_per_panel<T, Arch> == 1 ? 2 : 1;

/// Rows per register tile: the accumulators fill the registers but for the
/// B vectors and a broadcast (12 accumulators of 16 registers: 6 x 16 floats
/// on AVX2; 24 of 32 on AVX-512: measured as fast as 28, with fewer live
/// row pointers).
template <class T, class Arch>
constexpr std::size_t max_rows = std::max<std::size_t>(
    1, (vector_registers<Arch> == 32 ? 24 : 12) / (tile_panels<T, Arch> * vectors_per_panel<T, Arch>));

/// B read from pack_b panels.
template <class T>
struct PackedB {
    const T* b;
    std::size_t kdim;
    const T* row(std::size_t p, std::size_t k) const noexcept { return b + (p * kdim + k) * panel_width<T>; }
};

/// B read through GemmArgs::b_rows.
template <class T>
struct RowPointersB {
    const T* const* rows;
    std::size_t kdim;
    const T* row(std::size_t p, std::size_t k) const noexcept { return rows[p * kdim + k]; }
};

/// The epilogue applied to a tile still in registers, when it is cheap there
/// (bias and identity / ReLU / LeakyReLU, not accumulating): saves a pass
/// over the tile in memory and the activation call (measured 1.1x on the
/// study-2 conv encoder, whose GEMMs have short k).
template <class T>
struct RegisterEpilogue {
    bool on = false;
    const T* bias_col = nullptr;  ///< the tile's columns, zero-padded to whole panels
    const T* bias_row = nullptr;  ///< the tile's first row's bias
    Activation act{};

    static bool applies(const GemmArgs<T>& g) noexcept {
        using K = Activation::Kind;
        return !g.accumulate && (g.act.kind == K::identity || g.act.kind == K::relu || g.act.kind == K::leaky_relu);
    }
};

template <class T, class Arch, Activation::Kind Kind, std::size_t MR, std::size_t NV, class V>
inline void store_tile(V (&acc)[MR][NV], const RegisterEpilogue<T>& e, T* out, std::size_t ld) noexcept {
    using S = Simd<T, Arch>;
    constexpr std::size_t W = S::width;
    const V alpha = S::set(static_cast<T>(e.act.alpha));
    for (std::size_t i = 0; i < MR; ++i)
        for (std::size_t v = 0; v < NV; ++v) {
            V x = acc[i][v];
            if (e.bias_row) x = x + S::set(e.bias_row[i]);
            if (e.bias_col) x = x + S::load_aligned(e.bias_col + v * W);
            if constexpr (Kind != Activation::Kind::identity) x = ActMath<T, Arch>::template forward<Kind>(x, alpha);
            S::store(out + i * ld + v * W, x);
        }
}

// The inner loop: an MR x (NP panels) tile of C in registers, written to
// `out` (row stride ld): the tile buffer, or C itself when the register
// epilogue completes the tile. Batch 1 (the GEMV path) is MR = 1 with
// several panels. Measure before changing (bench_nn).
template <class T, class Arch, std::size_t MR, std::size_t NP, class B>
inline void micro_kernel(std::size_t kdim, const T* a, std::ptrdiff_t a_rs, std::ptrdiff_t a_cs, const B& b,
                         std::size_t p0, const RegisterEpilogue<T>& e, T* out, std::size_t ld) noexcept {
    using S = Simd<T, Arch>;
    using V = typename S::V;
    constexpr std::size_t W = S::width, NV = vectors_per_panel<T, Arch>;
    constexpr bool packed = std::is_same<B, PackedB<T>>::value;
    V acc[MR][NP * NV];
    for (std::size_t i = 0; i < MR; ++i)
        for (std::size_t v = 0; v < NP * NV; ++v) acc[i][v] = S::set(T(0));
    const T* ar[MR];
    for (std::size_t i = 0; i < MR; ++i) ar[i] = a + static_cast<std::ptrdiff_t>(i) * a_rs;
    auto step = [&](std::size_t k, std::ptrdiff_t off) {
        V bv[NP * NV];
        for (std::size_t p = 0; p < NP; ++p) {
            const T* br = b.row(p0 + p, k);
            for (std::size_t v = 0; v < NV; ++v) bv[p * NV + v] = packed ? S::load_aligned(br + v * W) : S::load(br + v * W);
        }
        for (std::size_t i = 0; i < MR; ++i) {
            V ai = S::set(ar[i][off]);
            for (std::size_t v = 0; v < NP * NV; ++v) acc[i][v] = S::fma(ai, bv[v], acc[i][v]);
        }
    };
    if (a_cs == 1)
        for (std::size_t k = 0; k < kdim; ++k) step(k, static_cast<std::ptrdiff_t>(k));
    else
        for (std::size_t k = 0; k < kdim; ++k) step(k, static_cast<std::ptrdiff_t>(k) * a_cs);
    using K = Activation::Kind;
    if (!e.on) {
        for (std::size_t i = 0; i < MR; ++i)
            for (std::size_t v = 0; v < NP * NV; ++v) S::store(out + i * ld + v * W, acc[i][v]);
    } else if (e.act.kind == K::relu) {
        store_tile<T, Arch, K::relu>(acc, e, out, ld);
    } else if (e.act.kind == K::leaky_relu) {
        store_tile<T, Arch, K::leaky_relu>(acc, e, out, ld);
    } else {
        store_tile<T, Arch, K::identity>(acc, e, out, ld);
    }
}

/// Bias, activation and store of an mr x (ld_tile) tile whose first column
/// is column j0 of C; nr valid columns. The activation runs once over the
/// whole tile (padding columns included: they hold finite values) rather
/// than per row: the call and its loop set-up cost as much as a short row.
template <class T, class Arch>
inline void epilogue(const GemmArgs<T>& g, T* tile, std::size_t ld_tile, std::size_t i0, std::size_t mr, std::size_t j0,
                     std::size_t nr, bool fused = false) noexcept {
    if (!g.accumulate && !fused) {
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

/// Rows i0 .. i0 + MR - 1 of C: NP panels at a time, then single panels.
template <class T, class Arch, std::size_t MR, class B>
inline void row_block(const GemmArgs<T>& g, const B& b, std::size_t i0, T* tile) noexcept {
    constexpr std::size_t NR = panel_width<T>, NP = tile_panels<T, Arch>;
    const T* a = g.a + static_cast<std::ptrdiff_t>(i0) * g.a_rs;
    const std::size_t panels = (g.n + NR - 1) / NR;
    RegisterEpilogue<T> e;
    e.on = RegisterEpilogue<T>::applies(g);
    e.act = g.act;
    e.bias_row = g.bias_row ? g.bias_row + i0 : nullptr;
    alignas(64) T bias[NP * NR];
    // One tile of np panels from panel p: straight into C when it is whole.
    auto tile_at = [&](auto np_tag, std::size_t p) {
        constexpr std::size_t np = decltype(np_tag)::value;
        const std::size_t j0 = p * NR, nr = std::min(np * NR, g.n - j0);
        if (e.on && g.bias_col) {
            for (std::size_t j = 0; j < np * NR; ++j) bias[j] = j < nr ? g.bias_col[j0 + j] : T(0);
            e.bias_col = bias;
        }
        if (e.on && nr == np * NR && g.c_cs == 1) {
            micro_kernel<T, Arch, MR, np>(g.k, a, g.a_rs, g.a_cs, b, p, e,
                                          g.c + static_cast<std::ptrdiff_t>(i0) * g.c_rs + static_cast<std::ptrdiff_t>(j0),
                                          static_cast<std::size_t>(g.c_rs));
        } else {
            micro_kernel<T, Arch, MR, np>(g.k, a, g.a_rs, g.a_cs, b, p, e, tile, np * NR);
            epilogue<T, Arch>(g, tile, np * NR, i0, MR, j0, nr, e.on);
        }
    };
    std::size_t p = 0;
    if constexpr (NP > 1)
        for (; p + NP <= panels; p += NP) tile_at(std::integral_constant<std::size_t, NP>{}, p);
    for (; p < panels; ++p) tile_at(std::integral_constant<std::size_t, 1>{}, p);
}

/// row_block for a run-time row count mr <= MR.
template <class T, class Arch, std::size_t MR, class B>
inline void rows(const GemmArgs<T>& g, const B& b, std::size_t i0, std::size_t mr, T* tile) noexcept {
    if constexpr (MR > 0) {
        if (mr == MR) row_block<T, Arch, MR>(g, b, i0, tile);
        else rows<T, Arch, MR - 1>(g, b, i0, mr, tile);
    } else {
        (void)g, (void)b, (void)i0, (void)mr, (void)tile;
    }
}

/// One row of A against GP panels at a time (the batch-1 path: several
/// panels give enough independent FMA chains to hide the latency).
template <class T, class Arch, std::size_t GP>
inline void gemv(const GemmArgs<T>& g, const PackedB<T>& b, T* tile) noexcept {
    constexpr std::size_t NR = panel_width<T>;
    const std::size_t panels = (g.n + NR - 1) / NR;
    std::size_t p = 0;
    const RegisterEpilogue<T> none;
    for (; p + GP <= panels; p += GP) {
        micro_kernel<T, Arch, 1, GP>(g.k, g.a, 0, g.a_cs, b, p, none, tile, GP * NR);
        epilogue<T, Arch>(g, tile, GP * NR, 0, 1, p * NR, std::min(GP * NR, g.n - p * NR));
    }
    for (; p < panels; ++p) {
        micro_kernel<T, Arch, 1, 1>(g.k, g.a, 0, g.a_cs, b, p, none, tile, NR);
        epilogue<T, Arch>(g, tile, NR, 0, 1, p * NR, std::min(NR, g.n - p * NR));
    }
}

/// All rows, in blocks of equal size (at most MR rows): 16 rows run as 2 x 8
/// rather than 12 + 4, whose short tile leaves the FMA units waiting.
template <class T, class Arch, class B>
inline void all_rows(const GemmArgs<T>& g, const B& b, T* tile) noexcept {
    constexpr std::size_t MR = max_rows<T, Arch>;
    const std::size_t blocks = (g.m + MR - 1) / MR;
    for (std::size_t blk = 0, i0 = 0; blk < blocks; ++blk) {
        const std::size_t i1 = g.m * (blk + 1) / blocks;
        rows<T, Arch, MR>(g, b, i0, i1 - i0, tile);
        i0 = i1;
    }
}

}  // namespace detail

/// The GEMM described by `g` (see GemmArgs). No allocation; A, packed B and C
/// must not overlap.
template <class T, class Arch>
void gemm(const GemmArgs<T>& g) noexcept {
    constexpr std::size_t NR = panel_width<T>, MR = detail::max_rows<T, Arch>, NP = detail::tile_panels<T, Arch>;
    constexpr std::size_t GP = 4;  // panels per GEMV step
    alignas(64) T tile[std::max(MR * NP, GP) * NR];
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
    if (g.b_rows) {
        detail::all_rows<T, Arch>(g, detail::RowPointersB<T>{g.b_rows, g.k}, tile);
    } else if (g.m == 1) {
        detail::gemv<T, Arch, GP>(g, detail::PackedB<T>{g.b_packed, g.k}, tile);
    } else {
        detail::all_rows<T, Arch>(g, detail::PackedB<T>{g.b_packed, g.k}, tile);
    }
}

}  // namespace corespec::nn::kernels

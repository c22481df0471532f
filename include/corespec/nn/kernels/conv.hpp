// corespec/nn/kernels/conv.hpp - the data movement of 1-D convolutions:
// im2col (straight into GEMM panels for the forward pass) and col2im.
//
// Column (c, kk) at output position l reads input position
// l * stride - pad_left + kk * dilation of channel c (zero outside the input).
// Conv1D = weight x im2col(input); ConvTranspose1D = col2im(weight^T x input).
// Measured on the study-2 encoder: im2col + the packed GEMM beats a direct
// loop because K = channels x kernel is long enough for the micro-kernel.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "corespec/nn/kernels/gemm.hpp"
#include "corespec/nn/kernels/simd.hpp"

namespace corespec::nn::kernels {

struct ConvGeometry {
    std::size_t channels = 0;   ///< input channels taking part (one group)
    std::size_t length = 0;     ///< input length
    std::size_t kernel = 1;
    std::size_t stride = 1;
    std::size_t dilation = 1;
    std::size_t pad_left = 0;
    std::size_t out_length = 0; ///< positions l
    std::size_t rows() const noexcept { return channels * kernel; }
};

/// Input position of (kk, l), or -1 when it falls into the padding.
inline std::ptrdiff_t conv_source(const ConvGeometry& g, std::size_t kk, std::size_t l) noexcept {
    std::ptrdiff_t pos = static_cast<std::ptrdiff_t>(l * g.stride + kk * g.dilation) - static_cast<std::ptrdiff_t>(g.pad_left);
    return (pos < 0 || pos >= static_cast<std::ptrdiff_t>(g.length)) ? -1 : pos;
}

/// cols[(c * kernel + kk) * out_length + l] (row-major rows() x out_length).
template <class T>
void im2col(const ConvGeometry& g, const T* x, std::ptrdiff_t channel_stride, T* cols) noexcept {
    for (std::size_t c = 0; c < g.channels; ++c)
        for (std::size_t kk = 0; kk < g.kernel; ++kk) {
            T* row = cols + (c * g.kernel + kk) * g.out_length;
            const T* xc = x + static_cast<std::ptrdiff_t>(c) * channel_stride;
            for (std::size_t l = 0; l < g.out_length; ++l) {
                std::ptrdiff_t p = conv_source(g, kk, l);
                row[l] = p < 0 ? T(0) : xc[p];
            }
        }
}

/// Splits zero-padded signals into their stride phases: for channel c < channels,
/// dst[(c * s + ph) * plen + m] = x[c * channel_stride + m * s + ph - pad]
/// (zero outside [0, length)) for ph < s, m < plen. A strided convolution
/// then reads every GEMM row as one contiguous run of a phase instead of a
/// strided gather (measured: the gather cost as much as the GEMM on the
/// study-2 encoder). One call for all channels: the rows are short.
/// Templated on the architecture so that the kernel table compiles it per
/// architecture (KernelTable::split_phases): plain C++ that the compiler
/// vectorises with that unit's flags (measured: 8 % of the study-2 stream
/// profile in the baseline SSE2 build, a runtime-dispatched kernel since).
template <class T, class Arch>
void split_phases_for(const T* x, std::size_t channels, std::ptrdiff_t channel_stride, std::size_t length, std::size_t s,
                      std::size_t pad, std::size_t plen, T* dst) noexcept {
    if (s == 2) {  // both phases in one pass over contiguous pairs (vectorised)
        const std::size_t lo = std::min(plen, (pad + 1) / 2), hi = std::max(lo, std::min(plen, (length + pad) / 2));
        auto at = [&](const T* xc, std::size_t t) { return t >= pad && t - pad < length ? xc[t - pad] : T(0); };
        for (std::size_t c = 0; c < channels; ++c) {
            const T* xc = x + static_cast<std::ptrdiff_t>(c) * channel_stride;
            T* d0 = dst + 2 * c * plen;
            T* d1 = d0 + plen;
            for (std::size_t m = 0; m < lo; ++m) d0[m] = at(xc, 2 * m), d1[m] = at(xc, 2 * m + 1);
            const T* q = hi > lo ? xc + (2 * lo - pad) : xc;  // 2 lo >= pad when hi > lo
            // Blocks of a fixed length (whole vectors, no scalar remainder: the
            // rows are 15-120 long), the last one overlapping its predecessor.
            constexpr std::size_t B = 16;
            const std::size_t n = hi - lo;
            const auto pairs = [&](std::size_t j) {
                for (std::size_t i = 0; i < B; ++i) d0[lo + j + i] = q[2 * (j + i)], d1[lo + j + i] = q[2 * (j + i) + 1];
            };
            if (n >= B) {
                for (std::size_t j = 0; j + B <= n; j += B) pairs(j);
                if (n % B) pairs(n - B);
            } else {
                for (std::size_t j = 0; j < n; ++j) d0[lo + j] = q[2 * j], d1[lo + j] = q[2 * j + 1];
            }
            for (std::size_t m = hi; m < plen; ++m) d0[m] = at(xc, 2 * m), d1[m] = at(xc, 2 * m + 1);
        }
        return;
    }
    for (std::size_t ph = 0; ph < s; ++ph) {
        // Phase elements m_lo .. m_hi - 1 fall inside the signal.
        const std::size_t m_lo = std::min(plen, ph >= pad ? 0 : (pad - ph + s - 1) / s);
        const std::size_t m_hi = std::max(m_lo, std::min(plen, length + pad > ph ? (length + pad - ph + s - 1) / s : 0));
        const std::size_t n = m_hi - m_lo, first = n ? m_lo * s + ph - pad : 0;
        for (std::size_t c = 0; c < channels; ++c) {
            T* d = dst + (c * s + ph) * plen;
            const T* src = x + static_cast<std::ptrdiff_t>(c) * channel_stride + static_cast<std::ptrdiff_t>(first);
            for (std::size_t m = 0; m < m_lo; ++m) d[m] = T(0);
            for (std::size_t m = m_hi; m < plen; ++m) d[m] = T(0);
            d += m_lo;
            if (s == 1) for (std::size_t m = 0; m < n; ++m) d[m] = src[m];
            else for (std::size_t m = 0; m < n; ++m) d[m] = src[m * s];
        }
    }
}

/// split_phases_for with the compile-time flags (callers without a kernel table).
template <class T>
void split_phases(const T* x, std::size_t channels, std::ptrdiff_t channel_stride, std::size_t length, std::size_t s,
                  std::size_t pad, std::size_t plen, T* dst) noexcept {
    split_phases_for<T, scalar_arch>(x, channels, channel_stride, length, s, pad, plen, dst);
}

/// im2col written directly in pack_b's panel layout (k = rows(), n = out_length).
/// With stride > 1 and `scratch` (channels * length elements) the input is
/// first split into its stride phases (split_phases), so that every panel
/// row becomes one contiguous copy.
template <class T>
void im2col_packed(const ConvGeometry& g, const T* x, std::ptrdiff_t channel_stride, T* out, T* scratch = nullptr) noexcept {
    constexpr std::size_t NR = panel_width<T>;
    const std::size_t kdim = g.rows(), s = g.stride;
    const bool phased = s > 1 && scratch != nullptr;
    const std::size_t plen = (g.length + s - 1) / s;
    if (phased)
        split_phases(x, g.channels, channel_stride, g.length, s, 0, plen, scratch);
    for (std::size_t p = 0; p * NR < g.out_length; ++p) {
        const std::size_t l0 = p * NR, nr = std::min(NR, g.out_length - l0);
        T* dst = out + p * kdim * NR;
        for (std::size_t c = 0; c < g.channels; ++c) {
            const T* xc = x + static_cast<std::ptrdiff_t>(c) * channel_stride;
            for (std::size_t kk = 0; kk < g.kernel; ++kk, dst += NR) {
                // Interior positions need no bounds test (the common case).
                std::ptrdiff_t first = static_cast<std::ptrdiff_t>(l0 * s + kk * g.dilation) - static_cast<std::ptrdiff_t>(g.pad_left);
                std::ptrdiff_t last = first + static_cast<std::ptrdiff_t>((nr - 1) * s);
                std::size_t j = 0;
                if (first >= 0 && last < static_cast<std::ptrdiff_t>(g.length)) {
                    const T* src = s == 1 ? xc + first
                                   : phased ? scratch + (c * s + std::size_t(first) % s) * plen + std::size_t(first) / s
                                            : nullptr;
                    if (src && nr == NR) {
                        std::memcpy(dst, src, NR * sizeof(T));  // fixed size: a few vector moves
                        j = NR;
                    } else if (src)
                        for (; j < nr; ++j) dst[j] = src[j];
                    else
                        for (; j < nr; ++j) dst[j] = xc[first + static_cast<std::ptrdiff_t>(j * s)];
                } else {
                    for (; j < nr; ++j) {
                        std::ptrdiff_t pos = conv_source(g, kk, l0 + j);
                        dst[j] = pos < 0 ? T(0) : xc[pos];
                    }
                }
                for (; j < NR; ++j) dst[j] = T(0);
            }
        }
    }
}

/// x[c, pos] += cols[(c * kernel + kk) * out_length + l] for every (kk, l)
/// reading pos: the adjoint of im2col.
template <class T>
void col2im_add(const ConvGeometry& g, const T* cols, T* x, std::ptrdiff_t channel_stride) noexcept {
    for (std::size_t c = 0; c < g.channels; ++c)
        for (std::size_t kk = 0; kk < g.kernel; ++kk) {
            const T* row = cols + (c * g.kernel + kk) * g.out_length;
            T* xc = x + static_cast<std::ptrdiff_t>(c) * channel_stride;
            for (std::size_t l = 0; l < g.out_length; ++l) {
                std::ptrdiff_t p = conv_source(g, kk, l);
                if (p >= 0) xc[p] += row[l];
            }
        }
}

}  // namespace corespec::nn::kernels

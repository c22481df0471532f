// corespec/nn/layers/block_dense.hpp - block-diagonal dense layer (late fusion).
//
// The input's features are cut into contiguous blocks (e.g. one per
// modality of a fused spectrum); block b is mapped by its own dense
// y_b = x_b W_b^T + c_b to its own width, and the outputs are concatenated.
// Equivalent to one Dense whose weight is zero outside the diagonal blocks,
// at the cost of the blocks only, and no block sees another's features: a
// small encoder per modality in one layer.
//
//   BlockDense<float> enc({{167, 16}, {201, 16}, {7, 7}});   // in 375 -> out 39
//
// Parameters "block<b>.weight" [out_b, in_b] and "block<b>.bias" [out_b]
// (when bias), block by block. No fused activation: follow it with an
// activation layer. JSON config: {"type": "block_dense", "blocks":
// [[in_0, out_0], ...], "bias": true}.
//
// An identity block (in == out, no parameters) copies its features through
// unchanged, e.g. the presence bits that a masked mean after the encoders
// must see as 0 / 1 (fusion's "mean" strategy). Config: "identity_blocks":
// [b, ...], written only when there is one, so older files read as before.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/detail.hpp"

namespace corespec::nn {

template <class T>
class BlockDense : public Layer<T> {
public:
    struct Block {
        std::size_t in = 0, out = 0;
        bool identity = false;  ///< copied through unchanged (in == out, no parameters)
    };

    /// Throws value_error for no blocks, a block with a zero width, or an
    /// identity block whose in and out differ.
    explicit BlockDense(std::vector<Block> blocks, bool bias = true) : blocks_(std::move(blocks)), bias_(bias) {
        if (blocks_.empty()) throw value_error("nn::BlockDense: no blocks");
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            if (blocks_[b].in == 0 || blocks_[b].out == 0)
                throw value_error("nn::BlockDense: block " + std::to_string(b) + " has a zero width");
            if (blocks_[b].identity && blocks_[b].in != blocks_[b].out)
                throw value_error("nn::BlockDense: identity block " + std::to_string(b) + " maps " + std::to_string(blocks_[b].in) +
                                  " features to " + std::to_string(blocks_[b].out) + " (an identity needs in == out)");
            in_offset_.push_back(in_);
            out_offset_.push_back(out_);
            in_ += blocks_[b].in;
            out_ += blocks_[b].out;
            const bool learnt = !blocks_[b].identity;
            weight_offset_.push_back(learnt ? this->declare_parameter(name(b, "weight"), Shape{blocks_[b].out, blocks_[b].in}) : 0);
            bias_offset_.push_back(learnt && bias_ ? this->declare_parameter(name(b, "bias"), Shape{blocks_[b].out}) : 0);
        }
        parameters_changed();
    }

    std::string type() const override { return "block_dense"; }
    const std::vector<Block>& blocks() const noexcept { return blocks_; }
    std::size_t in_features() const noexcept { return in_; }
    std::size_t out_features() const noexcept { return out_; }
    bool has_bias() const noexcept { return bias_; }

    Shape output_shape(const Shape& in) const override {
        detail::require_shape("nn::BlockDense", in, 2, {in_});
        return Shape{in[0], out_};
    }

    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        const auto& K = kernels::kernels_of(ws);
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            if (blocks_[b].identity) {
                copy_block(in.data() + in_offset_[b], in_, out.data() + out_offset_[b], out_, in.batch(), blocks_[b].in);
                continue;
            }
            kernels::GemmArgs<T> a;
            a.m = in.batch(), a.n = blocks_[b].out, a.k = blocks_[b].in;
            a.a = in.data() + in_offset_[b], a.a_rs = static_cast<std::ptrdiff_t>(in_), a.a_cs = 1;
            a.b_packed = packed_.data() + packed_offset_[b];
            a.c = out.data() + out_offset_[b], a.c_rs = static_cast<std::ptrdiff_t>(out_), a.c_cs = 1;
            a.bias_col = bias_ ? this->params_.data() + bias_offset_[b] : nullptr;
            K.gemm(a);
        }
    }

    bool has_backward() const noexcept override { return true; }

    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>& ws) const override {
        this->check_output(in, TensorView<T>(const_cast<T*>(out.data()), out.shape()));
        if (grad_out.shape() != out.shape()) throw shape_error("nn::BlockDense grad_out", out.shape().to_vector(), grad_out.shape().to_vector());
        if (!grad_in.empty() && grad_in.shape() != in.shape()) throw shape_error("nn::BlockDense grad_in", in.shape().to_vector(), grad_in.shape().to_vector());
        if (!grad_params.empty() && grad_params.size() != this->parameter_count())
            throw shape_error("nn::BlockDense grad_params", {this->parameter_count()}, {grad_params.size()});
        const auto& K = kernels::kernels_of(ws);
        const std::size_t m = in.batch();
        const auto in_rs = static_cast<std::ptrdiff_t>(in_), out_rs = static_cast<std::ptrdiff_t>(out_);
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            typename Workspace<T>::Frame frame(ws);
            const std::size_t bi = blocks_[b].in, bo = blocks_[b].out;
            const T* g = grad_out.data() + out_offset_[b];  // rows of stride out_
            if (blocks_[b].identity) {  // no parameters; grad_in block = g_b
                if (!grad_in.empty()) copy_block(g, out_, grad_in.data() + in_offset_[b], in_, m, bi);
                continue;
            }
            const T* w = this->params_.data() + weight_offset_[b];
            if (!grad_in.empty()) {  // grad_in block = g_b W_b (the blocks tile grad_in, so overwrite)
                T* wp = ws.allocate(kernels::packed_size<T>(bo, bi));
                kernels::pack_b<T>(bo, bi, w, static_cast<std::ptrdiff_t>(bi), 1, wp);
                kernels::GemmArgs<T> a;
                a.m = m, a.n = bi, a.k = bo;
                a.a = g, a.a_rs = out_rs, a.a_cs = 1;
                a.b_packed = wp;
                a.c = grad_in.data() + in_offset_[b], a.c_rs = in_rs, a.c_cs = 1;
                K.gemm(a);
            }
            if (!grad_params.empty()) {  // grad_W_b += g_b^T x_b, grad_c_b += column sums of g_b
                T* xp = ws.allocate(kernels::packed_size<T>(m, bi));
                kernels::pack_b<T>(m, bi, in.data() + in_offset_[b], in_rs, 1, xp);
                T* gt = ws.allocate(bo * m);  // g_b^T in contiguous rows (as Dense: the fast A path)
                for (std::size_t i = 0; i < m; ++i)
                    for (std::size_t j = 0; j < bo; ++j) gt[j * m + i] = g[i * out_ + j];
                kernels::GemmArgs<T> a;
                a.m = bo, a.n = bi, a.k = m;
                a.a = gt, a.a_rs = static_cast<std::ptrdiff_t>(m), a.a_cs = 1;
                a.b_packed = xp;
                a.c = grad_params.data() + weight_offset_[b], a.c_rs = static_cast<std::ptrdiff_t>(bi), a.c_cs = 1;
                a.accumulate = true;
                K.gemm(a);
                if (bias_) {
                    T* gb = grad_params.data() + bias_offset_[b];
                    for (std::size_t i = 0; i < m; ++i)
                        for (std::size_t j = 0; j < bo; ++j) gb[j] += g[i * out_ + j];
                }
            }
        }
    }

    nlohmann::json config() const override {
        nlohmann::json blocks = nlohmann::json::array(), identity = nlohmann::json::array();
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            blocks.push_back({blocks_[b].in, blocks_[b].out});
            if (blocks_[b].identity) identity.push_back(b);
        }
        nlohmann::json j{{"type", type()}, {"blocks", blocks}, {"bias", bias_}};
        if (!identity.empty()) j["identity_blocks"] = identity;
        return j;
    }

    /// The blocks of a config's "blocks" ([[in, out], ...]) and optional
    /// "identity_blocks" ([b, ...], `identity` null when absent); throws
    /// value_error naming `where` for anything else.
    static std::vector<Block> blocks_from_json(const nlohmann::json& j, const std::string& where,
                                               const nlohmann::json& identity = nlohmann::json()) {
        if (!j.is_array() || j.empty()) throw value_error(where + ": \"blocks\" must be a non-empty array of [in, out]");
        std::vector<Block> out;
        for (std::size_t b = 0; b < j.size(); ++b) {
            const nlohmann::json& p = j[b];
            const auto positive = [](const nlohmann::json& v) { return v.is_number_unsigned() && v.get<std::uint64_t>() > 0; };
            if (!p.is_array() || p.size() != 2 || !positive(p[0]) || !positive(p[1]))
                throw value_error(where + ": blocks[" + std::to_string(b) + "] must be [in, out], two positive integers");
            out.push_back({p[0].get<std::size_t>(), p[1].get<std::size_t>()});
        }
        if (identity.is_null()) return out;
        if (!identity.is_array()) throw value_error(where + ": \"identity_blocks\" must be an array of block indices");
        for (std::size_t i = 0; i < identity.size(); ++i) {
            const nlohmann::json& v = identity[i];
            const std::string at = where + ": identity_blocks[" + std::to_string(i) + "]";
            if (!v.is_number_unsigned() || v.get<std::uint64_t>() >= out.size())
                throw value_error(at + " must be a block index below " + std::to_string(out.size()) + ", got " + v.dump());
            Block& b = out[v.get<std::size_t>()];
            if (b.identity) throw value_error(at + ": block " + v.dump() + " is listed twice");
            if (b.in != b.out)
                throw value_error(at + ": block " + v.dump() + " maps " + std::to_string(b.in) + " features to " + std::to_string(b.out) +
                                  " (an identity needs in == out)");
            b.identity = true;
        }
        return out;
    }

    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<BlockDense>(*this); }

    void parameters_changed() override {
        packed_offset_.clear();
        std::size_t n = 0;
        for (const Block& b : blocks_) {
            packed_offset_.push_back(n);
            // Panels start 64-byte aligned: round each block's size up.
            if (!b.identity) n += (kernels::packed_size<T>(b.in, b.out) + 15) / 16 * 16;
        }
        if (packed_.size() != n) packed_.assign(n, T(0));
        for (std::size_t b = 0; b < blocks_.size(); ++b)  // B(k, j) = W_b[j, k]
            if (!blocks_[b].identity)
                kernels::pack_b<T>(blocks_[b].in, blocks_[b].out, this->params_.data() + weight_offset_[b], 1,
                                   static_cast<std::ptrdiff_t>(blocks_[b].in), packed_.data() + packed_offset_[b]);
    }

private:
    static std::string name(std::size_t b, const char* what) { return "block" + std::to_string(b) + "." + what; }

    // `width` columns of `rows` rows between matrices of row strides src_rs, dst_rs.
    static void copy_block(const T* src, std::size_t src_rs, T* dst, std::size_t dst_rs, std::size_t rows, std::size_t width) noexcept {
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < width; ++j) dst[i * dst_rs + j] = src[i * src_rs + j];
    }

    std::vector<Block> blocks_;
    bool bias_;
    std::size_t in_ = 0, out_ = 0;
    std::vector<std::size_t> in_offset_, out_offset_, weight_offset_, bias_offset_, packed_offset_;
    detail::aligned_vector<T> packed_;
};

}  // namespace corespec::nn

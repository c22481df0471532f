// corespec/nn/workspace.hpp - the scratch memory and run settings of one
// forward/backward call chain.
//
// Layers never allocate on the hot path: whatever temporary memory they need
// (packed panels, im2col columns, a Sequential's intermediate activations)
// comes from a Workspace the caller provides. The workspace is an arena of
// 64-byte aligned chunks; allocations are released in LIFO order by Frames.
// The first call with a given shape may grow the arena; later calls with the
// same (or smaller) shapes reuse the chunks and allocate nothing.
//
// One workspace per thread: a Workspace is not thread-safe, a const model is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::nn {

namespace kernels {
template <class T>
struct KernelTable;  // kernels/table.hpp: the kernels of one instruction set
}

template <class T>
class Workspace {
public:
    static constexpr std::size_t alignment = 64;  // bytes; a cache line, >= any SIMD width

    Workspace() = default;
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    Workspace(Workspace&&) noexcept = default;
    Workspace& operator=(Workspace&&) noexcept = default;

    /// `n` elements of uninitialised, 64-byte aligned scratch, valid until
    /// the enclosing Frame ends. Grows the arena (allocates) only when the
    /// current chunks cannot hold the request.
    T* allocate(std::size_t n) {
        n = round_up(n ? n : 1);
        while (chunk_ < chunks_.size()) {
            Chunk& c = chunks_[chunk_];
            if (offset_ + n <= c.size) {
                T* p = c.data.get() + offset_;
                offset_ += n;
                return p;
            }
            ++chunk_;
            offset_ = 0;
        }
        // A new chunk at least as large as everything before it, so that a
        // repeated call sequence soon fits in few chunks.
        std::size_t size = n;
        for (const Chunk& c : chunks_) size = size > c.size ? size : c.size;
        chunks_.push_back(Chunk{Buffer(static_cast<T*>(::operator new(size * sizeof(T), std::align_val_t(alignment)))), size});
        chunk_ = chunks_.size() - 1;
        offset_ = n;
        return chunks_.back().data.get();
    }

    /// Like allocate, zero-filled.
    T* allocate_zeroed(std::size_t n) {
        T* p = allocate(n);
        for (std::size_t i = 0; i < n; ++i) p[i] = T(0);
        return p;
    }

    /// Releases, at its end, everything allocated since its start (RAII).
    class Frame {
    public:
        explicit Frame(Workspace& ws) noexcept : ws_(&ws), chunk_(ws.chunk_), offset_(ws.offset_) {}
        Frame(const Frame&) = delete;
        Frame& operator=(const Frame&) = delete;
        ~Frame() { ws_->chunk_ = chunk_; ws_->offset_ = offset_; }

    private:
        Workspace* ws_;
        std::size_t chunk_, offset_;
    };

    /// Total elements held (for tests and diagnostics).
    std::size_t capacity() const noexcept {
        std::size_t n = 0;
        for (const Chunk& c : chunks_) n += c.size;
        return n;
    }

    /// Frees all chunks (only when no Frame is open).
    void release() noexcept { chunks_.clear(); chunk_ = offset_ = 0; }

    /// The kernels to run: nullptr (the default) means the compile-time best
    /// architecture (xsimd::default_arch); kernels::scalar_table<T>() forces
    /// the plain C++ path; kernels/dispatch.hpp can pick one at run time.
    const kernels::KernelTable<T>* kernels = nullptr;

    /// Training mode: Dropout drops, BatchNorm uses batch statistics. Layers
    /// that need randomness derive it from `seed` and the element index
    /// (counter-based), so backward can recompute it.
    bool training = false;
    std::uint64_t seed = 0;

private:
    struct Deleter {
        void operator()(T* p) const noexcept { ::operator delete(p, std::align_val_t(alignment)); }
    };
    using Buffer = std::unique_ptr<T[], Deleter>;
    struct Chunk {
        Buffer data;
        std::size_t size;
    };

    static constexpr std::size_t round_up(std::size_t n) noexcept {
        constexpr std::size_t per_line = alignment / sizeof(T);
        return (n + per_line - 1) / per_line * per_line;
    }

    std::vector<Chunk> chunks_;
    std::size_t chunk_ = 0;
    std::size_t offset_ = 0;
};

}  // namespace corespec::nn

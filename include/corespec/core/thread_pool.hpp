// corespec/core/thread_pool.hpp - a fixed set of threads that run one job
// on every thread and wait for all of them (fork-join per call), with a
// barrier for jobs that work in phases. The one thread mechanism of the
// library: inference (nn::Sequential / nn::Model::forward_parallel),
// training, and, through parallel_ranges (core/parallel.hpp), the image
// loops of prep, align and steps::Recipe. The caller owns the pool (its threads live as long as the object), so no
// library state is hidden in globals or thread_locals.
//
// Starting threads per minibatch costs tens of microseconds each, and so
// does a sleep/wake through a condition variable; a trainer runs hundreds of
// batches per epoch of a few hundred microseconds each, and a tool runs
// back-to-back inference batches. So the threads are
// kept, and every wait first spins briefly (about spin_us microseconds,
// with a pause instruction) before it blocks: back-to-back batches hand
// over in well under a microsecond, and an idle pool sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace corespec {

namespace detail {

/// One pause in a spin loop (lets the sibling hyper-thread run).
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

/// Spins until pred() holds or about `us` microseconds passed; returns pred().
template <class Pred>
bool spin_until(Pred&& pred, int us) {
    if (pred()) return true;
    const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (pred()) return true;
            cpu_pause();
        }
        if (std::chrono::steady_clock::now() > end) return pred();
    }
}

}  // namespace detail

/// One pool per caller: not for concurrent run() calls from several threads.
class ThreadPool {
public:
    /// How long a waiting thread spins before it sleeps (microseconds).
    static constexpr int spin_us = 200;

    /// `threads` >= 1 workers in total, the calling thread being worker 0.
    explicit ThreadPool(std::size_t threads) : size_(threads ? threads : 1), failures_(size_) {
        for (std::size_t t = 1; t < size_; ++t) threads_.emplace_back([this, t] { loop(t); });
    }
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    ~ThreadPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_.store(true, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        for (auto& th : threads_) th.join();
    }

    std::size_t size() const noexcept { return size_; }

    /// Runs job(t) for t = 0 .. size()-1 concurrently and returns when all
    /// are done; rethrows the first failure (lowest t). A job that throws
    /// must not be in the middle of barrier phases the others still wait in
    /// (throw before the first barrier or after the last).
    void run(const std::function<void(std::size_t)>& job) {
        if (size_ == 1) {
            job(0);
            return;
        }
        job_ = &job;
        for (auto& f : failures_) f = nullptr;
        pending_.store(size_ - 1, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);  // pairs with the sleeping workers' predicate
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        try {
            job(0);
        } catch (...) {
            failures_[0] = std::current_exception();
        }
        auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
        if (!detail::spin_until(done, spin_us)) {
            std::unique_lock<std::mutex> lock(mutex_);
            done_.wait(lock, done);
        }
        job_ = nullptr;
        for (auto& f : failures_)
            if (f) std::rethrow_exception(f);
    }

    /// Inside a job: waits until all size() threads reached this call.
    /// Every thread of the job must call it the same number of times.
    void barrier() {
        if (size_ == 1) return;
        const std::size_t phase = phase_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == size_) {
            arrived_.store(0, std::memory_order_relaxed);
            phase_.store(phase + 1, std::memory_order_release);
            return;
        }
        // The others are working on the same batch: spin, then yield the core.
        auto passed = [&] { return phase_.load(std::memory_order_acquire) != phase; };
        while (!detail::spin_until(passed, spin_us)) std::this_thread::yield();
    }

private:
    void loop(std::size_t t) {
        std::size_t seen = 0;
        for (;;) {
            auto woken = [&] { return generation_.load(std::memory_order_acquire) != seen; };
            if (!detail::spin_until(woken, spin_us)) {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, woken);
            }
            seen = generation_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            try {
                (*job_)(t);
            } catch (...) {
                failures_[t] = std::current_exception();
            }
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                std::lock_guard<std::mutex> lock(mutex_);  // the caller may be about to sleep
                done_.notify_one();
            }
        }
    }

    std::size_t size_;
    std::vector<std::thread> threads_;
    std::vector<std::exception_ptr> failures_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    const std::function<void(std::size_t)>* job_ = nullptr;
    std::atomic<std::size_t> pending_{0};
    std::atomic<std::size_t> generation_{0};
    std::atomic<std::size_t> arrived_{0}, phase_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace corespec

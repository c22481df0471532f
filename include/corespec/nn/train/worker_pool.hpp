// corespec/nn/train/worker_pool.hpp - a fixed set of threads that run one
// job on every thread and wait for all of them (fork-join per minibatch).
//
// Starting threads per minibatch costs tens of microseconds each; a trainer
// runs hundreds of batches per epoch, so the threads are kept and woken.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace corespec::nn::train::detail {

class WorkerPool {
public:
    /// `threads` >= 1 workers in total, the calling thread being worker 0.
    explicit WorkerPool(std::size_t threads) : size_(threads ? threads : 1), failures_(size_) {
        for (std::size_t t = 1; t < size_; ++t) threads_.emplace_back([this, t] { loop(t); });
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;
    ~WorkerPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
            ++generation_;
        }
        wake_.notify_all();
        for (auto& th : threads_) th.join();
    }

    std::size_t size() const noexcept { return size_; }

    /// Runs job(t) for t = 0 .. size()-1 concurrently and returns when all
    /// are done; rethrows the first failure (lowest t).
    void run(const std::function<void(std::size_t)>& job) {
        if (size_ == 1) {
            job(0);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = &job;
            pending_ = size_ - 1;
            for (auto& f : failures_) f = nullptr;
            ++generation_;
        }
        wake_.notify_all();
        try {
            job(0);
        } catch (...) {
            failures_[0] = std::current_exception();
        }
        {
            std::unique_lock<std::mutex> lock(mutex_);
            done_.wait(lock, [this] { return pending_ == 0; });
            job_ = nullptr;
        }
        for (auto& f : failures_)
            if (f) std::rethrow_exception(f);
    }

private:
    void loop(std::size_t t) {
        std::size_t seen = 0;
        for (;;) {
            const std::function<void(std::size_t)>* job;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (stop_) return;
                job = job_;
            }
            try {
                (*job)(t);
            } catch (...) {
                failures_[t] = std::current_exception();
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (--pending_ == 0) done_.notify_one();
            }
        }
    }

    std::size_t size_;
    std::vector<std::thread> threads_;
    std::vector<std::exception_ptr> failures_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    const std::function<void(std::size_t)>* job_ = nullptr;
    std::size_t pending_ = 0;
    std::size_t generation_ = 0;
    bool stop_ = false;
};

}  // namespace corespec::nn::train::detail

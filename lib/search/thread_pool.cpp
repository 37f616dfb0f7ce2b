#include "search/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <exception>
#include <thread>
#include <vector>

#include <unistd.h>

namespace pocketvec::search {
namespace {

constexpr std::size_t kMaxThreads = 8;
constexpr std::chrono::microseconds kSpin{200};

class Pool {
public:
    Pool() : pid_(::getpid()) {
        const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
        const std::size_t want = std::min(hw, kMaxThreads) - 1;
        for (std::size_t i = 0; i < want; ++i) {
            try {
                std::thread(&Pool::work, this).detach();
                ++workers_;
            } catch (const std::exception &) {
                // No memory or a thread limit: fewer workers, the others and the caller take
                // their share. (The constructor must not throw once a worker refers to `this`.)
                break;
            }
        }
    }

    pid_t pid() const { return pid_; }
    std::size_t threads() const { return workers_ + 1; }

    void run(std::size_t n, const std::function<void(std::size_t)> &task) {
        std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
        if (!job.owns_lock() || workers_ == 0 || n <= 1) {
            for (std::size_t i = 0; i < n; ++i) {
                task(i);
            }
            return;
        }
        std::unique_lock<std::mutex> lk(mutex_);
        task_ = &task;
        n_ = n;
        next_ = 0;
        jobs_.fetch_add(1, std::memory_order_release);
        wake_.notify_all();
        while (next_ < n_) {  // the caller takes tasks too
            const std::size_t i = next_++;
            ++running_;
            lk.unlock();
            task(i);
            lk.lock();
            --running_;
        }
        done_.wait(lk, [&] { return running_ == 0; });
        task_ = nullptr;
        n_ = 0;
    }

private:
    void work() {
        std::unique_lock<std::mutex> lk(mutex_);
        for (;;) {
            if (task_ == nullptr || next_ >= n_) {
                // Searches come in bursts: spin a little before sleeping, because waking a
                // sleeping thread costs tens of microseconds on virtual machines.
                const uint64_t seen = jobs_.load(std::memory_order_acquire);
                lk.unlock();
                const auto until = std::chrono::steady_clock::now() + kSpin;
                while (jobs_.load(std::memory_order_acquire) == seen &&
                       std::chrono::steady_clock::now() < until) {
                    std::this_thread::yield();
                }
                lk.lock();
            }
            wake_.wait(lk, [&] { return task_ != nullptr && next_ < n_; });
            const std::size_t i = next_++;
            ++running_;
            const std::function<void(std::size_t)> *task = task_;
            lk.unlock();
            (*task)(i);
            lk.lock();
            if (--running_ == 0 && next_ >= n_) {
                done_.notify_all();
            }
        }
    }

    const pid_t pid_;
    std::size_t workers_ = 0;
    std::mutex job_mutex_;  // held by the one run() in progress
    std::mutex mutex_;      // guards the fields below
    std::condition_variable wake_, done_;
    const std::function<void(std::size_t)> *task_ = nullptr;
    std::size_t n_ = 0, next_ = 0, running_ = 0;
    std::atomic<uint64_t> jobs_{0};  // jobs started; read without the mutex while spinning
};

std::mutex g_pool_mutex;
Pool *g_pool = nullptr;  // leaked on purpose: workers outlive static destruction

Pool &pool() {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    if (g_pool == nullptr || g_pool->pid() != ::getpid()) {
        // First use, or a forked child (which has none of the parent's threads): a new pool. The
        // parent's copy in the child is leaked; its mutexes may have been held at fork time.
        g_pool = new Pool();
    }
    return *g_pool;
}

}  // namespace

std::size_t pool_threads() { return pool().threads(); }

void pool_run(std::size_t n, const std::function<void(std::size_t)> &task) {
    pool().run(n, task);
}

}  // namespace pocketvec::search

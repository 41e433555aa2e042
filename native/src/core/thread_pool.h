// A small work-sharing thread pool for the CPU backend.
//
// Why not OpenMP: a chela_context owns its pool and its size, several application threads may
// call into one context at once (one shared model, many sessions), and the library must behave
// the same under g++, clang, and the sanitizers. parallel_for() lets the calling thread take part
// in its own job, so nested or concurrent calls never deadlock: in the worst case the caller does
// all the work itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace chela {

class ThreadPool {
public:
    // `threads` >= 1 is the total parallelism including the calling thread (threads - 1 workers).
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return threads_; }

    // Calls fn(i) once for every i in [0, n), spread over the pool and the calling thread, and
    // returns when all calls have finished. The first exception thrown by fn is rethrown here
    // (the remaining indices are still drained, without calling fn).
    void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

    // Splits [0, n) into about size()*4 contiguous ranges of at least `grain` and calls
    // fn(begin, end) on each.
    void parallel_range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

private:
    struct Job;
    void worker_loop();
    static void run_some(Job& job);

    int threads_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stopping_ = false;
};

}  // namespace chela

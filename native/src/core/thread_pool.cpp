#include "core/thread_pool.h"

#include <algorithm>
#include <exception>

namespace chela {

struct ThreadPool::Job {
    const std::function<void(int64_t)>* fn;
    int64_t n;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
    std::mutex mutex;
    std::condition_variable finished;
    std::exception_ptr error;
    std::atomic<bool> failed{false};
};

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
    workers_.reserve(static_cast<size_t>(threads_ - 1));
    for (int i = 0; i < threads_ - 1; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
}

// Claims indices one at a time until none are left; counts each as done.
void ThreadPool::run_some(Job& job) {
    int64_t i;
    while ((i = job.next.fetch_add(1)) < job.n) {
        if (!job.failed.load(std::memory_order_relaxed)) {
            try {
                (*job.fn)(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(job.mutex);
                if (!job.error) job.error = std::current_exception();
                job.failed = true;
            }
        }
        if (job.done.fetch_add(1) + 1 == job.n) {
            std::lock_guard<std::mutex> lock(job.mutex);
            job.finished.notify_all();
        }
    }
}

void ThreadPool::worker_loop() {
    for (;;) {
        std::shared_ptr<Job> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_ && queue_.empty()) return;
            job = queue_.front();
            // A job whose indices are all claimed leaves the queue; its owner waits for "done".
            if (job->next.load() >= job->n) {
                queue_.pop_front();
                continue;
            }
        }
        run_some(*job);
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
    if (n <= 0) return;
    if (n == 1 || threads_ == 1) {
        for (int64_t i = 0; i < n; ++i) fn(i);
        return;
    }
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(job);
    }
    wake_.notify_all();
    run_some(*job);
    {
        std::unique_lock<std::mutex> lock(job->mutex);
        job->finished.wait(lock, [&] { return job->done.load() == job->n; });
    }
    {
        // Drop it from the queue if no worker did (it holds a pointer to our fn).
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = std::find(queue_.begin(), queue_.end(), job);
        if (it != queue_.end()) queue_.erase(it);
    }
    if (job->error) std::rethrow_exception(job->error);
}

void ThreadPool::parallel_range(int64_t n, int64_t grain,
                                const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    int64_t pieces = std::min<int64_t>(static_cast<int64_t>(threads_) * 4, (n + grain - 1) / grain);
    pieces = std::max<int64_t>(1, pieces);
    const int64_t step = (n + pieces - 1) / pieces;
    pieces = (n + step - 1) / step;
    parallel_for(pieces, [&](int64_t p) {
        const int64_t b = p * step;
        fn(b, std::min(n, b + step));
    });
}

}  // namespace chela

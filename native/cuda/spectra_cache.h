// Kernel spectra kept between calls, for long weights that do not change (a loaded model's layers).
//
// Why: the on-chip FFT paths of the convolution start every call by transforming the channels'
// long kernels. That work depends only on the weights, L and the path, not on the input, and it is
// large: 0.14 ms of the 1.0 ms call at B4 C1024 L16384 and 0.85 ms of 2.5 ms at B1 C1024 L65536
// (H200, docs/gpu.md). A model computes them at the first forward of a length and reuses them.
//
// Memory: d (N + 1) complex fp32 per layer and length (134 MB at L = 16384, 537 MB at 65536 for
// d = 1024), so the cache has a byte budget and evicts the least recently used entries: by default
// a quarter of the device's memory; CHELA_CUDA_SPECTRA_CACHE_MB (read on every call) sets it, 0
// turns caching off. A cache miss that cannot allocate is not an error: that call computes its
// spectra itself, as without a cache.
//
// Ordering: an entry's spectra are written on the stream of the call that created it, and the
// stream is part of the key, so a call only reuses spectra queued before it on its own stream.
// Entries are shared_ptrs: eviction by one thread while another still queues work that reads the
// entry frees the memory stream-ordered after that work. Thread-safe. Host-callable, no CUDA types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>

namespace chela::cuda {

class SpectraCache {
public:
    // What determines the spectra: the weights (one slot per weight set, e.g. a layer index; the
    // caller promises that a slot's weights never change while the cache lives), the path, the
    // columns' dtype (it selects the transform), L and the stream.
    struct Key {
        int slot = 0;
        int path = 0;
        int dtype = 0;
        int64_t L = 0;
        void* stream = nullptr;
        bool operator==(const Key& o) const {
            return slot == o.slot && path == o.path && dtype == o.dtype && L == o.L && stream == o.stream;
        }
    };
    class Entry;  // device memory holding one key's spectra

    explicit SpectraCache(int device);
    ~SpectraCache();
    SpectraCache(const SpectraCache&) = delete;
    SpectraCache& operator=(const SpectraCache&) = delete;

    // The spectra for `key`: cached, or `bytes` of new device memory filled by compute(dst) (which
    // queues the work on key.stream), or null when the budget or the device has no room (then the
    // caller computes them itself). Keep the returned pointer until the work reading it is queued.
    std::shared_ptr<const Entry> acquire(const Key& key, int64_t bytes, const std::function<void(void* dst)>& compute);
    static const void* data(const Entry& e);

private:
    int64_t budget_bytes() const;

    int device_;
    int64_t default_budget_;
    mutable std::mutex mu_;
    std::list<std::shared_ptr<Entry>> lru_;  // most recently used first
    int64_t used_ = 0;
};

}  // namespace chela::cuda

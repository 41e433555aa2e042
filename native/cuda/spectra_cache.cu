// SpectraCache: an LRU of stream-ordered device allocations under a byte budget (spectra_cache.h).
#include "spectra_cache.h"

#include "core/error.h"

#include <cuda_runtime.h>

#include <cerrno>
#include <cstdlib>

namespace chela::cuda {

class SpectraCache::Entry {
public:
    Entry(const Key& key, void* data, int64_t bytes) : key(key), data(data), bytes(bytes) {}
    // Freed on the stream that wrote it, after everything already queued there (the last reader
    // held the shared_ptr until its work was queued).
    ~Entry() { (void)cudaFreeAsync(data, static_cast<cudaStream_t>(key.stream)); }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

    const Key key;
    void* const data;
    const int64_t bytes;
};

SpectraCache::SpectraCache(int device) : device_(device) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(device) != cudaSuccess || cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        total_bytes = 0;  // unknown: no default budget
    }
    default_budget_ = static_cast<int64_t>(total_bytes / 4);
}

SpectraCache::~SpectraCache() {
    (void)cudaSetDevice(device_);
    lru_.clear();
}

const void* SpectraCache::data(const Entry& e) { return e.data; }

int64_t SpectraCache::budget_bytes() const {
    const char* env = std::getenv("CHELA_CUDA_SPECTRA_CACHE_MB");
    if (env == nullptr || *env == '\0') return default_budget_;
    char* end = nullptr;
    errno = 0;
    const long long mb = std::strtoll(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || mb < 0 || mb > (int64_t{1} << 40))
        fail(CHELA_ERR_INVALID_ARGUMENT, "CHELA_CUDA_SPECTRA_CACHE_MB: '", env, "' is not a size in MiB");
    return static_cast<int64_t>(mb) << 20;
}

std::shared_ptr<const SpectraCache::Entry> SpectraCache::acquire(const Key& key, int64_t bytes,
                                                                 const std::function<void(void*)>& compute) {
    const int64_t budget = budget_bytes();
    std::lock_guard<std::mutex> lock(mu_);
    auto evict_to = [&](int64_t limit) {  // least recently used out first
        while (used_ > limit && !lru_.empty()) {
            used_ -= lru_.back()->bytes;
            lru_.pop_back();
        }
    };
    evict_to(budget);  // the budget may have shrunk since the last call (0: caching off)
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
        if (!((*it)->key == key)) continue;
        if ((*it)->bytes != bytes)
            fail(CHELA_ERR_INTERNAL, "spectra cache: one key, two sizes (", (*it)->bytes, " and ", bytes, " bytes)");
        lru_.splice(lru_.begin(), lru_, it);
        return lru_.front();
    }
    if (bytes > budget) return nullptr;
    evict_to(budget - bytes);
    void* dst = nullptr;
    if (cudaMallocAsync(&dst, static_cast<size_t>(bytes), static_cast<cudaStream_t>(key.stream)) != cudaSuccess) {
        (void)cudaGetLastError();  // no room: this call computes its own, as without a cache
        return nullptr;
    }
    auto entry = std::make_shared<Entry>(key, dst, bytes);  // frees dst if compute throws
    compute(dst);
    lru_.push_front(entry);
    used_ += bytes;
    return entry;
}

}  // namespace chela::cuda

#include "cpu/layer_ops.h"

#include "core/simd.h"

#include <cblas.h>

namespace chela::cpu {

namespace {

// Mean and variance of one row in double: rows can be long (d up to 1<<20) and float
// accumulation would lose digits the tests (rel-L2 1e-5 against float64) can see.
CHELA_MULTIVERSION
void row_moments(const float* x, int64_t n, double* mean, double* var) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; ++i) {
        s += x[i];
        s2 += static_cast<double>(x[i]) * x[i];
    }
    *mean = s / static_cast<double>(n);
    *var = s2 / static_cast<double>(n) - *mean * *mean;
    if (*var < 0) *var = 0;
}

}  // namespace

void layer_norm(ThreadPool& pool, int64_t rows, int64_t n, const float* x, const float* w,
                const float* b, float eps, float* y) {
    pool.parallel_range(rows, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* xr = x + r * n;
            float* yr = y + r * n;
            double mean, var;
            row_moments(xr, n, &mean, &var);
            const float m = static_cast<float>(mean);
            const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
            for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) * inv * w[i] + (b ? b[i] : 0.0f);
        }
    });
}

void rms_norm(ThreadPool& pool, int64_t rows, int64_t n, const float* x, const float* w, float eps,
              float* y) {
    pool.parallel_range(rows, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* xr = x + r * n;
            float* yr = y + r * n;
            double s2 = 0;
            for (int64_t i = 0; i < n; ++i) s2 += static_cast<double>(xr[i]) * xr[i];
            const float inv = static_cast<float>(1.0 / std::sqrt(s2 / static_cast<double>(n) + eps));
            for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * inv * w[i];
        }
    });
}

void linear(int64_t rows, int64_t in, int64_t out, const float* x, const float* W, const float* b,
            float* y) {
    if (rows == 0 || out == 0) return;
    float beta = 0.0f;
    if (b != nullptr) {
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t o = 0; o < out; ++o) y[r * out + o] = b[o];
        beta = 1.0f;
    }
    if (in == 0) {
        if (b == nullptr)
            for (int64_t i = 0; i < rows * out; ++i) y[i] = 0.0f;
        return;
    }
    // Row-major y = x W^T (+ y): W is stored [out, in] like PyTorch's Linear.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows),
                static_cast<blasint>(out), static_cast<blasint>(in), 1.0f, x,
                static_cast<blasint>(in), W, static_cast<blasint>(in), beta, y,
                static_cast<blasint>(out));
}

}  // namespace chela::cpu

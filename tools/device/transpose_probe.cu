// Bandwidth of the conv's [B, R, C] <-> [B, C, R] transposes at the bench shape (B4, 16384 x 1024,
// bf16, both directions): conv_chip_common.cuh's generic kernel and its 16-byte-vector one
// (transpose16) at three tile heights, next to a device-to-device cudaMemcpy of the same bytes
// (the copy roofline). Each output is compared with the generic kernel's, byte for byte.
// Run 58 (H200): memcpy 65.8 us, generic 72.2 / 72.4, transpose16 64x64 68.9 / 68.3, 128x64
// 69.0 / 68.0, 256x64 75.2 / 75.2 (in / out).
// Build here: nvcc --options-file build-cuda/CMakeFiles/chela_cuda.dir/includes_CUDA.rsp -O3 -std=c++17
//   -gencode=arch=compute_90a,code=sm_90a -o .device/probe/transpose_probe tools/device/transpose_probe.cu
// Run there: .device/probe/transpose_probe (carry .device/probe).
#include "cuda/conv_chip_common.cuh"

#include <cstdio>
#include <cstring>
#include <vector>

using chela::cuda::conv::transpose;
using chela::cuda::conv::transpose16;

int main() {
    const int64_t B = 4, R = 16384, Cc = 1024, n = B * R * Cc;
    __nv_bfloat16 *a, *t0, *t1, *back;
    cudaMalloc(&a, n * 2), cudaMalloc(&t0, n * 2), cudaMalloc(&t1, n * 2), cudaMalloc(&back, n * 2);
    std::vector<uint16_t> h(n);
    for (int64_t i = 0; i < n; ++i) h[i] = static_cast<uint16_t>((i * 2654435761u) >> 7);
    cudaMemcpy(a, h.data(), n * 2, cudaMemcpyHostToDevice);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    auto time_us = [&](auto launch) {
        for (int i = 0; i < 5; ++i) launch();
        cudaEventRecord(e0);
        for (int i = 0; i < 50; ++i) launch();
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        float ms = 0;
        cudaEventElapsedTime(&ms, e0, e1);
        return 1000.0 * ms / 50;
    };
    auto report = [&](const char* what, double us) {
        std::printf("%-44s %7.1f us  %5.2f TB/s (read + write)\n", what, us, 2.0 * n * 2 / us / 1e6);
    };
    report("cudaMemcpy D2D (same bytes)", time_us([&] { cudaMemcpyAsync(t1, a, n * 2, cudaMemcpyDeviceToDevice); }));
    const dim3 g_in((R + 63) / 64, (Cc + 63) / 64, B), g_out((Cc + 63) / 64, (R + 63) / 64, B);
    report("generic 64x64, in  [B,L,C]->[B,C,L]", time_us([&] { transpose<__nv_bfloat16><<<g_in, dim3(32, 8)>>>(a, t0, R, Cc); }));
    report("generic 64x64, out [B,C,L]->[B,L,C]", time_us([&] { transpose<__nv_bfloat16><<<g_out, dim3(32, 8)>>>(t0, back, Cc, R); }));
    std::vector<uint16_t> ref(n), got(n);
    cudaMemcpy(ref.data(), t0, n * 2, cudaMemcpyDeviceToHost);
    auto check = [&](const char* what, const __nv_bfloat16* p, const std::vector<uint16_t>& want) {
        cudaMemcpy(got.data(), p, n * 2, cudaMemcpyDeviceToHost);
        std::printf("  %s: %s\n", what, std::memcmp(got.data(), want.data(), n * 2) == 0 ? "same bytes" : "DIFFERENT");
    };
    check("round trip of the generic kernel", back, h);
    auto run = [&](auto rpt) {
        constexpr int kRpt = decltype(rpt)::value, kRows = 32 * kRpt;
        char name[64];
        cudaMemset(t1, 0, n * 2);
        std::snprintf(name, sizeof name, "transpose16 %dx64, in", kRows);
        report(name, time_us([&] { transpose16<__nv_bfloat16, kRpt><<<dim3(R / kRows, Cc / 64, B), 256>>>(a, t1, R, Cc); }));
        check("in vs generic", t1, ref);
        cudaMemset(back, 0, n * 2);
        std::snprintf(name, sizeof name, "transpose16 %dx64, out", kRows);
        report(name, time_us([&] { transpose16<__nv_bfloat16, kRpt><<<dim3(Cc / kRows, R / 64, B), 256>>>(t1, back, Cc, R); }));
        check("round trip", back, h);
    };
    run(std::integral_constant<int, 2>{});
    run(std::integral_constant<int, 4>{});
    run(std::integral_constant<int, 8>{});
    std::printf("last error: %s\n", cudaGetErrorString(cudaGetLastError()));
}

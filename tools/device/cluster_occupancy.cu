// How many thread-block clusters of 1/2/4/8/16 CTAs fit on this GPU at once, for CTAs of 180 KB (one per
// SM: the one-CTA FFT conv) and 110 KB (two per SM) of shared memory: cudaOccupancyMaxActiveClusters.
// Build here: nvcc -O2 -gencode=arch=compute_90a,code=sm_90a -o .device/probe/cluster_occ
// tools/device/cluster_occupancy.cu; run there: .device/probe/cluster_occ (carry .device/probe).
// H200, run 53: 180 KB -> 132, 132, 120, 120, 112 CTAs; 110 KB -> 264, 264, 248, 240, 224.
#include <cstdio>
#include <cuda_runtime.h>
__global__ void k(int* p) { extern __shared__ int s[]; if (p) p[0] = s[0]; }
int main() {
    int smem = 180 * 1024;
    cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    cudaFuncSetAttribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    for (int smem_kb : {180, 110}) for (int c : {1, 2, 4, 8, 16}) {
        cudaLaunchConfig_t cfg{}; cfg.gridDim = dim3(c * 64); cfg.blockDim = dim3(512); cfg.dynamicSmemBytes = smem_kb * 1024;
        cudaLaunchAttribute a[1]; a[0].id = cudaLaunchAttributeClusterDimension; a[0].val.clusterDim.x = c; a[0].val.clusterDim.y = 1; a[0].val.clusterDim.z = 1;
        cfg.attrs = a; cfg.numAttrs = 1;
        int n = -1; cudaError_t e = cudaOccupancyMaxActiveClusters(&n, k, &cfg);
        printf("smem %d KB cluster %2d: %3d clusters = %3d CTAs of %d SMs (%s)\n", smem_kb, c, n, n * c, sms, cudaGetErrorString(e));
    }
}

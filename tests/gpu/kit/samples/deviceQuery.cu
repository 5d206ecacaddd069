// deviceQuery: what the CUDA runtime says about each device, then "Result = PASS" (exit 0) when at least
// one device answered, "Result = FAIL" (exit 1) otherwise. The kit's own program, written for
// tests/gpu/kit/e2e_images.py to behave as NVIDIA's cuda-sample:devicequery image does for its
// end-to-end suite; it prints only what stays the same from run to run (no clocks, no free memory).
#include <cstdio>
#include <cuda_runtime.h>

int main() {
  printf("deviceQuery Starting...\n\n CUDA Device Query (Runtime API) version (CUDART shared linking)\n\n");
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    printf("cudaGetDeviceCount returned %d\n-> %s\nResult = FAIL\n", (int)err, cudaGetErrorString(err));
    return 1;
  }
  if (count == 0) {
    printf("There are no available device(s) that support CUDA\nResult = FAIL\n");
    return 1;
  }
  printf("Detected %d CUDA Capable device(s)\n", count);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
      printf("cudaGetDeviceProperties(%d) failed\nResult = FAIL\n", d);
      return 1;
    }
    printf("\nDevice %d: \"%s\"\n", d, p.name);
    printf("  CUDA Driver Version / Runtime Version          %d.%d / %d.%d\n", driver / 1000, (driver % 100) / 10,
           runtime / 1000, (runtime % 100) / 10);
    printf("  CUDA Capability Major/Minor version number:    %d.%d\n", p.major, p.minor);
    printf("  Total amount of global memory:                 %.0f MBytes (%llu bytes)\n",
           (double)p.totalGlobalMem / 1048576.0, (unsigned long long)p.totalGlobalMem);
    printf("  (%03d) Multiprocessors\n", p.multiProcessorCount);
    printf("  L2 Cache Size:                                 %d bytes\n", p.l2CacheSize);
    printf("  Warp size:                                     %d\n", p.warpSize);
    printf("  Maximum number of threads per block:           %d\n", p.maxThreadsPerBlock);
    printf("  Device PCI Domain ID / Bus ID / location ID:   %d / %d / %d\n", p.pciDomainID, p.pciBusID, p.pciDeviceID);
  }
  printf("\ndeviceQuery, CUDA Driver = CUDART, CUDA Driver Version = %d.%d, CUDA Runtime Version = %d.%d, NumDevs = %d\n",
         driver / 1000, (driver % 100) / 10, runtime / 1000, (runtime % 100) / 10, count);
  printf("Result = PASS\n");
  return 0;
}

// vectorAdd: C = A + B on the GPU for 50000 floats, checked on the CPU. The kit's own program, written
// for tests/gpu/kit/e2e_images.py to behave as NVIDIA's cuda-sample:vectoradd image does for its
// end-to-end suite: exit 0 and "Test PASSED" when the sums are right, exit 1 otherwise.
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cuda_runtime.h>

__global__ void add(const float *a, const float *b, float *c, int n) {
  int i = blockDim.x * blockIdx.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

static void check(cudaError_t err, const char *what) {
  if (err != cudaSuccess) {
    fprintf(stderr, "Failed to %s (error code %s)!\n", what, cudaGetErrorString(err));
    exit(EXIT_FAILURE);
  }
}

int main() {
  const int n = 50000;
  const size_t size = n * sizeof(float);
  printf("[Vector addition of %d elements]\n", n);
  float *a = (float *)malloc(size), *b = (float *)malloc(size), *c = (float *)malloc(size);
  for (int i = 0; i < n; ++i) {
    a[i] = (float)((i * 7919u) % 1000u) / 1000.0f;
    b[i] = (float)((i * 104729u) % 1000u) / 1000.0f;
  }
  float *da, *db, *dc;
  check(cudaMalloc(&da, size), "allocate device vector A");
  check(cudaMalloc(&db, size), "allocate device vector B");
  check(cudaMalloc(&dc, size), "allocate device vector C");
  printf("Copy input data from the host memory to the CUDA device\n");
  check(cudaMemcpy(da, a, size, cudaMemcpyHostToDevice), "copy vector A from host to device");
  check(cudaMemcpy(db, b, size, cudaMemcpyHostToDevice), "copy vector B from host to device");
  int threads = 256, blocks = (n + threads - 1) / threads;
  printf("CUDA kernel launch with %d blocks of %d threads\n", blocks, threads);
  add<<<blocks, threads>>>(da, db, dc, n);
  check(cudaGetLastError(), "launch the vectorAdd kernel");
  printf("Copy output data from the CUDA device to the host memory\n");
  check(cudaMemcpy(c, dc, size, cudaMemcpyDeviceToHost), "copy vector C from device to host");
  for (int i = 0; i < n; ++i) {
    if (fabsf(a[i] + b[i] - c[i]) > 1e-5f) {
      fprintf(stderr, "Result verification failed at element %d!\n", i);
      exit(EXIT_FAILURE);
    }
  }
  printf("Test PASSED\n");
  cudaFree(da); cudaFree(db); cudaFree(dc);
  free(a); free(b); free(c);
  printf("Done\n");
  return 0;
}

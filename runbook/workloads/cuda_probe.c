/* cuda_probe: the CUDA driver API's first two calls, cuInit(0) and cuDeviceGetCount, through the
 * libcuda.so.1 the container sees (the toolkit puts in the host driver's), loaded at run time, so that
 * the image needs no CUDA toolkit and no Python. Prints one JSON line after the marker and exits 0 when
 * both calls succeed, 1 when a call fails (with the CUDA error's code and name), 2 when libcuda.so.1
 * cannot be loaded. Built by runbook/workloads/build_cuda_probe.py. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#ifndef PROBE_SOURCE_SHA256
#define PROBE_SOURCE_SHA256 "unknown"
#endif

const char probe_source[] = "GPU_RUNBOOK_CUDA_PROBE_SOURCE " PROBE_SOURCE_SHA256;

typedef int (*cu_init_t)(unsigned int);
typedef int (*cu_count_t)(int *);
typedef int (*cu_version_t)(int *);
typedef int (*cu_name_t)(int, const char **);

static void json_string(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s >= 0x20) putchar(*s);
    }
    putchar('"');
}

static int failed(const char *call, int code, cu_name_t name_of) {
    const char *name = "";
    if (name_of) name_of(code, &name);
    printf("GPU_RUNBOOK_RESULT {\"call\":");
    json_string(call);
    printf(",\"code\":%d,\"name\":", code);
    json_string(name);
    printf("}\n");
    return 1;
}

int main(void) {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW);
    if (!lib) {
        printf("GPU_RUNBOOK_RESULT {\"call\":\"dlopen\",\"error\":");
        json_string(dlerror());
        printf("}\n");
        return 2;
    }
    cu_init_t cu_init = (cu_init_t)dlsym(lib, "cuInit");
    cu_count_t cu_count = (cu_count_t)dlsym(lib, "cuDeviceGetCount");
    cu_version_t cu_version = (cu_version_t)dlsym(lib, "cuDriverGetVersion");
    cu_name_t cu_name = (cu_name_t)dlsym(lib, "cuGetErrorName");
    if (!cu_init || !cu_count) {
        printf("GPU_RUNBOOK_RESULT {\"call\":\"dlsym\",\"error\":\"libcuda.so.1 has no cuInit\"}\n");
        return 2;
    }
    int code = cu_init(0);
    if (code != 0) return failed("cuInit", code, cu_name);
    int count = 0;
    code = cu_count(&count);
    if (code != 0) return failed("cuDeviceGetCount", code, cu_name);
    int version = 0;
    if (cu_version) cu_version(&version);
    printf("GPU_RUNBOOK_RESULT {\"call\":\"cuDeviceGetCount\",\"code\":0,\"devices\":%d,\"driver_api\":%d}\n", count,
           version);
    return 0;
}

// Stub CUDA driver, runtime and cuBLAS for the ABI tests of package cudart (stub_test.go
// builds it with gcc and links it as libcuda.so.1, libcudart.so.N and libcublas.so.N).
// Host memory stands in for device memory; kernel launches are recorded (name, grid,
// block, parameters read as the driver reads them, from the types in the PTX); the GEMM
// is a naive column-major SGEMM with cuBLAS's argument checks. Every call checks that
// the primary context is current on the calling thread. stub_* functions steer it:
// versions, memory size, and failures of any call by name.
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXA 65536
#define MAXF 512
#define MAXL 4096
#define MAXP 32

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int driver_version = 12020, runtime_version = 12020, device_count = 1;
static size_t mem_limit = (size_t)1 << 30, mem_used;
static struct { char *p; size_t n; } allocs[MAXA];
static int nallocs;
static char fail_name[64];
static int fail_code, fail_after;
static int ctx_errors, bounds_errors, math_mode, gemms, stream_flags, last_error;
static int primary_ctx, the_stream, the_handle;
static __thread void *current_ctx;

// Kernels the modules declare: name and parameter sizes in bytes.
static struct { char name[64]; int np; int size[MAXP]; } funcs[MAXF];
static int nfuncs;
static char *modules[16];
static int nmodules;

struct launch { int fn; unsigned dims[6]; unsigned shmem; void *stream; int np; uint64_t v[MAXP]; };
static struct launch launches[MAXL];
static int nlaunches, total_launches;

// failing reports the code to return when call is the one set to fail.
static int failing(const char *call) {
  pthread_mutex_lock(&mu);
  int rc = 0;
  if (fail_code && strcmp(call, fail_name) == 0) {
    if (fail_after > 0) fail_after--;
    else rc = fail_code;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

static int no_ctx(void) {
  if (current_ctx == &primary_ctx) return 0;
  __sync_fetch_and_add(&ctx_errors, 1);
  return 1;
}

// inside reports whether [p, p+n) lies in one allocation.
static int inside(const void *p, size_t n) {
  const char *c = p;
  pthread_mutex_lock(&mu);
  int ok = 0;
  for (int i = 0; i < nallocs && !ok; i++) ok = c >= allocs[i].p && c + n <= allocs[i].p + allocs[i].n;
  pthread_mutex_unlock(&mu);
  if (!ok) __sync_fetch_and_add(&bounds_errors, 1);
  return ok;
}

#define CHECK(call, ctxcode) \
  do { \
    int rc_ = failing(call); \
    if (rc_) return rc_; \
    if (no_ctx()) return ctxcode; \
  } while (0)

// ---- steering ----
void stub_reset(void) {
  pthread_mutex_lock(&mu);
  driver_version = runtime_version = 12020;
  device_count = 1;
  mem_limit = (size_t)1 << 30;
  fail_code = fail_after = 0;
  ctx_errors = bounds_errors = math_mode = gemms = nlaunches = total_launches = last_error = 0;
  pthread_mutex_unlock(&mu);
}
void stub_set_versions(int drv, int rt) { driver_version = drv; runtime_version = rt; }
void stub_set_devices(int n) { device_count = n; }
void stub_set_mem_limit(size_t n) { mem_limit = n; }
void stub_fail(const char *call, int code, int after) {
  pthread_mutex_lock(&mu);
  snprintf(fail_name, sizeof fail_name, "%s", call);
  fail_code = code;
  fail_after = after;
  pthread_mutex_unlock(&mu);
}
int stub_ctx_errors(void) { return ctx_errors; }
int stub_bounds_errors(void) { return bounds_errors; }
int stub_math_mode(void) { return math_mode; }
int stub_gemms(void) { return gemms; }
int stub_launches(void) { return total_launches; }
size_t stub_mem_used(void) { return mem_used; }
int stub_stream_flags(void) { return stream_flags; }
// stub_launch copies launch i (of the last MAXL): the kernel's name, grid and block,
// and its parameters; it returns the number of parameters, or -1.
int stub_launch(int i, char *name, int namelen, unsigned *dims, uint64_t *vals) {
  if (i < 0 || i >= nlaunches) return -1;
  struct launch *l = &launches[i];
  snprintf(name, namelen, "%s", funcs[l->fn].name);
  memcpy(dims, l->dims, sizeof l->dims);
  memcpy(vals, l->v, sizeof(uint64_t) * l->np);
  return l->np;
}
__attribute__((constructor)) static void stub_init(void) {
  // A fresh process (the ocm binary) is steered by OCM_STUB_FAIL=call:code.
  const char *f = getenv("OCM_STUB_FAIL");
  if (f && strchr(f, ':')) {
    char call[64];
    snprintf(call, sizeof call, "%.*s", (int)(strchr(f, ':') - f), f);
    stub_fail(call, atoi(strchr(f, ':') + 1), 0);
  }
}

// ---- driver API ----
int cuInit(unsigned flags) { return flags ? 1 : failing("cuInit"); }
int cuDriverGetVersion(int *v) { *v = driver_version; return failing("cuDriverGetVersion"); }
int cuDeviceGet(int *dev, int ordinal) { *dev = ordinal; return ordinal < device_count ? failing("cuDeviceGet") : 101; }
int cuDeviceGetName(char *name, int n, int dev) { snprintf(name, n, "Stub GPU %d", dev); return 0; }
int cuDeviceTotalMem_v2(size_t *b, int dev) { (void)dev; *b = mem_limit; return 0; }
int cuDeviceGetAttribute(int *v, int attr, int dev) {
  (void)dev;
  *v = attr == 75 ? 8 : attr == 76 ? 0 : attr == 16 ? 108 : 0;
  return 0;
}
int cuDevicePrimaryCtxRetain(void **ctx, int dev) { (void)dev; *ctx = &primary_ctx; return failing("cuDevicePrimaryCtxRetain"); }
int cuCtxSetCurrent(void *ctx) {
  int rc = failing("cuCtxSetCurrent");
  if (rc) return rc;
  if (ctx != &primary_ctx) return 201; // CUDA_ERROR_INVALID_CONTEXT
  current_ctx = ctx;
  return 0;
}

int cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts, void **vals) {
  CHECK("cuModuleLoadDataEx", 201);
  int rc = failing("cuModuleLoadDataEx(jit)");
  if (rc) {
    for (unsigned i = 0; i < n; i++)
      if (opts[i] == 5) // CU_JIT_ERROR_LOG_BUFFER; its size follows as option 6
        for (unsigned j = 0; j < n; j++)
          if (opts[j] == 6) snprintf(vals[i], (size_t)vals[j], "ptxas fatal   : stub rejects this module");
    return rc;
  }
  if (nmodules == 16) return 2;
  modules[nmodules] = strdup(image);
  *mod = (void *)(intptr_t)(nmodules + 1);
  nmodules++;
  return 0;
}

// cuModuleGetFunction finds ".visible .entry name(" in the module and records the
// sizes of its parameters (.u64 and .b64 are 8 bytes, the rest 4).
int cuModuleGetFunction(void **fn, void *mod, const char *name) {
  CHECK("cuModuleGetFunction", 201);
  intptr_t m = (intptr_t)mod;
  if (m < 1 || m > nmodules) return 400; // CUDA_ERROR_INVALID_HANDLE
  char pat[128];
  snprintf(pat, sizeof pat, ".visible .entry %s(", name);
  const char *p = strstr(modules[m - 1], pat);
  if (!p) return 500; // CUDA_ERROR_NOT_FOUND
  pthread_mutex_lock(&mu);
  int f = nfuncs < MAXF ? nfuncs++ : MAXF - 1;
  snprintf(funcs[f].name, sizeof funcs[f].name, "%s", name);
  funcs[f].np = 0;
  const char *end = strchr(p, ')');
  for (const char *q = strstr(p, ".param "); q && q < end && funcs[f].np < MAXP; q = strstr(q + 1, ".param ")) {
    funcs[f].size[funcs[f].np++] = (strncmp(q + 7, ".u64", 4) == 0 || strncmp(q + 7, ".b64", 4) == 0) ? 8 : 4;
  }
  pthread_mutex_unlock(&mu);
  *fn = (void *)(intptr_t)(f + 1);
  return 0;
}

int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shmem, void *stream, void **params, void **extra) {
  CHECK("cuLaunchKernel", 201);
  intptr_t fi = (intptr_t)f - 1;
  if (fi < 0 || fi >= nfuncs || extra != NULL || gx == 0 || bx == 0 || bx * by * bz > 1024) return 1;
  if (stream != &the_stream) return 400;
  pthread_mutex_lock(&mu);
  struct launch *l = &launches[nlaunches < MAXL ? nlaunches++ : MAXL - 1];
  l->fn = (int)fi;
  unsigned d[6] = {gx, gy, gz, bx, by, bz};
  memcpy(l->dims, d, sizeof d);
  l->shmem = shmem;
  l->stream = stream;
  l->np = funcs[fi].np;
  for (int i = 0; i < l->np; i++) {
    l->v[i] = 0;
    memcpy(&l->v[i], params[i], funcs[fi].size[i]);
  }
  total_launches++;
  pthread_mutex_unlock(&mu);
  return 0;
}

int cuMemsetD32Async(void *p, unsigned v, size_t n, void *stream) {
  CHECK("cuMemsetD32Async", 201);
  if (stream != &the_stream || !inside(p, n * 4)) return 1;
  for (size_t i = 0; i < n; i++) ((unsigned *)p)[i] = v;
  return 0;
}

// ---- runtime API ----
int cudaRuntimeGetVersion(int *v) { *v = runtime_version; return failing("cudaRuntimeGetVersion"); }
int cudaGetDeviceCount(int *n) { *n = device_count; return device_count ? failing("cudaGetDeviceCount") : 100; }
int cudaSetDevice(int dev) { CHECK("cudaSetDevice", 201); return dev < device_count ? 0 : 101; }
int cudaGetLastError(void) { int e = last_error; last_error = 0; return e; }

int cudaMalloc(void **p, size_t n) {
  CHECK("cudaMalloc", 201);
  pthread_mutex_lock(&mu);
  int rc = 0;
  if (mem_used + n > mem_limit || nallocs == MAXA) {
    rc = last_error = 2; // cudaErrorMemoryAllocation
  } else {
    allocs[nallocs].p = aligned_alloc(256, (n + 255) / 256 * 256);
    allocs[nallocs].n = n;
    *p = allocs[nallocs++].p;
    mem_used += n;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

int cudaFree(void *p) {
  CHECK("cudaFree", 201);
  pthread_mutex_lock(&mu);
  int rc = 1;
  for (int i = 0; i < nallocs; i++)
    if (allocs[i].p == p) {
      free(p);
      mem_used -= allocs[i].n;
      allocs[i] = allocs[--nallocs];
      rc = 0;
      break;
    }
  pthread_mutex_unlock(&mu);
  return rc;
}

int cudaMemGetInfo(size_t *free_, size_t *total) {
  CHECK("cudaMemGetInfo", 201);
  *free_ = mem_limit - mem_used;
  *total = mem_limit;
  return 0;
}

// kind: 1 host to device, 2 device to host, 3 device to device.
int cudaMemcpyAsync(void *dst, const void *src, size_t n, int kind, void *stream) {
  CHECK("cudaMemcpyAsync", 201);
  if (stream != &the_stream || kind < 1 || kind > 3) return 1;
  if ((kind != 2 && !inside(dst, n)) || (kind != 1 && !inside(src, n))) return 1;
  memmove(dst, src, n);
  return 0;
}

int cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                      int kind, void *stream) {
  CHECK("cudaMemcpy2DAsync", 201);
  if (stream != &the_stream || kind != 3 || width > dpitch || width > spitch || height == 0) return 1;
  if (!inside(dst, dpitch * (height - 1) + width) || !inside(src, spitch * (height - 1) + width)) return 1;
  for (size_t r = 0; r < height; r++) memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
  return 0;
}

int cudaMemsetAsync(void *p, int v, size_t n, void *stream) {
  CHECK("cudaMemsetAsync", 201);
  if (stream != &the_stream || !inside(p, n)) return 1;
  memset(p, v, n);
  return 0;
}

int cudaStreamCreateWithFlags(void **s, unsigned flags) {
  CHECK("cudaStreamCreateWithFlags", 201);
  stream_flags = (int)flags;
  *s = &the_stream;
  return 0;
}
int cudaStreamSynchronize(void *s) { CHECK("cudaStreamSynchronize", 201); return s == &the_stream ? 0 : 400; }

// ---- cuBLAS ----
int cublasCreate_v2(void **h) { CHECK("cublasCreate_v2", 1); *h = &the_handle; return 0; }
int cublasSetStream_v2(void *h, void *s) { CHECK("cublasSetStream_v2", 1); return h == &the_handle && s == &the_stream ? 0 : 7; }
int cublasSetMathMode(void *h, int mode) { CHECK("cublasSetMathMode", 1); math_mode = mode; return h == &the_handle ? 0 : 7; }
int cublasGetProperty(int type, int *v) { *v = type == 0 ? 11 : type == 1 ? 8 : 1; return 0; }

// cublasSgemmStridedBatched: C_b = α·op(A_b)·op(B_b) + β·C_b, column-major, with the
// argument checks of cuBLAS (CUBLAS_STATUS_INVALID_VALUE = 7) and a bounds check of
// every matrix against the allocations (CUBLAS_STATUS_EXECUTION_FAILED = 13).
int cublasSgemmStridedBatched(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A,
                              int lda, long long sa, const float *B, int ldb, long long sb, const float *beta,
                              float *C, int ldc, long long sc, int batch) {
  CHECK("cublasSgemmStridedBatched", 1);
  if (h != &the_handle) return 1;
  if (ta < 0 || ta > 2 || tb < 0 || tb > 2 || m < 0 || n < 0 || k < 0 || batch < 0) return 7;
  int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1)) return 7;
  if (m == 0 || n == 0 || batch == 0) return 0;
  if (k > 0 && (!inside(A, 4 * ((size_t)(batch - 1) * sa + (size_t)lda * (ac - 1) + ar)) ||
                !inside(B, 4 * ((size_t)(batch - 1) * sb + (size_t)ldb * (bc - 1) + br))))
    return 13;
  if (!inside(C, 4 * ((size_t)(batch - 1) * sc + (size_t)ldc * (n - 1) + m))) return 13;
  for (int b = 0; b < batch; b++) {
    const float *a = A + b * sa, *bb = B + b * sb;
    float *c = C + b * sc;
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        double s = 0;
        for (int p = 0; p < k; p++) s += (double)(ta ? a[p + i * lda] : a[i + p * lda]) * (tb ? bb[j + p * ldb] : bb[p + j * ldb]);
        float r = (float)(*alpha * s);
        c[i + j * ldc] = *beta == 0 ? r : r + *beta * c[i + j * ldc];
      }
  }
  __sync_fetch_and_add(&gemms, 1);
  return 0;
}

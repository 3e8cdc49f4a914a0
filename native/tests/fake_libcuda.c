// A stand-in for the NVIDIA driver library (libcuda.so.1), so probe()'s driver paths can be tested on
// machines without a GPU: test/unit/native-probe.test.ts builds it and puts it on LD_LIBRARY_PATH.
// It answers what probe.cu and cudart ask first: cuDriverGetVersion reports FAKE_CUDA_DRIVER_VERSION
// (e.g. 12040 = CUDA 12.4) and cuInit returns FAKE_CUDA_INIT_RESULT as a CUresult (100 = no device).
#include <stdlib.h>

static int env_int(const char* name, int fallback) {
  const char* value = getenv(name);
  return value ? atoi(value) : fallback;
}

int cuDriverGetVersion(int* version) {
  *version = env_int("FAKE_CUDA_DRIVER_VERSION", 12040);
  return 0;
}

int cuInit(unsigned int flags) {
  (void)flags;
  return env_int("FAKE_CUDA_INIT_RESULT", 100);
}

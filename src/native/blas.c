/*
 * vae-lab's native matrix product: OpenBLAS's cblas_sgemm behind a small N-API function, so that
 * TensorFlow.js's wasm backend can run BatchMatMul through an optimised BLAS (see src/native-kernels.ts).
 *
 * sgemm(heap, aOffset, bOffset, cOffset, batch, strideA, strideB, M, N, K, transposeA, transposeB)
 *   heap: a Float32Array over the whole wasm memory; offsets and strides are in elements.
 *   For i < batch: C_i (M×N, row-major) = op(A_i) · op(B_i), A_i at aOffset + i·strideA, B_i at
 *   bOffset + i·strideB, C_i at cOffset + i·M·N (a stride of 0 broadcasts one operand).
 * setThreads(n): OpenBLAS threads (default 1, like the single-threaded backends it is compared with).
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>

extern void openblas_set_num_threads(int);

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "vae-lab native sgemm: bad arguments"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

static int64_t int_arg(napi_env env, napi_value v, int* ok) {
  int64_t x = 0;
  if (napi_get_value_int64(env, v, &x) != napi_ok) *ok = 0;
  return x;
}

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value args[12];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc != 12) {
    napi_throw_error(env, NULL, "vae-lab native sgemm: expected 12 arguments");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t byte_offset;
  CHECK(napi_get_typedarray_info(env, args[0], &type, &length, &data, &buffer, &byte_offset));
  if (type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "vae-lab native sgemm: heap must be a Float32Array");
    return NULL;
  }
  int ok = 1;
  int64_t a_off = int_arg(env, args[1], &ok), b_off = int_arg(env, args[2], &ok), c_off = int_arg(env, args[3], &ok);
  int64_t batch = int_arg(env, args[4], &ok), stride_a = int_arg(env, args[5], &ok), stride_b = int_arg(env, args[6], &ok);
  int64_t m = int_arg(env, args[7], &ok), n = int_arg(env, args[8], &ok), k = int_arg(env, args[9], &ok);
  bool ta = false, tb = false;
  CHECK(napi_get_value_bool(env, args[10], &ta));
  CHECK(napi_get_value_bool(env, args[11], &tb));
  if (!ok || batch < 1 || m < 1 || n < 1 || k < 1 || a_off < 0 || b_off < 0 || c_off < 0 || stride_a < 0 || stride_b < 0) {
    napi_throw_range_error(env, NULL, "vae-lab native sgemm: bad sizes or offsets");
    return NULL;
  }
  int64_t len = (int64_t)length;
  if (a_off + (batch - 1) * stride_a + m * k > len || b_off + (batch - 1) * stride_b + k * n > len || c_off + batch * m * n > len) {
    napi_throw_range_error(env, NULL, "vae-lab native sgemm: operands outside the heap");
    return NULL;
  }
  float* heap = (float*)data;
  const int lda = ta ? (int)m : (int)k;
  const int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                heap + a_off + i * stride_a, lda, heap + b_off + i * stride_b, ldb, 0.0f, heap + c_off + i * m * n, (int)n);
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int32_t n = 1;
  CHECK(napi_get_value_int32(env, args[0], &n));
  openblas_set_num_threads(n < 1 ? 1 : n);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sgemm", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, SetThreads, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "setThreads", fn) != napi_ok) return NULL;
  openblas_set_num_threads(1);
  return exports;
}

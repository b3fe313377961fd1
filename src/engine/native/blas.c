/*
 * vae-lab's native kernels for TensorFlow.js's wasm backend (see src/native-kernels.ts): the matrix
 * product through OpenBLAS's cblas_sgemm, and a fused Adam update, each a small N-API function that works
 * on the wasm heap in place.
 *
 * sgemm(heap, aOffset, bOffset, cOffset, batch, strideA, strideB, M, N, K, transposeA, transposeB)
 *   heap: a Float32Array over the whole wasm memory; offsets and strides are in elements.
 *   For i < batch: C_i (M×N, row-major) = op(A_i) · op(B_i), A_i at aOffset + i·strideA, B_i at
 *   bOffset + i·strideB, C_i at cOffset + i·M·N (a stride of 0 broadcasts one operand).
 * setThreads(n): OpenBLAS threads (default 1, like the single-threaded backends it is compared with).
 * coreName(): the kernel set OpenBLAS chose for this CPU ("SkylakeX", "Haswell", "Prescott", ...); a
 *   dynamic-arch build picks it when the library loads, from the CPU or from OPENBLAS_CORETYPE.
 * adam(heap, pOffset, gOffset, mOffset, vOffset, n, lr, beta1, beta2, epsilon, beta1Power, beta2Power):
 *   one Adam step in place, the formula of tf.train.adam and torch.optim.Adam:
 *   m = β1 m + (1−β1) g,  v = β2 v + (1−β2) g²,  p −= lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
 * conv2d(heap, mode, aOffset, bOffset, cOffset, batch, inH, inW, inC, outH, outW, outC, fH, fW, strideH,
 *        strideW, padTop, padLeft, dilationH, dilationW): the three products of a 2-D convolution in NHWC
 *   layout with a filter of shape [fH, fW, inC, outC], through im2col and sgemm. With the im2col matrix
 *   X̂ (one row per output pixel, one column per filter tap (fy, fx, c)), and W, dy as matrices:
 *   mode 0 (forward):          y = X̂ · W,   a = x, b = W, c = y;
 *   mode 1 (input gradient):   dx = col2im(dy · Wᵀ),   a = dy, b = W, c = dx;
 *   mode 2 (filter gradient):  dW = X̂ᵀ · dy,   a = x, b = dy, c = dW.
 *   Images are processed in chunks so the im2col scratch stays near 16 MB (setConvScratch(floats) sets
 *   that budget; a small one makes every image its own chunk, which the tests use).
 * bernoulliNll(heap, lOffset, xOffset, nllOffset, gradOffset, rows, cols, scale): for logits l and targets x
 *   (rows×cols), nll[r] = Σ_j softplus(l) − l·x, computed as max(l, 0) − l·x + log1p(e^{−|l|}), and, unless
 *   gradOffset is −1, grad = (σ(l) − x) · scale, its derivative, from the same e^{−|l|}. The exp and log1p
 *   are glibc's vector math library (libmvec), which the compiler calls for whole SIMD registers. The NLL
 *   of a call with the gradient is bit for bit the NLL of one without (one function computes both); against
 *   float64 it is close, not exact, and how close depends on the CPU's vector width.
 */
#include <math.h>
/* The vector variants of these in glibc's libmvec (declared by math.h only under -ffast-math, which would
 * also drop NaN semantics): with them the loop of BernoulliNll is vectorised. */
float expf(float) __attribute__((simd("notinbranch")));
float log1pf(float) __attribute__((simd("notinbranch")));
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void openblas_set_num_threads(int);
extern char* openblas_get_corename(void);

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

/*
 * The start of every call: exactly `n` arguments, the first a Float32Array over the wasm heap. Returns the
 * heap (its length in *length), or NULL with a JS exception naming the function `who`.
 */
static float* begin_call(napi_env env, napi_callback_info info, size_t n, napi_value* args, const char* who, int64_t* length) {
  char msg[96];
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != n) {
    snprintf(msg, sizeof msg, "vae-lab native %s: expected %zu arguments", who, n);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_typedarray_type type;
  size_t len;
  void* data;
  napi_value buffer;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, args[0], &type, &len, &data, &buffer, &byte_offset) != napi_ok || type != napi_float32_array) {
    snprintf(msg, sizeof msg, "vae-lab native %s: heap must be a Float32Array", who);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  *length = (int64_t)len;
  return (float*)data;
}

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value args[12];
  int64_t len;
  float* heap = begin_call(env, info, 12, args, "sgemm", &len);
  if (!heap) return NULL;
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
  if (a_off + (batch - 1) * stride_a + m * k > len || b_off + (batch - 1) * stride_b + k * n > len || c_off + batch * m * n > len) {
    napi_throw_range_error(env, NULL, "vae-lab native sgemm: operands outside the heap");
    return NULL;
  }
  const int lda = ta ? (int)m : (int)k;
  const int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                heap + a_off + i * stride_a, lda, heap + b_off + i * stride_b, ldb, 0.0f, heap + c_off + i * m * n, (int)n);
  }
  return NULL;
}

static napi_value Adam(napi_env env, napi_callback_info info) {
  napi_value args[12];
  int64_t len;
  float* heap = begin_call(env, info, 12, args, "adam", &len);
  if (!heap) return NULL;
  int ok = 1;
  int64_t p_off = int_arg(env, args[1], &ok), g_off = int_arg(env, args[2], &ok), m_off = int_arg(env, args[3], &ok);
  int64_t v_off = int_arg(env, args[4], &ok), n = int_arg(env, args[5], &ok);
  double lr, b1, b2, eps, b1p, b2p;
  CHECK(napi_get_value_double(env, args[6], &lr));
  CHECK(napi_get_value_double(env, args[7], &b1));
  CHECK(napi_get_value_double(env, args[8], &b2));
  CHECK(napi_get_value_double(env, args[9], &eps));
  CHECK(napi_get_value_double(env, args[10], &b1p));
  CHECK(napi_get_value_double(env, args[11], &b2p));
  if (!ok || n < 0 || p_off < 0 || g_off < 0 || m_off < 0 || v_off < 0 || p_off + n > len || g_off + n > len || m_off + n > len || v_off + n > len) {
    napi_throw_range_error(env, NULL, "vae-lab native adam: bad sizes or offsets");
    return NULL;
  }
  float* p = heap + p_off;
  const float* g = heap + g_off;
  float* m = heap + m_off;
  float* v = heap + v_off;
  const float fb1 = (float)b1, fb2 = (float)b2, c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
  const float step = (float)(lr / (1.0 - b1p)), inv_bc2 = (float)(1.0 / (1.0 - b2p)), feps = (float)eps;
  /* One division and one square root per element; -fno-math-errno lets the compiler vectorise sqrtf. */
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = fb1 * m[i] + c1 * gi;
    const float vi = fb2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi * inv_bc2) + feps);
  }
  return NULL;
}

/*
 * One row's Σ_j softplus(l) − l·x, leaving e^{−|l_j|} in t[j] for the gradient. Both the forward-only call
 * and the fused forward+gradient call get their NLL from this one function, so they return the same bits on
 * every CPU: the vectorised exp and log1p differ from CPU to CPU (glibc picks AVX2 or AVX-512 variants), and
 * two loops compiled apart may also differ in how they vectorise, but one compiled loop run twice on the same
 * input does not. noinline/noclone keep the compiler from specialising a copy for either caller.
 */
static float __attribute__((noinline, noclone)) row_nll(const float* l, const float* x, float* t, int64_t cols) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < cols; j++) {
    const float v = l[j], e = expf(-fabsf(v));
    t[j] = e;
    sum += (v > 0.0f ? v : 0.0f) - v * x[j] + log1pf(e);
  }
  return sum;
}

static napi_value BernoulliNll(napi_env env, napi_callback_info info) {
  napi_value args[8];
  int64_t len;
  float* heap = begin_call(env, info, 8, args, "bernoulliNll", &len);
  if (!heap) return NULL;
  int ok = 1;
  int64_t l_off = int_arg(env, args[1], &ok), x_off = int_arg(env, args[2], &ok), nll_off = int_arg(env, args[3], &ok);
  int64_t g_off = int_arg(env, args[4], &ok), rows = int_arg(env, args[5], &ok), cols = int_arg(env, args[6], &ok);
  double scale;
  CHECK(napi_get_value_double(env, args[7], &scale));
  const int64_t n = rows * cols;
  if (!ok || rows < 0 || cols < 0 || l_off < 0 || x_off < 0 || nll_off < 0 || g_off < -1 || l_off + n > len || x_off + n > len ||
      nll_off + rows > len || g_off + n > len) {
    napi_throw_range_error(env, NULL, "vae-lab native bernoulliNll: bad sizes or offsets");
    return NULL;
  }
  /* The gradient's place holds e^{−|l|} before the gradient, so it must not share memory with l or x. */
  if (g_off >= 0 && n > 0 && ((g_off < l_off + n && l_off < g_off + n) || (g_off < x_off + n && x_off < g_off + n))) {
    napi_throw_range_error(env, NULL, "vae-lab native bernoulliNll: the gradient overlaps the logits or the targets");
    return NULL;
  }
  /* e^{−|l|} goes into the gradient's own place when there is one, else into a scratch row. */
  float* row_scratch = NULL;
  if (g_off < 0 && cols > 0) {
    row_scratch = (float*)malloc((size_t)cols * sizeof(float));
    if (!row_scratch) {
      napi_throw_error(env, NULL, "vae-lab native bernoulliNll: out of memory");
      return NULL;
    }
  }
  const float fscale = (float)scale;
  for (int64_t r = 0; r < rows; r++) {
    const float* l = heap + l_off + r * cols;
    const float* x = heap + x_off + r * cols;
    float* g = g_off >= 0 ? heap + g_off + r * cols : NULL;
    heap[nll_off + r] = row_nll(l, x, g ? g : row_scratch, cols);
    if (g) {
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        const float v = l[j], t = g[j];
        const float inv = 1.0f / (1.0f + t); /* σ(|v|) */
        g[j] = ((v >= 0.0f ? inv : t * inv) - x[j]) * fscale;
      }
    }
  }
  free(row_scratch);
  return NULL;
}

/* Geometry of one convolution (NHWC; filter [fh, fw, ci, co]). */
typedef struct {
  int64_t batch, ih, iw, ci, oh, ow, co, fh, fw, sh, sw, pt, pl, dh, dw;
} ConvGeom;

/* Floats of im2col scratch per chunk of images (at least one image); setConvScratch changes it (tests). */
static int64_t chunk_floats = (int64_t)1 << 22;
static float* scratch = NULL;
static size_t scratch_len = 0;

static float* scratch_for(size_t n) {
  if (n > scratch_len) {
    float* p = (float*)realloc(scratch, n * sizeof(float));
    if (!p) return NULL;
    scratch = p;
    scratch_len = n;
  }
  return scratch;
}

/* im2col of images [b0, b0 + nb): row ((b − b0)·oh + oy)·ow + ox, column (fy·fw + fx)·ci + c. */
static void im2col(const float* x, float* cols, const ConvGeom* g, int64_t b0, int64_t nb) {
  const int64_t K = g->fh * g->fw * g->ci;
  for (int64_t b = 0; b < nb; b++) {
    const float* xb = x + (b0 + b) * g->ih * g->iw * g->ci;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      for (int64_t ox = 0; ox < g->ow; ox++) {
        float* row = cols + ((b * g->oh + oy) * g->ow + ox) * K;
        for (int64_t fy = 0; fy < g->fh; fy++) {
          const int64_t iy = oy * g->sh - g->pt + fy * g->dh;
          for (int64_t fx = 0; fx < g->fw; fx++) {
            const int64_t ix = ox * g->sw - g->pl + fx * g->dw;
            float* dst = row + (fy * g->fw + fx) * g->ci;
            if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) {
              memset(dst, 0, (size_t)g->ci * sizeof(float));
            } else {
              memcpy(dst, xb + (iy * g->iw + ix) * g->ci, (size_t)g->ci * sizeof(float));
            }
          }
        }
      }
    }
  }
}

/* The adjoint of im2col: add each column entry back to the input pixel it was copied from (dx pre-zeroed). */
static void col2im(const float* cols, float* dx, const ConvGeom* g, int64_t b0, int64_t nb) {
  const int64_t K = g->fh * g->fw * g->ci;
  for (int64_t b = 0; b < nb; b++) {
    float* xb = dx + (b0 + b) * g->ih * g->iw * g->ci;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      for (int64_t ox = 0; ox < g->ow; ox++) {
        const float* row = cols + ((b * g->oh + oy) * g->ow + ox) * K;
        for (int64_t fy = 0; fy < g->fh; fy++) {
          const int64_t iy = oy * g->sh - g->pt + fy * g->dh;
          if (iy < 0 || iy >= g->ih) continue;
          for (int64_t fx = 0; fx < g->fw; fx++) {
            const int64_t ix = ox * g->sw - g->pl + fx * g->dw;
            if (ix < 0 || ix >= g->iw) continue;
            const float* src = row + (fy * g->fw + fx) * g->ci;
            float* dst = xb + (iy * g->iw + ix) * g->ci;
            for (int64_t c = 0; c < g->ci; c++) dst[c] += src[c];
          }
        }
      }
    }
  }
}

static napi_value Conv2d(napi_env env, napi_callback_info info) {
  napi_value args[20];
  int64_t len;
  float* heap = begin_call(env, info, 20, args, "conv2d", &len);
  if (!heap) return NULL;
  int ok = 1;
  const int64_t mode = int_arg(env, args[1], &ok);
  const int64_t a_off = int_arg(env, args[2], &ok), b_off = int_arg(env, args[3], &ok), c_off = int_arg(env, args[4], &ok);
  int64_t v[15];
  for (int i = 0; i < 15; i++) v[i] = int_arg(env, args[5 + i], &ok);
  const ConvGeom g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  int good = ok && mode >= 0 && mode <= 2 && a_off >= 0 && b_off >= 0 && c_off >= 0;
  for (int i = 0; i < 15; i++) good = good && (i == 11 || i == 12 ? v[i] >= 0 : v[i] >= 1);
  if (!good) {
    napi_throw_range_error(env, NULL, "vae-lab native conv2d: bad sizes or offsets");
    return NULL;
  }
  const int64_t xn = g.batch * g.ih * g.iw * g.ci, yn = g.batch * g.oh * g.ow * g.co, wn = g.fh * g.fw * g.ci * g.co;
  const int64_t an = mode == 1 ? yn : xn, bn = mode == 2 ? yn : wn, cn = mode == 0 ? yn : mode == 1 ? xn : wn;
  if (a_off + an > len || b_off + bn > len || c_off + cn > len) {
    napi_throw_range_error(env, NULL, "vae-lab native conv2d: operands outside the heap");
    return NULL;
  }
  const int64_t K = g.fh * g.fw * g.ci, pix = g.oh * g.ow;
  int64_t chunk = chunk_floats / (pix * K);
  if (chunk < 1) chunk = 1;
  if (chunk > g.batch) chunk = g.batch;
  float* cols = scratch_for((size_t)(chunk * pix * K));
  if (!cols) {
    napi_throw_error(env, NULL, "vae-lab native conv2d: out of memory");
    return NULL;
  }
  const float* A = heap + a_off;
  const float* B = heap + b_off;
  float* C = heap + c_off;
  if (mode == 1) memset(C, 0, (size_t)xn * sizeof(float));
  for (int64_t b0 = 0; b0 < g.batch; b0 += chunk) {
    const int64_t nb = g.batch - b0 < chunk ? g.batch - b0 : chunk;
    const int rows = (int)(nb * pix);
    if (mode == 0) {
      im2col(A, cols, &g, b0, nb);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)g.co, (int)K, 1.0f, cols, (int)K, B, (int)g.co, 0.0f,
                  C + b0 * pix * g.co, (int)g.co);
    } else if (mode == 1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, (int)K, (int)g.co, 1.0f, A + b0 * pix * g.co, (int)g.co, B, (int)g.co, 0.0f,
                  cols, (int)K);
      col2im(cols, C, &g, b0, nb);
    } else {
      im2col(A, cols, &g, b0, nb);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)g.co, rows, 1.0f, cols, (int)K, B + b0 * pix * g.co, (int)g.co,
                  b0 == 0 ? 0.0f : 1.0f, C, (int)g.co);
    }
  }
  return NULL;
}

/** The one integer argument of a setter, raised to at least 1; napi_ok or the failing call's status. */
static napi_status positive_int_arg(napi_env env, napi_callback_info info, int64_t* n) {
  size_t argc = 1;
  napi_value args[1];
  napi_status st = napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (st == napi_ok) st = napi_get_value_int64(env, args[0], n);
  if (st == napi_ok && *n < 1) *n = 1;
  return st;
}

static napi_value SetConvScratch(napi_env env, napi_callback_info info) {
  int64_t n = 1;
  CHECK(positive_int_arg(env, info, &n));
  chunk_floats = n;
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  int64_t n = 1;
  CHECK(positive_int_arg(env, info, &n));
  openblas_set_num_threads(n > INT32_MAX ? INT32_MAX : (int)n);
  return NULL;
}

static napi_value CoreName(napi_env env, napi_callback_info info) {
  (void)info;
  const char* name = openblas_get_corename();
  napi_value out;
  CHECK(napi_create_string_utf8(env, name ? name : "unknown", NAPI_AUTO_LENGTH, &out));
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sgemm", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, SetThreads, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "setThreads", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "adam", NAPI_AUTO_LENGTH, Adam, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "adam", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "bernoulliNll", NAPI_AUTO_LENGTH, BernoulliNll, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "bernoulliNll", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "coreName", NAPI_AUTO_LENGTH, CoreName, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "coreName", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "conv2d", NAPI_AUTO_LENGTH, Conv2d, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "conv2d", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "setConvScratch", NAPI_AUTO_LENGTH, SetConvScratch, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "setConvScratch", fn) != napi_ok) return NULL;
  openblas_set_num_threads(1);
  return exports;
}

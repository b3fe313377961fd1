/*
 * vae-lab's native kernels for TensorFlow.js's wasm backend (see src/engine/native-kernels.ts): the matrix
 * product through OpenBLAS's cblas_sgemm, a fused Adam update, the Bernoulli loss, convolutions, and the MLP
 * VAE's whole gradient, each a small N-API function that works on the wasm heap in place.
 *
 * sgemm(heap, aOffset, bOffset, cOffset, batch, strideA, strideB, M, N, K, transposeA, transposeB)
 *   heap: a Float32Array over the whole wasm memory; offsets and strides are in elements.
 *   For i < batch: C_i (M×N, row-major) = op(A_i) · op(B_i), A_i at aOffset + i·strideA, B_i at
 *   bOffset + i·strideB, C_i at cOffset + i·M·N (a stride of 0 broadcasts one operand).
 * setThreads(n): threads (default 1, like the single-threaded backends it is compared with): OpenBLAS's, and
 *   those of the kernels that split their own work over a small pool of workers — mlpGradients and conv2d
 *   (the batch in parts), biasRelu and biasReluGrad (rows in parts) and adam (a large variable in slices).
 * coreName(): the kernel set OpenBLAS chose for this CPU ("SkylakeX", "Haswell", "Prescott", ...); a
 *   dynamic-arch build picks it when the library loads, from the CPU or from OPENBLAS_CORETYPE.
 * adam(heap, pOffset, gOffset, mOffset, vOffset, n, lr, beta1, beta2, epsilon, beta1Power, beta2Power):
 *   one Adam step in place, the formula of tf.train.adam and torch.optim.Adam:
 *   m = β1 m + (1−β1) g,  v = β2 v + (1−β2) g²,  p −= lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
 *   Each element's update is independent, so slicing it over threads gives the same bits.
 * mlpGradients(heap, plan, result): the MLP VAE's negative ELBO and every weight's gradient; see below.
 * conv2d(heap, mode, aOffset, bOffset, cOffset, batch, inH, inW, inC, outH, outW, outC, fH, fW, strideH,
 *        strideW, padTop, padLeft, dilationH, dilationW): the three products of a 2-D convolution in NHWC
 *   layout with a filter of shape [fH, fW, inC, outC], through im2col and sgemm. With the im2col matrix
 *   X̂ (one row per output pixel, one column per filter tap (fy, fx, c)), and W, dy as matrices:
 *   mode 0 (forward):          y = X̂ · W,   a = x, b = W, c = y;
 *   mode 1 (input gradient):   dx = col2im(dy · Wᵀ),   a = dy, b = W, c = dx;
 *   mode 2 (filter gradient):  dW = X̂ᵀ · dy,   a = x, b = dy, c = dW.
 *   Images are processed in chunks so the im2col scratch stays near 512 KB per thread (setConvScratch(floats) sets
 *   that budget and returns the one it replaces; a small one makes every image its own chunk, which the
 *   tests use). With one input channel (inC = 1) the same three sums are computed by direct loops instead
 *   (see conv1_forward).
 * conv2dTransposeBiasRelu(heap, dyOffset, wOffset, yOffset, batch, … dilationW, bOffset): mode 1 of conv2d
 *   (a transposed convolution's output y from its input dy), then y = max(y + b, 0) with b of inC values,
 *   image by image while each is in the cache: the same floats as conv2d then biasRelu.
 * transposePair(heap, x, W1, b, W2, a, y, geometry1…, geometry2…) and transposePairGrad(heap, dy, W2, a, x, W1,
 *   dx, dW1, db, dW2, geometry1…, geometry2…): a = relu(conv2dTranspose(x, W1) + b), y = conv2dTranspose(a, W2)
 *   to one channel (3 × 3), and their backward pass, a chunk of images at a time (see pair_forward_task).
 * biasRelu(heap, xOffset, bOffset, yOffset, rows, channels): a layer's bias and ReLU in one pass,
 *   y = max(x + b, 0) for `rows` rows of `channels` values (b has one per channel; NaN stays NaN).
 * biasReluGrad(heap, dyOffset, yOffset, dxOffset, dbOffset, rows, channels): its gradient from its output y,
 *   dx = dy where y > 0, else 0 (NaN where y is NaN), and db = Σ_rows dx, summed in float64 per channel.
 * bernoulliNll(heap, lOffset, xOffset, nllOffset, gradOffset, rows, cols, scale): for logits l and targets x
 *   (rows×cols), nll[r] = Σ_j softplus(l) − l·x, computed as max(l, 0) − l·x + log1p(e^{−|l|}), and, unless
 *   gradOffset is −1, grad = (σ(l) − x) · scale, its derivative, from the same e^{−|l|}. The exp and log1p
 *   are glibc's vector math library (libmvec), which the compiler calls for whole SIMD registers. The NLL
 *   of a call with the gradient is bit for bit the NLL of one without (one function computes both); against
 *   float64 it is close, not exact, and how close depends on the CPU's vector width.
 */
#include <float.h>
#include <math.h>
/* The vector variants of these in glibc's libmvec (declared by math.h only under -ffast-math, which would
 * also drop NaN semantics): with them the loop of BernoulliNll is vectorised. */
float expf(float) __attribute__((simd("notinbranch")));
float log1pf(float) __attribute__((simd("notinbranch")));
#include <node_api.h>
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void openblas_set_num_threads(int);
extern char* openblas_get_corename(void);

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "vae-lab native sgemm: bad arguments"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

/* An integer argument: a number that is a whole number of magnitude at most 2⁵³, else *ok = 0 (NaN, ±Infinity,
 * 1.5 and 2⁶³ are refused, not read as 0, 1 or INT64_MAX). With every offset and size this small, an offset
 * plus a size cannot overflow; products of sizes are bounded in double (within_heap) before they are formed. */
static int64_t int_arg(napi_env env, napi_value v, int* ok) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d) {
    *ok = 0;
    return 0;
  }
  return (int64_t)d;
}

/* Whether [off, off + size) lies on a heap of len floats, with size given in double: exact up to 2⁵³, and a
 * larger (rounded) one is still larger than any heap, so no int64 product of sizes can overflow unseen. */
static int within_heap(int64_t off, double size, int64_t len) {
  return off >= 0 && size >= 0 && (double)off + size <= (double)len;
}

/* The data of typed array `v` if it is one of `type` (its length in *length), else NULL. */
static void* typed_array_data(napi_env env, napi_value v, napi_typedarray_type type, size_t* length) {
  napi_typedarray_type actual;
  void* data;
  napi_value buffer;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, v, &actual, length, &data, &buffer, &byte_offset) != napi_ok || actual != type) return NULL;
  return data;
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
  size_t len;
  void* data = typed_array_data(env, args[0], napi_float32_array, &len);
  if (!data) {
    snprintf(msg, sizeof msg, "vae-lab native %s: heap must be a Float32Array", who);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  *length = (int64_t)len;
  return (float*)data;
}

/* A grow-only buffer: *buf holding at least n floats (reallocated when smaller), or NULL when out of memory. */
static float* grown(float** buf, size_t* len, size_t n) {
  if (n > *len) {
    float* p = (float*)realloc(*buf, n * sizeof(float));
    if (!p) return NULL;
    *buf = p;
    *len = n;
  }
  return *buf;
}

/*
 * A small pool of worker threads for the kernels that split their work (setThreads(n): n − 1 workers beside
 * the calling thread, started when first needed and then kept, idle in a condition wait). A worker keeps its
 * caches and OpenBLAS's per-thread buffers warm from call to call, which a thread started per call does not.
 * pool_run runs task k on worker k (k ≥ 1) and task 0 on the caller, and returns when all are done; where a
 * worker cannot be started, or another call is using the pool, the caller runs every task itself.
 */
#define POOL_MAX 16
/* How long a thread keeps checking for its signal before it sleeps, in nanoseconds. A sleeping core of a
 * virtual machine can take a tenth of a millisecond to wake, and a training step's calls follow each other
 * with a few tenths of a millisecond of JavaScript between them: a worker that waits awake through that gap
 * is there at the next call; it sleeps when nothing has called for half a millisecond. */
#ifndef POOL_SPIN_NS
#define POOL_SPIN_NS 500000
#endif
static inline int64_t pool_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
/* After pause i of a spin (every 64th): whether its time is over; every 256th the core is also offered to any
 * other thread that is ready to run (on a machine with fewer free cores than threads, the one being waited
 * for, which a spin that kept its core would hold off for a whole time slice). */
static inline int pool_spin_over(int i, int64_t until) {
  if (i % 64) return 0;
  if (pool_now_ns() > until) return 1;
  if (i % 256 == 0) sched_yield();
  return 0;
}
typedef void (*pool_task)(void*);
static struct {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  pthread_mutex_t busy;
  int started;
  _Atomic unsigned long generation;
  _Atomic int pending;
  pool_task fn[POOL_MAX];
  void* arg[POOL_MAX];
  /* The generation when each worker was started: its first task is the next one. */
  unsigned long born[POOL_MAX];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, 1, 0, 0, {0}, {0}, {0}};

static inline void pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void* pool_worker(void* p) {
  const int id = (int)(intptr_t)p;
  pthread_mutex_lock(&pool.mu);
  unsigned long seen = pool.born[id];
  pthread_mutex_unlock(&pool.mu);
  for (;;) {
    const int64_t until = pool_now_ns() + POOL_SPIN_NS;
    for (int i = 1; atomic_load_explicit(&pool.generation, memory_order_acquire) == seen; i++) {
      pool_pause();
      if (pool_spin_over(i, until)) break;
    }
    pthread_mutex_lock(&pool.mu);
    while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen) pthread_cond_wait(&pool.go, &pool.mu);
    seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
    const pool_task fn = pool.fn[id];
    void* arg = pool.arg[id];
    pthread_mutex_unlock(&pool.mu);
    if (!fn) continue;
    fn(arg);
    if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&pool.mu);
      pthread_cond_signal(&pool.done);
      pthread_mutex_unlock(&pool.mu);
    }
  }
  return NULL;
}

/* The pool for one caller at a time: 1 if this caller has it (pool_release afterwards), 0 if another has. */
static int pool_acquire(void) {
  return pthread_mutex_trylock(&pool.busy) == 0;
}

static void pool_release(void) {
  pthread_mutex_unlock(&pool.busy);
}

/* pool_run for a caller that holds the pool (pool_acquire). */
static void pool_run_held(int n, const pool_task* fns, void* const* args) {
  if (n > POOL_MAX) n = POOL_MAX;
  int workers = 0;
  if (n > 1) {
    pthread_mutex_lock(&pool.mu);
    while (pool.started < n) {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pool.born[pool.started] = atomic_load(&pool.generation);
      const int ok = pthread_create(&t, &attr, pool_worker, (void*)(intptr_t)pool.started) == 0;
      pthread_attr_destroy(&attr);
      if (!ok) break;
      pool.started++;
    }
    workers = (pool.started < n ? pool.started : n) - 1;
    for (int k = 1; k < POOL_MAX; k++) {
      pool.fn[k] = k <= workers ? fns[k] : NULL;
      pool.arg[k] = k <= workers ? args[k] : NULL;
    }
    atomic_store_explicit(&pool.pending, workers, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
  }
  fns[0](args[0]);
  for (int k = workers + 1; k < n; k++) fns[k](args[k]); /* no worker for these: the caller runs them */
  if (workers > 0) {
    const int64_t until = pool_now_ns() + POOL_SPIN_NS;
    for (int i = 1; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; i++) {
      pool_pause();
      if (pool_spin_over(i, until)) break;
    }
    pthread_mutex_lock(&pool.mu);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
  }
}

static void pool_run(int n, const pool_task* fns, void* const* args) {
  if (n > 1 && pool_acquire()) {
    pool_run_held(n, fns, args);
    pool_release();
  } else {
    for (int k = 0; k < n; k++) fns[k](args[k]);
  }
}

/* Threads of the splitting kernels and of OpenBLAS (setThreads). */
static _Atomic int blas_threads = 1;

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
  if (!within_heap(a_off, (double)(batch - 1) * stride_a + (double)m * k, len) || !within_heap(b_off, (double)(batch - 1) * stride_b + (double)k * n, len) ||
      !within_heap(c_off, (double)batch * m * n, len)) {
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

/* Adam on elements [i0, i1) of one variable. */
typedef struct {
  float *p;
  const float* g;
  float *m, *v;
  int64_t i0, i1;
  float b1, b2, c1, c2, step, inv_bc2, eps;
} AdamSlice;

static void adam_slice(void* arg) {
  const AdamSlice* a = (const AdamSlice*)arg;
  float* p = a->p;
  const float* g = a->g;
  float* m = a->m;
  float* v = a->v;
  const float fb1 = a->b1, fb2 = a->b2, c1 = a->c1, c2 = a->c2, step = a->step, inv_bc2 = a->inv_bc2, feps = a->eps;
  /* One division and one square root per element; -fno-math-errno lets the compiler vectorise sqrtf.
   * A moment that falls below the smallest normal float is stored as 0. Where a weight's gradient is 0 step
   * after step (a ReLU unit that no longer fires, a pixel that is rarely on), m shrinks by β1 each step into
   * the subnormal floats, and x86 CPUs take a slow path for every operation that reads or makes one: after
   * an epoch of the reference VAE a quarter of the first layer's m was subnormal and Adam took 4.6 times as
   * long. So the loop runs with the CPU flushing subnormal results and inputs to 0 (x86's FTZ and DAZ, put
   * back afterwards), and stores tiny moments as 0 on any CPU. The update such a moment makes, below
   * 10⁻³⁸·lr/ε, changes no weight of a size a network has. */
#if defined(__x86_64__) || defined(__i386__)
  const unsigned csr = __builtin_ia32_stmxcsr();
  __builtin_ia32_ldmxcsr(csr | 0x8040); /* FTZ (bit 15) and DAZ (bit 6) */
#endif
  for (int64_t i = a->i0; i < a->i1; i++) {
    const float gi = g[i];
    float mi = fb1 * m[i] + c1 * gi;
    float vi = fb2 * v[i] + c2 * gi * gi;
    mi = fabsf(mi) < FLT_MIN ? 0.0f : mi;
    vi = vi < FLT_MIN ? 0.0f : vi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi * inv_bc2) + feps);
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_ldmxcsr(csr);
#endif
}

/*
 * Adam on variables in one call: `vars` (i0 = 0, i1 = n of each), whose elements, taken in order, are split
 * into equal runs, one per thread (setThreads) where there are 2¹⁶ or more, so the pool is woken once however
 * many variables there are, and every thread gets the same share of the large and the small ones. Each
 * element's update is the one adam_slice makes: the same bits on any number of threads.
 */
#define ADAM_MAX_VARS 256
typedef struct {
  const AdamSlice* vars; /* i0 = 0, i1 = n of each variable */
  const int64_t* start;  /* where each variable's elements begin in the run of all of them */
  int64_t nvars, e0, e1; /* this thread's elements [e0, e1) of that run */
} AdamRun;

static void adam_run(void* arg) {
  const AdamRun* r = (const AdamRun*)arg;
  for (int64_t k = 0; k < r->nvars; k++) {
    const int64_t s0 = r->start[k], s1 = s0 + r->vars[k].i1;
    const int64_t a = r->e0 > s0 ? r->e0 : s0, b = r->e1 < s1 ? r->e1 : s1;
    if (a >= b) continue;
    AdamSlice part = r->vars[k];
    part.i0 = a - s0;
    part.i1 = b - s0;
    adam_slice(&part);
  }
}

static void adam_variables(const AdamSlice* vars, int64_t nvars) {
  int64_t start[ADAM_MAX_VARS], total = 0;
  for (int64_t k = 0; k < nvars; k++) start[k] = total, total += vars[k].i1;
  const int threads = blas_threads; /* read once: setThreads may run on another Node thread */
  int parts = total >= (1 << 16) ? threads : 1;
  if (parts > POOL_MAX) parts = POOL_MAX;
  AdamRun run[POOL_MAX];
  pool_task fns[POOL_MAX];
  void* task_args[POOL_MAX];
  for (int k = 0; k < parts; k++) {
    run[k] = (AdamRun){vars, start, nvars, total * k / parts, total * (k + 1) / parts};
    fns[k] = adam_run, task_args[k] = &run[k];
  }
  if (parts <= 1) adam_run(&run[0]);
  else pool_run(parts, fns, task_args);
}

/* Adam's six numbers (lr, β1, β2, ε, β1^t, β2^t) from args[0 … 5] as a slice without its arrays; 0 with an
 * exception pending where one is not a number. */
static int adam_numbers(napi_env env, const napi_value* args, const char* who, AdamSlice* t) {
  double x[6];
  for (int i = 0; i < 6; i++) {
    if (napi_get_value_double(env, args[i], &x[i]) != napi_ok) {
      char msg[96];
      snprintf(msg, sizeof msg, "vae-lab native %s: lr, the betas, epsilon and the beta powers must be numbers", who);
      napi_throw_type_error(env, NULL, msg);
      return 0;
    }
  }
  const double lr = x[0], b1 = x[1], b2 = x[2], eps = x[3], b1p = x[4], b2p = x[5];
  *t = (AdamSlice){NULL, NULL, NULL, NULL, 0, 0, (float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2), (float)(lr / (1.0 - b1p)), (float)(1.0 / (1.0 - b2p)),
                   (float)eps};
  return 1;
}

/* adam(heap, p, g, m, v, n, lr, β1, β2, ε, β1^t, β2^t): one variable of n values at those heap offsets. */
static napi_value Adam(napi_env env, napi_callback_info info) {
  napi_value args[12];
  int64_t len;
  float* heap = begin_call(env, info, 12, args, "adam", &len);
  if (!heap) return NULL;
  int ok = 1;
  int64_t p_off = int_arg(env, args[1], &ok), g_off = int_arg(env, args[2], &ok), m_off = int_arg(env, args[3], &ok);
  int64_t v_off = int_arg(env, args[4], &ok), n = int_arg(env, args[5], &ok);
  AdamSlice var;
  if (!adam_numbers(env, args + 6, "adam", &var)) return NULL;
  if (!ok || n < 0 || p_off < 0 || g_off < 0 || m_off < 0 || v_off < 0 || p_off + n > len || g_off + n > len || m_off + n > len || v_off + n > len) {
    napi_throw_range_error(env, NULL, "vae-lab native adam: bad sizes or offsets");
    return NULL;
  }
  var.p = heap + p_off, var.g = heap + g_off, var.m = heap + m_off, var.v = heap + v_off, var.i1 = n;
  adam_variables(&var, 1);
  return NULL;
}

/*
 * adamAll(heap, table, lr, β1, β2, ε, β1^t, β2^t): every variable of a model in one call. `table` holds one
 * row (p, g, m, v, n) of heap offsets and a size per variable, at most ADAM_MAX_VARS rows (a caller with more
 * makes several calls); nothing is updated unless every row is on the heap.
 */
static napi_value AdamAll(napi_env env, napi_callback_info info) {
  napi_value args[8];
  int64_t len;
  float* heap = begin_call(env, info, 8, args, "adamAll", &len);
  if (!heap) return NULL;
  size_t table_len = 0;
  const double* table = (const double*)typed_array_data(env, args[1], napi_float64_array, &table_len);
  if (!table || table_len % 5 != 0 || table_len / 5 > ADAM_MAX_VARS) {
    napi_throw_type_error(env, NULL, "vae-lab native adamAll: the table must be a Float64Array of (p, g, m, v, n) rows, at most 256");
    return NULL;
  }
  AdamSlice numbers;
  if (!adam_numbers(env, args + 2, "adamAll", &numbers)) return NULL;
  const int64_t nvars = (int64_t)(table_len / 5);
  AdamSlice vars[ADAM_MAX_VARS];
  for (int64_t k = 0; k < nvars; k++) {
    const double* row = table + 5 * k;
    for (int j = 0; j < 5; j++) {
      if (!(row[j] >= 0 && row[j] <= (double)len && row[j] == (double)(int64_t)row[j])) {
        napi_throw_range_error(env, NULL, "vae-lab native adamAll: bad sizes or offsets");
        return NULL;
      }
    }
    const int64_t p_off = (int64_t)row[0], g_off = (int64_t)row[1], m_off = (int64_t)row[2], v_off = (int64_t)row[3], n = (int64_t)row[4];
    if (p_off + n > len || g_off + n > len || m_off + n > len || v_off + n > len) {
      napi_throw_range_error(env, NULL, "vae-lab native adamAll: operands outside the heap");
      return NULL;
    }
    vars[k] = numbers;
    vars[k].p = heap + p_off, vars[k].g = heap + g_off, vars[k].m = heap + m_off, vars[k].v = heap + v_off, vars[k].i1 = n;
  }
  adam_variables(vars, nvars);
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

/* One row's NLL (row_nll, so the same bits) and its gradient (σ(l) − x) · scale into g, from e^{−|l|}. */
static float row_nll_grad(const float* l, const float* x, float* g, int64_t cols, float scale) {
  const float nll = row_nll(l, x, g, cols);
#pragma omp simd
  for (int64_t j = 0; j < cols; j++) {
    const float v = l[j], t = g[j];
    const float inv = 1.0f / (1.0f + t); /* σ(|v|) */
    g[j] = ((v >= 0.0f ? inv : t * inv) - x[j]) * scale;
  }
  return nll;
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
  const double nd = (double)rows * cols;
  if (!ok || rows < 0 || cols < 0 || !within_heap(l_off, nd, len) || !within_heap(x_off, nd, len) || !within_heap(nll_off, (double)rows, len) ||
      g_off < -1 || (g_off >= 0 && !within_heap(g_off, nd, len))) {
    napi_throw_range_error(env, NULL, "vae-lab native bernoulliNll: bad sizes or offsets");
    return NULL;
  }
  const int64_t n = rows * cols; /* ≤ the heap's length: checked above */
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
    heap[nll_off + r] = g ? row_nll_grad(l, x, g, cols, fscale) : row_nll(l, x, row_scratch, cols);
  }
  free(row_scratch);
  return NULL;
}

/*
 * The arguments of biasRelu and biasReluGrad after the heap: `count` offsets, then rows and channels. Each
 * offset starts an array of rows × channels values, except the bias's (index `bias`), of channels values.
 * Returns 0 with a RangeError naming `who` where a size or an array's end is out of range.
 */
static int rows_args(napi_env env, napi_value* args, int64_t len, const char* who, int count, int bias, int64_t* off, int64_t* rows, int64_t* ch) {
  int ok = 1;
  for (int i = 0; i < count; i++) off[i] = int_arg(env, args[1 + i], &ok);
  *rows = int_arg(env, args[1 + count], &ok);
  *ch = int_arg(env, args[2 + count], &ok);
  /* Bounded so that rows · channels cannot overflow. */
  ok = ok && *rows >= 0 && *rows <= ((int64_t)1 << 31) && *ch >= 1 && *ch <= ((int64_t)1 << 24);
  for (int i = 0; ok && i < count; i++) ok = off[i] >= 0 && off[i] + (i == bias ? *ch : *rows * *ch) <= len;
  if (!ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "vae-lab native %s: bad sizes or offsets", who);
    napi_throw_range_error(env, NULL, msg);
  }
  return ok;
}

/* Rows [r0, r1) of biasRelu (total NULL) or of biasReluGrad (total: this part's float64 column sums). */
typedef struct {
  float* heap;
  const int64_t* off;
  int64_t r0, r1, ch;
  double* total;
} BiasPart;

/* y = max(x + b, 0) over `rows` rows of `ch` values (y may be x): biasRelu's pass, and the epilogue of a
 * transposed convolution with its bias and ReLU (conv2dTransposeBiasRelu). */
static inline void bias_relu_span(const float* x, const float* b, float* y, int64_t rows, int64_t ch) {
  for (int64_t r = 0; r < rows; r++, x += ch, y += ch) {
#pragma omp simd
    for (int64_t c = 0; c < ch; c++) {
      const float v = x[c] + b[c];
      y[c] = v < 0.0f ? 0.0f : v; /* NaN stays NaN, as tfjs's Relu keeps it */
    }
  }
}

static void bias_relu_rows(void* arg) {
  const BiasPart* p = (const BiasPart*)arg;
  const int64_t ch = p->ch;
  bias_relu_span(p->heap + p->off[0] + p->r0 * ch, p->heap + p->off[1], p->heap + p->off[2] + p->r0 * ch, p->r1 - p->r0, ch);
}

/* dx = dy where the ReLU's output y is positive (NaN where y is NaN, else 0) over `rows` rows of ch values,
 * each row's dx added into total (float64, row by row); dx may be dy. */
static inline void relu_grad_span(const float* dy, const float* y, float* dx, double* total, int64_t rows, int64_t ch) {
  for (int64_t r = 0; r < rows; r++, dy += ch, y += ch, dx += ch) {
    /* Two loops, so that both vectorise: with the float64 sum in the same loop GCC keeps a branch per element
     * (mispredicted on about half of them: 16 times slower at [128, 28, 28, 32] on random data). NaN stays NaN, as tfjs's
     * dy · step(x). */
#pragma omp simd
    for (int64_t c = 0; c < ch; c++) {
      const float v = y[c], d = dy[c];
      dx[c] = v > 0.0f ? d : (v != v ? v : 0.0f);
    }
#pragma omp simd
    for (int64_t c = 0; c < ch; c++) total[c] += dx[c];
  }
}

static void bias_relu_grad_rows(void* arg) {
  const BiasPart* p = (const BiasPart*)arg;
  const int64_t ch = p->ch, r0 = p->r0;
  relu_grad_span(p->heap + p->off[0] + r0 * ch, p->heap + p->off[1] + r0 * ch, p->heap + p->off[2] + r0 * ch, p->total, p->r1 - r0, ch);
}

/* Both bias/ReLU passes in parts of whole rows, one per thread (setThreads), where there are at least 2¹⁶
 * values: y and dx are the one-thread floats; db adds the parts' float64 sums in part order. */
#define BIAS_MAX_PARTS POOL_MAX
static int bias_parts(int64_t rows, int64_t ch) {
  const int threads = blas_threads; /* read once: setThreads may run on another Node thread */
  int parts = rows * ch >= ((int64_t)1 << 16) ? threads : 1;
  if (parts > BIAS_MAX_PARTS) parts = BIAS_MAX_PARTS;
  if (parts > rows) parts = (int)rows;
  return parts < 1 ? 1 : parts;
}

static void bias_run(int parts, pool_task fn, BiasPart* part, float* heap, const int64_t* off, int64_t rows, int64_t ch, double* totals) {
  pool_task fns[BIAS_MAX_PARTS];
  void* args[BIAS_MAX_PARTS];
  for (int k = 0; k < parts; k++) {
    part[k] = (BiasPart){heap, off, rows * k / parts, rows * (k + 1) / parts, ch, totals ? totals + k * ch : NULL};
    fns[k] = fn, args[k] = &part[k];
  }
  pool_run(parts, fns, args);
}

static napi_value BiasRelu(napi_env env, napi_callback_info info) {
  napi_value args[6];
  int64_t len, off[3], rows, ch;
  float* heap = begin_call(env, info, 6, args, "biasRelu", &len);
  if (!heap || !rows_args(env, args, len, "biasRelu", 3, 1, off, &rows, &ch)) return NULL;
  BiasPart part[BIAS_MAX_PARTS];
  bias_run(bias_parts(rows, ch), bias_relu_rows, part, heap, off, rows, ch, NULL);
  return NULL;
}

static napi_value BiasReluGrad(napi_env env, napi_callback_info info) {
  napi_value args[7];
  int64_t len, off[4], rows, ch;
  float* heap = begin_call(env, info, 7, args, "biasReluGrad", &len);
  if (!heap || !rows_args(env, args, len, "biasReluGrad", 4, 3, off, &rows, &ch)) return NULL;
  const int parts = bias_parts(rows, ch);
  double* total = (double*)calloc((size_t)(parts * ch), sizeof(double));
  if (!total) {
    napi_throw_error(env, NULL, "vae-lab native biasReluGrad: out of memory");
    return NULL;
  }
  BiasPart part[BIAS_MAX_PARTS];
  bias_run(parts, bias_relu_grad_rows, part, heap, off, rows, ch, total);
  for (int k = 1; k < parts; k++)
    for (int64_t c = 0; c < ch; c++) total[c] += total[k * ch + c];
  for (int64_t c = 0; c < ch; c++) heap[off[3] + c] = (float)total[c];
  free(total);
  return NULL;
}

/*
 * The MLP VAE's whole gradient in one call (src/vae/fused-gradients.ts): the negative ELBO of a batch —
 * Bernoulli likelihood, analytic KL, reparameterised z = μ + σ ⊙ ε with L draws per image — and its
 * gradient for every weight, by the backpropagation that vae/backprop.ts writes out with tfjs ops, here
 * with the same products through cblas_sgemm and every elementwise step fused into one loop. Intermediate
 * activations live in a scratch block of the calling thread; only the inputs (weights, x, ε) and the outputs
 * (the gradients) are on the wasm heap. With setThreads(n > 1) the batch is cut into n parts of whole
 * images, each part's forward and backward pass runs on its own thread (OpenBLAS on one thread inside), and
 * the parts' weight gradients are added, in part order, into the outputs: the same numbers as one thread to
 * float32 rounding, and the same bits again for the same n.
 *
 * mlpGradients(heap, plan, result): plan is a Float64Array
 *   [B, L, act, beta, xOffset, epsOffset, nEnc, nDec, then per layer: in, out, W, b, gW, gb]
 * with the layers in the order encoder…, μ head, log σ² head, decoder…, output; act is 0 relu, 1 tanh,
 * 2 sigmoid, 3 leaky ReLU (slope 0.01), 4 ELU, 5 softplus; offsets in elements. ε holds L·B rows of the
 * latent size, sample-major (row l·B + b is image b's l-th draw). result (a Float64Array of 2) receives the
 * reconstruction term (Σ rows' NLL / (L·B)) and the KL term (Σ images' KL / B); the loss is recon + β·KL.
 */

enum { ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_LEAKY, ACT_ELU, ACT_SOFTPLUS, ACT_COUNT };

typedef struct {
  int64_t in, out, w, b, gw, gb;
} PlanLayer;

/* h = f(a) in place, for n values. */
static void activate_inplace(float* h, int64_t n, int act) {
  switch (act) {
    case ACT_RELU:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
      break;
    case ACT_TANH:
      for (int64_t i = 0; i < n; i++) h[i] = tanhf(h[i]);
      break;
    case ACT_SIGMOID:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) h[i] = 1.0f / (1.0f + expf(-h[i]));
      break;
    case ACT_LEAKY:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) h[i] = h[i] > 0.0f ? h[i] : 0.01f * h[i];
      break;
    case ACT_ELU:
      for (int64_t i = 0; i < n; i++) h[i] = h[i] > 0.0f ? h[i] : expm1f(h[i]);
      break;
    case ACT_SOFTPLUS:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) {
        const float a = h[i];
        h[i] = (a > 0.0f ? a : 0.0f) + log1pf(expf(-fabsf(a)));
      }
      break;
  }
}

/* d ⊙= f′(a), with f′ written from the layer's output h = f(a) (as vae/backprop.ts's activationDerivative). */
static void times_derivative(float* d, const float* h, int64_t n, int act) {
  switch (act) {
    case ACT_RELU:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] = h[i] > 0.0f ? d[i] : 0.0f;
      break;
    case ACT_TANH:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] *= 1.0f - h[i] * h[i];
      break;
    case ACT_SIGMOID:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] *= h[i] * (1.0f - h[i]);
      break;
    case ACT_LEAKY:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] *= h[i] > 0.0f ? 1.0f : 0.01f;
      break;
    case ACT_ELU:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] *= h[i] > 0.0f ? 1.0f : h[i] + 1.0f;
      break;
    case ACT_SOFTPLUS:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] *= 1.0f - expf(-h[i]);
      break;
  }
}

/* out (rows×l->out) = f(in · W + b) (f skipped when act < 0). */
static void dense_forward(float* heap, const PlanLayer* l, const float* in, int64_t rows, float* out, int act) {
  const float* b = heap + l->b;
  for (int64_t r = 0; r < rows; r++) memcpy(out + r * l->out, b, (size_t)l->out * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)l->out, (int)l->in, 1.0f, in, (int)l->in, heap + l->w,
              (int)l->out, 1.0f, out, (int)l->out);
  if (act >= 0) activate_inplace(out, rows * l->out, act);
}

/* Backward through a dense layer given dA (rows×out): gW = inᵀ·dA and gb = 1ᵀ·dA when gw (left for later when
 * NULL), and dIn = dA·Wᵀ (+= if accumulate) when dIn. */
static void dense_backward(const float* heap, const PlanLayer* l, const float* in, const float* da, int64_t rows, float* gw, float* gb, float* din,
                           int accumulate) {
  if (gw) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->in, (int)l->out, (int)rows, 1.0f, in, (int)l->in, da, (int)l->out, 0.0f, gw,
                (int)l->out);
    memset(gb, 0, (size_t)l->out * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
      const float* row = da + r * l->out;
#pragma omp simd
      for (int64_t j = 0; j < l->out; j++) gb[j] += row[j];
    }
  }
  if (din)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)l->in, (int)l->out, 1.0f, da, (int)l->out, heap + l->w, (int)l->out,
                accumulate ? 1.0f : 0.0f, din, (int)l->in);
}

#define MLP_MAX_LAYERS 64
#define MLP_MAX_PARTS 16
/* The most rows (L·B) and the widest layer: 2²⁴ each, so that no size or offset computed from them (a few
 * dozen products of two, summed) overflows 64 bits; a real model is far below either. */
#define MLP_MAX_SIZE ((int64_t)1 << 24)

/* The model and batch of one mlpGradients call. Where the batch is in parts, the two largest weight gradients
 * (the output layer's and the first layer's) are left out of the parts and made afterwards over the whole
 * batch, each by one thread: the parts write those layers' inputs and ∂loss/∂a into whole-batch arrays
 * (out_in, out_da: R rows; in_da: B rows; NULL where that layer is not deferred), each at its own rows. */
typedef struct {
  float* heap;
  const PlanLayer* layers;
  int64_t n_enc, n_dec, n_layers, act, B, L, X, D, width;
  float beta;
  const float* x;
  const float* eps;
  float *out_in, *out_da, *in_da;
} MlpModel;

/* One part of the batch: images [b0, b1), its scratch, where its weight gradients go, and its loss sums. */
typedef struct {
  const MlpModel* m;
  int64_t b0, b1;
  float* scratch;
  float* gw[MLP_MAX_LAYERS];
  float* gb[MLP_MAX_LAYERS];
  double recon, kl;
} MlpPart;

/* Floats of scratch a part of nb images needs (its weight gradients not included). */
static int64_t mlp_part_floats(const MlpModel* m, int64_t nb) {
  const int64_t R = m->L * nb;
  int64_t need = 5 * nb * m->D + 3 * R * m->D + 2 * R * m->X + 2 * R * m->width;
  for (int64_t i = 0; i < m->n_enc; i++) need += nb * m->layers[i].out;
  for (int64_t i = 0; i < m->n_dec; i++) need += R * m->layers[m->n_enc + 2 + i].out;
  return need;
}

/*
 * Forward and backward for the images of one part. Its rows are ordered sample-major within the part (row
 * l·nb + i is image b0 + i's l-th draw); the loss and its gradient are scaled by the whole batch's sizes, so
 * the parts' gradients add up to the batch's.
 */
static void mlp_part(MlpPart* p) {
  const MlpModel* m = p->m;
  float* heap = m->heap;
  const int64_t nb = p->b1 - p->b0, L = m->L, X = m->X, D = m->D, R = L * nb, n_enc = m->n_enc, n_dec = m->n_dec;
  const int act = (int)m->act;
  const PlanLayer* enc = m->layers;
  const PlanLayer* mu_l = enc + n_enc;
  const PlanLayer* lv_l = enc + n_enc + 1;
  const PlanLayer* dec = enc + n_enc + 2;
  const PlanLayer* out_l = enc + m->n_layers - 1;
  float* s = p->scratch;
  float* enc_h[MLP_MAX_LAYERS];
  float* dec_h[MLP_MAX_LAYERS];
  for (int64_t i = 0; i < n_enc; i++) enc_h[i] = s, s += nb * enc[i].out;
  float *mu = s, *lv = s + nb * D, *sd = s + 2 * nb * D, *dmu = s + 3 * nb * D, *dlv = s + 4 * nb * D;
  s += 5 * nb * D;
  float *eps = s, *z = s + R * D, *dz = s + 2 * R * D;
  s += 3 * R * D;
  for (int64_t i = 0; i < n_dec; i++) dec_h[i] = s, s += R * dec[i].out;
  float *logits = s, *dlogits = s + R * X;
  s += 2 * R * X;
  if (m->out_da) {
    dec_h[n_dec - 1] = m->out_in + L * p->b0 * dec[n_dec - 1].out;
    dlogits = m->out_da + L * p->b0 * X;
  }
  float* da0 = m->in_da ? m->in_da + p->b0 * enc[0].out : NULL;
  float *bufA = s, *bufB = s + R * m->width;
  const float* x = m->x + p->b0 * X;
  for (int64_t l = 0; l < L; l++) memcpy(eps + l * nb * D, m->eps + (l * m->B + p->b0) * D, (size_t)(nb * D) * sizeof(float));

  /* Forward: the encoder, its two heads, z = μ + σ ⊙ ε for each draw, the decoder, the logits. */
  const float* h = x;
  for (int64_t i = 0; i < n_enc; i++) {
    dense_forward(heap, enc + i, h, nb, enc_h[i], act);
    h = enc_h[i];
  }
  const float* top = h;
  dense_forward(heap, mu_l, top, nb, mu, -1);
  dense_forward(heap, lv_l, top, nb, lv, -1);
  double kl = 0.0;
  for (int64_t i = 0; i < nb * D; i++) {
    sd[i] = expf(lv[i] * 0.5f);
    kl += (double)mu[i] * mu[i] + (double)sd[i] * sd[i] - lv[i] - 1.0;
  }
  p->kl = 0.5 * kl;
  for (int64_t r = 0; r < R; r++) {
    const int64_t b = r % nb;
    for (int64_t d = 0; d < D; d++) z[r * D + d] = mu[b * D + d] + sd[b * D + d] * eps[r * D + d];
  }
  h = z;
  for (int64_t i = 0; i < n_dec; i++) {
    dense_forward(heap, dec + i, h, R, dec_h[i], act);
    h = dec_h[i];
  }
  const float* dec_top = h;
  dense_forward(heap, out_l, dec_top, R, logits, -1);
  /* The likelihood term and ∂loss/∂logits = (σ(l) − x) / (L·B), row by row (row r is image r mod nb). */
  const float scale = 1.0f / (float)(L * m->B);
  double recon = 0.0;
  for (int64_t r = 0; r < R; r++) {
    const float* lr = logits + r * X;
    const float* xr = x + (r % nb) * X;
    float* g = dlogits + r * X;
    recon += row_nll_grad(lr, xr, g, X, scale);
  }
  p->recon = recon;

  /* Backward through the decoder to ∂loss/∂z. */
  const int64_t o = m->n_layers - 1;
  float* dh = n_dec > 0 ? bufA : dz;
  dense_backward(heap, out_l, dec_top, dlogits, R, m->out_da ? NULL : p->gw[o], p->gb[o], dh, 0);
  for (int64_t i = n_dec - 1; i >= 0; i--) {
    times_derivative(dh, dec_h[i], R * dec[i].out, act);
    float* next = i > 0 ? (dh == bufA ? bufB : bufA) : dz;
    dense_backward(heap, dec + i, i > 0 ? dec_h[i - 1] : z, dh, R, p->gw[n_enc + 2 + i], p->gb[n_enc + 2 + i], next, 0);
    dh = next;
  }
  /* Into μ and log σ² (summing the L draws), plus the KL's own gradient. */
  const float kb = m->beta / (float)m->B;
  for (int64_t i = 0; i < nb * D; i++) {
    float gm = 0.0f, gs = 0.0f;
    for (int64_t l = 0; l < L; l++) {
      gm += dz[l * nb * D + i];
      gs += dz[l * nb * D + i] * eps[l * nb * D + i];
    }
    dmu[i] = gm + kb * mu[i];
    dlv[i] = gs * sd[i] * 0.5f + 0.5f * kb * (sd[i] * sd[i] - 1.0f);
  }
  /* The heads, then the encoder; the first layer's input is data, so no gradient for it. */
  float* dtop = n_enc > 0 ? (n_enc == 1 && da0 ? da0 : bufA) : NULL;
  dense_backward(heap, mu_l, top, dmu, nb, p->gw[n_enc], p->gb[n_enc], dtop, 0);
  dense_backward(heap, lv_l, top, dlv, nb, p->gw[n_enc + 1], p->gb[n_enc + 1], dtop, 1);
  dh = dtop;
  for (int64_t i = n_enc - 1; i >= 0; i--) {
    times_derivative(dh, enc_h[i], nb * enc[i].out, act);
    float* next = i == 0 ? NULL : i == 1 && da0 ? da0 : dh == bufA ? bufB : bufA;
    dense_backward(heap, enc + i, i > 0 ? enc_h[i - 1] : x, dh, nb, i == 0 && da0 ? NULL : p->gw[i], p->gb[i], next, 0);
    dh = next;
  }
}

static void mlp_part_task(void* arg) {
  mlp_part((MlpPart*)arg);
}

/* After the parts, task `slice` of `parts`: the deferred weight gradients whose turn it is (the first layer's
 * on task 0, the output layer's on task 1 % parts: where Adam's equal runs of the variables in order will
 * want them next), made over the whole batch straight into the heap's
 * gradients; then its slice of every other layer's weight gradients: part 0's += the other parts'. */
typedef struct {
  MlpPart* part;
  int parts;
  const PlanLayer* layers;
  int64_t n_layers;
  int slice;
} MlpReduce;

static void mlp_reduce_task(void* arg) {
  const MlpReduce* r = (const MlpReduce*)arg;
  const MlpModel* m = r->part[0].m;
  const int64_t o = r->n_layers - 1;
  if (m->in_da && r->slice == 0)
    dense_backward(m->heap, r->layers, m->x, m->in_da, m->B, r->part[0].gw[0], r->part[0].gb[0], NULL, 0);
  if (m->out_da && r->slice == 1 % r->parts)
    dense_backward(m->heap, r->layers + o, m->out_in, m->out_da, m->L * m->B, r->part[0].gw[o], r->part[0].gb[o], NULL, 0);
  for (int64_t i = 0; i < r->n_layers; i++) {
    if ((i == o && m->out_da) || (i == 0 && m->in_da)) continue;
    for (int which = 0; which < 2; which++) {
      const int64_t n = which == 0 ? r->layers[i].in * r->layers[i].out : r->layers[i].out;
      const int64_t j0 = n * r->slice / r->parts, j1 = n * (r->slice + 1) / r->parts;
      float* dst = which == 0 ? r->part[0].gw[i] : r->part[0].gb[i];
      for (int k = 1; k < r->parts; k++) {
        const float* src = which == 0 ? r->part[k].gw[i] : r->part[k].gb[i];
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) dst[j] += src[j];
      }
    }
  }
}

/* Each calling thread's scratch for the parts (grown to the largest call so far, never shrunk; a Node worker
 * thread that calls the addon keeps its own). */
static _Thread_local float* mlp_scratch = NULL;
static _Thread_local size_t mlp_scratch_len = 0;

static napi_value MlpGradients(napi_env env, napi_callback_info info) {
  napi_value args[3];
  int64_t len;
  float* heap = begin_call(env, info, 3, args, "mlpGradients", &len);
  if (!heap) return NULL;
  size_t plan_len = 0, result_len = 0;
  double* plan = (double*)typed_array_data(env, args[1], napi_float64_array, &plan_len);
  double* result = (double*)typed_array_data(env, args[2], napi_float64_array, &result_len);
  if (!plan || !result) {
    napi_throw_type_error(env, NULL, "vae-lab native mlpGradients: plan and result must be Float64Arrays");
    return NULL;
  }
#define BAD(msg)                                                           \
  do {                                                                     \
    napi_throw_range_error(env, NULL, "vae-lab native mlpGradients: " msg); \
    return NULL;                                                           \
  } while (0)
  if (plan_len < 8 || result_len < 2) BAD("plan or result too short");
  for (size_t i = 0; i < plan_len; i++)
    if (!(plan[i] > -1e15 && plan[i] < 1e15) || (i != 3 && plan[i] != (double)(int64_t)plan[i])) BAD("plan entries must be finite integers (beta finite)");
  const int64_t B = (int64_t)plan[0], L = (int64_t)plan[1], act = (int64_t)plan[2];
  const int64_t x_off = (int64_t)plan[4], eps_off = (int64_t)plan[5], n_enc = (int64_t)plan[6], n_dec = (int64_t)plan[7];
  if (B < 1 || L < 1 || B > MLP_MAX_SIZE || L > MLP_MAX_SIZE / B || act < 0 || act >= ACT_COUNT || !(plan[3] >= 0) || n_enc < 0 || n_dec < 0 ||
      n_enc + n_dec + 3 > MLP_MAX_LAYERS)
    BAD("bad batch, samples, activation, beta or depth");
  const int64_t n_layers = n_enc + n_dec + 3;
  if ((int64_t)plan_len != 8 + 6 * n_layers) BAD("the plan's length does not match its depth");
  PlanLayer layers[MLP_MAX_LAYERS];
  for (int64_t i = 0; i < n_layers; i++) {
    const double* p = plan + 8 + 6 * i;
    PlanLayer l = {(int64_t)p[0], (int64_t)p[1], (int64_t)p[2], (int64_t)p[3], (int64_t)p[4], (int64_t)p[5]};
    if (l.in < 1 || l.out < 1 || l.in > MLP_MAX_SIZE || l.out > MLP_MAX_SIZE) BAD("bad layer sizes");
    layers[i] = l;
  }
  const PlanLayer* enc = layers;
  const PlanLayer* mu_l = layers + n_enc;
  const PlanLayer* lv_l = layers + n_enc + 1;
  const PlanLayer* dec = layers + n_enc + 2;
  const PlanLayer* out_l = layers + n_layers - 1;
  const int64_t X = n_enc > 0 ? enc[0].in : mu_l->in, D = mu_l->out, R = L * B;
  /* The layers chain: each one's input is the previous one's output; the output layer gives back X values. */
  for (int64_t i = 1; i < n_enc; i++)
    if (enc[i].in != enc[i - 1].out) BAD("the encoder's layers do not chain");
  if (lv_l->in != mu_l->in || lv_l->out != D || (n_enc > 0 && mu_l->in != enc[n_enc - 1].out)) BAD("the encoder's heads do not fit");
  for (int64_t i = 0; i < n_dec; i++)
    if (dec[i].in != (i == 0 ? D : dec[i - 1].out)) BAD("the decoder's layers do not chain");
  if (out_l->in != (n_dec > 0 ? dec[n_dec - 1].out : D) || out_l->out != X) BAD("the output layer does not fit");
  /* Everything read or written lies on the heap; no gradient overlaps anything else. */
  int64_t lo[2 + 4 * MLP_MAX_LAYERS], hi[2 + 4 * MLP_MAX_LAYERS];
  int nr = 0;
  lo[nr] = x_off, hi[nr++] = x_off + B * X;
  lo[nr] = eps_off, hi[nr++] = eps_off + R * D;
  const int first_out = 2 + 2 * (int)n_layers;
  for (int64_t i = 0; i < n_layers; i++) lo[nr] = layers[i].w, hi[nr++] = layers[i].w + layers[i].in * layers[i].out;
  for (int64_t i = 0; i < n_layers; i++) lo[nr] = layers[i].b, hi[nr++] = layers[i].b + layers[i].out;
  for (int64_t i = 0; i < n_layers; i++) lo[nr] = layers[i].gw, hi[nr++] = layers[i].gw + layers[i].in * layers[i].out;
  for (int64_t i = 0; i < n_layers; i++) lo[nr] = layers[i].gb, hi[nr++] = layers[i].gb + layers[i].out;
  for (int i = 0; i < nr; i++)
    if (lo[i] < 0 || hi[i] > len) BAD("operands outside the heap");
  for (int i = first_out; i < nr; i++)
    for (int j = 0; j < nr; j++)
      if (j != i && lo[i] < hi[j] && lo[j] < hi[i]) BAD("a gradient overlaps another operand");

  MlpModel model = {heap, layers, n_enc, n_dec, n_layers, act, B, L, X, D, X, (float)plan[3], heap + x_off, heap + eps_off, NULL, NULL, NULL};
  for (int64_t i = 0; i < n_layers; i++) model.width = layers[i].out > model.width ? layers[i].out : model.width;
  /* The batch in parts, one per thread (setThreads), each part at least one image; part 0 writes the heap's
   * gradients, the others their own, added in afterwards. */
  const int threads = blas_threads; /* read once: setThreads may run on another Node thread */
  int parts = threads < MLP_MAX_PARTS ? threads : MLP_MAX_PARTS;
  if (parts > B) parts = (int)B;
  if (parts < 1) parts = 1;
  int64_t grad_floats = 0;
  for (int64_t i = 0; i < n_layers; i++) grad_floats += layers[i].in * layers[i].out + layers[i].out;
  const int64_t part_floats = mlp_part_floats(&model, (B + parts - 1) / parts);
  /* With parts, the output layer's weight gradient is deferred where a hidden layer feeds it, and the first
   * layer's where it is not a head. */
  const int defer_out = parts > 1 && n_dec > 0, defer_in = parts > 1 && n_enc > 0;
  const int64_t deferred_floats = (defer_out ? R * (out_l->in + X) : 0) + (defer_in ? B * enc[0].out : 0);
  const size_t need = (size_t)(parts * part_floats + (parts - 1) * grad_floats + deferred_floats);
  if (!grown(&mlp_scratch, &mlp_scratch_len, need)) {
    napi_throw_error(env, NULL, "vae-lab native mlpGradients: out of memory");
    return NULL;
  }
  MlpPart part[MLP_MAX_PARTS];
  /* Scratch: the parts', then the other parts' weight gradients (g), then the deferred layers' arrays. */
  float* g = mlp_scratch + parts * part_floats;
  float* deferred = g + (parts - 1) * grad_floats;
  if (defer_out) model.out_in = deferred, model.out_da = deferred + R * out_l->in, deferred += R * (out_l->in + X);
  if (defer_in) model.in_da = deferred;
  for (int k = 0; k < parts; k++) {
    part[k].m = &model;
    part[k].b0 = B * k / parts;
    part[k].b1 = B * (k + 1) / parts;
    part[k].scratch = mlp_scratch + k * part_floats;
    for (int64_t i = 0; i < n_layers; i++) {
      if (k == 0) {
        part[k].gw[i] = heap + layers[i].gw;
        part[k].gb[i] = heap + layers[i].gb;
      } else {
        part[k].gw[i] = g, g += layers[i].in * layers[i].out;
        part[k].gb[i] = g, g += layers[i].out;
      }
    }
  }
  pool_task fns[MLP_MAX_PARTS];
  void* task_args[MLP_MAX_PARTS];
  MlpReduce red[MLP_MAX_PARTS];
  for (int k = 0; k < parts; k++) red[k] = (MlpReduce){part, parts, layers, n_layers, k};
  if (parts > 1 && pool_acquire()) {
    /* OpenBLAS on one thread inside the parts (they are the parallelism), put back afterwards; only the
     * pool's holder changes it, so two callers never undo each other's setting. */
    openblas_set_num_threads(1);
    for (int k = 0; k < parts; k++) fns[k] = mlp_part_task, task_args[k] = &part[k];
    pool_run_held(parts, fns, task_args);
    /* The other parts' weight gradients added into part 0's, each thread a slice of every layer. */
    for (int k = 0; k < parts; k++) fns[k] = mlp_reduce_task, task_args[k] = &red[k];
    pool_run_held(parts, fns, task_args);
    openblas_set_num_threads(threads);
    pool_release();
  } else {
    /* One part, or the pool busy with another caller: the parts one after another, on this thread. */
    for (int k = 0; k < parts; k++) mlp_part(&part[k]);
    for (int k = 0; k < parts && parts > 1; k++) mlp_reduce_task(&red[k]);
  }
  double recon = 0.0, kl = 0.0;
  for (int k = 0; k < parts; k++) recon += part[k].recon, kl += part[k].kl;
  result[0] = recon / (double)R;
  result[1] = kl / (double)B;
  return NULL;
#undef BAD
}

/* Geometry of one convolution (NHWC; filter [fh, fw, ci, co]). */
typedef struct {
  int64_t batch, ih, iw, ci, oh, ow, co, fh, fw, sh, sw, pt, pl, dh, dw;
} ConvGeom;

/* Floats of im2col scratch per chunk of images (at least one image); setConvScratch changes it (tests).
 * 2¹⁷ floats (512 KB) keep each chunk's columns in the core's L2 cache between the sgemm that writes or
 * reads them and im2col / col2im: on an Intel Xeon with 2 MB of L2 per core the conv VAE's gradient at batch
 * 128 took 0.87× the time it took with 2²² floats (16 MB, which spilled to memory), and the same for any
 * budget from 2¹⁵ (one image per chunk) to 2¹⁸. */
static int64_t chunk_floats = (int64_t)1 << 17;
/* Each calling thread's own (a Node worker thread that calls the addon keeps its own; the pool's workers only
 * use slices the caller hands them). */
static _Thread_local float* scratch = NULL;
static _Thread_local size_t scratch_len = 0;

static float* scratch_for(size_t n) {
  return grown(&scratch, &scratch_len, n);
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

/* One input channel (a grey image into the first layer; the last transposed convolution back to one channel):
 * there im2col would copy one float per filter tap and hand sgemm a matrix as narrow as the filter (9 columns
 * for 3×3), and both run far below the other layers' rate. These loops compute the same three sums directly,
 * vectorised over blocks of 16 output channels. The forward pass and the input gradient keep the sums of four
 * neighbouring pixels side by side in registers (four independent chains of multiply-adds rather than one):
 * their helpers are inlined with NP = 4 and NP = 1 (pixels at the edges and a row's last few), and with
 * CHECK = 0 where no tap of those pixels can fall outside, so the accumulators are registers and the loops
 * have no bounds tests. Their rounding differs from sgemm's as any two orders of a sum do; the forward sums
 * run over the taps in the order im2col's columns do. */
#define INLINE static inline __attribute__((always_inline))

/* The one-channel loops' registers as GCC/Clang vector types (the compiler keeps an array of them in registers
 * where a float array under `omp simd` went through the stack): CONV1_VL floats, one AVX-512 register where
 * the CPU has them (-march=native), else one AVX2 register. */
#ifdef __AVX512F__
#define CONV1_VL 16
#else
#define CONV1_VL 8
#endif
typedef float conv1_vec __attribute__((vector_size(CONV1_VL * 4)));
typedef float conv1_vec_u __attribute__((vector_size(CONV1_VL * 4), aligned(4), may_alias)); /* unaligned */
typedef int conv1_ivec __attribute__((vector_size(CONV1_VL * 4)));
#define CONV1_LOAD(p) (*(const conv1_vec_u*)(p))
#define CONV1_STORE(p, v) (*(conv1_vec_u*)(p) = (v))

/* The sum of a vector's lanes, halving it (lanes k and k + half) until one is left. */
static inline float conv1_lanes_sum(conv1_vec s) {
#if CONV1_VL == 16
  s += __builtin_shuffle(s, (conv1_ivec){8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
  s += __builtin_shuffle(s, (conv1_ivec){4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15});
  s += __builtin_shuffle(s, (conv1_ivec){2, 3, 0, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15});
  s += __builtin_shuffle(s, (conv1_ivec){1, 0, 3, 2, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15});
#else
  s += __builtin_shuffle(s, (conv1_ivec){4, 5, 6, 7, 0, 1, 2, 3});
  s += __builtin_shuffle(s, (conv1_ivec){2, 3, 0, 1, 6, 7, 4, 5});
  s += __builtin_shuffle(s, (conv1_ivec){1, 0, 3, 2, 5, 4, 7, 6});
#endif
  return s[0];
}

/* The output positions [lo, hi) along one axis whose every tap (0 … f − 1) reads inside the input: o · s − pad ≥ 0
 * and o · s − pad + (f − 1) · d ≤ n_in − 1; lo ≥ hi where there are none. */
static void conv1_inside(int64_t n_in, int64_t n_out, int64_t s, int64_t pad, int64_t f, int64_t d, int64_t* lo, int64_t* hi) {
  const int64_t last = n_in - 1 + pad - (f - 1) * d;
  *lo = (pad + s - 1) / s;
  *hi = last < 0 ? 0 : last / s + 1;
  if (*hi > n_out) *hi = n_out;
}

/* mode 0, pixels ox … ox + NP − 1 of row oy of image b, channels c0 … c0 + 15:
 * y[pixel][c] = Σ over taps x[at] · W[tap][c], taps in order (fy, fx). CHECK = 0 where every tap of these
 * pixels is inside the image. */
INLINE void conv1_forward_px(const float* x, const float* w, float* y, const ConvGeom* g, int64_t b, int64_t oy, int64_t ox, int64_t c0, const int NP, const int CHECK) {
  float acc[4][16] = {{0}};
  for (int64_t fy = 0; fy < g->fh; fy++) {
    const int64_t iy = oy * g->sh - g->pt + fy * g->dh;
    if (CHECK && (iy < 0 || iy >= g->ih)) continue;
    const float* row = x + (b * g->ih + iy) * g->iw;
    for (int64_t fx = 0; fx < g->fw; fx++) {
      const float* wt = w + (fy * g->fw + fx) * g->co + c0;
#pragma GCC unroll 4
      for (int p = 0; p < NP; p++) {
        const int64_t ix = (ox + p) * g->sw - g->pl + fx * g->dw;
        if (CHECK && (ix < 0 || ix >= g->iw)) continue;
        const float v = row[ix];
#pragma omp simd
        for (int k = 0; k < 16; k++) acc[p][k] += v * wt[k];
      }
    }
  }
  for (int p = 0; p < NP; p++) memcpy(y + ((b * g->oh + oy) * g->ow + ox + p) * g->co + c0, acc[p], sizeof acc[p]);
}

#if CONV1_VL == 16
/* conv1_forward_px for channels c0 … c0 + 31 in two AVX-512 registers a pixel: the same sums in the same
 * order (so the same floats), with each tap's x read once for both halves. */
INLINE void conv1_forward_px2(const float* x, const float* w, float* y, const ConvGeom* g, int64_t b, int64_t oy, int64_t ox, int64_t c0, const int NP, const int CHECK) {
  conv1_vec acc[4][2];
  for (int p = 0; p < NP; p++) acc[p][0] = acc[p][1] = (conv1_vec){0};
  for (int64_t fy = 0; fy < g->fh; fy++) {
    const int64_t iy = oy * g->sh - g->pt + fy * g->dh;
    if (CHECK && (iy < 0 || iy >= g->ih)) continue;
    const float* row = x + (b * g->ih + iy) * g->iw;
    for (int64_t fx = 0; fx < g->fw; fx++) {
      const float* wt = w + (fy * g->fw + fx) * g->co + c0;
      const conv1_vec w0 = CONV1_LOAD(wt), w1 = CONV1_LOAD(wt + 16);
      for (int p = 0; p < NP; p++) {
        const int64_t ix = (ox + p) * g->sw - g->pl + fx * g->dw;
        if (CHECK && (ix < 0 || ix >= g->iw)) continue;
        const float v = row[ix];
        acc[p][0] += v * w0;
        acc[p][1] += v * w1;
      }
    }
  }
  for (int p = 0; p < NP; p++) {
    float* out = y + ((b * g->oh + oy) * g->ow + ox + p) * g->co + c0;
    CONV1_STORE(out, acc[p][0]);
    CONV1_STORE(out + 16, acc[p][1]);
  }
}
#endif

/* Row oy's pixels for the channels from c0 that PX computes: inside four pixels at a time, then one; at the
 * edges one at a time; rows at the edges four at a time (NP and CHECK constants in each call, so PX inlines
 * into loops without bounds tests where none are needed). */
#define CONV1_FORWARD_ROW(PX)                                                      \
  for (int64_t ox = 0; ox < g->ow;) {                                              \
    const int inside = row_inside && ox >= xlo;                                    \
    if (inside && ox + 4 <= xhi) PX(x, w, y, g, b, oy, ox, c0, 4, 0), ox += 4;     \
    else if (inside && ox < xhi) PX(x, w, y, g, b, oy, ox, c0, 1, 0), ox++;        \
    else if (!row_inside && ox + 4 <= g->ow) PX(x, w, y, g, b, oy, ox, c0, 4, 1), ox += 4; \
    else PX(x, w, y, g, b, oy, ox, c0, 1, 1), ox++;                                \
  }

static void conv1_forward(const float* x, const float* w, float* y, const ConvGeom* g) {
  const int64_t co = g->co, whole = co / 16 * 16;
  int64_t ylo, yhi, xlo, xhi;
  conv1_inside(g->ih, g->oh, g->sh, g->pt, g->fh, g->dh, &ylo, &yhi);
  conv1_inside(g->iw, g->ow, g->sw, g->pl, g->fw, g->dw, &xlo, &xhi);
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oy = 0; oy < g->oh; oy++) {
      const int row_inside = oy >= ylo && oy < yhi;
      for (int64_t c0 = 0; c0 < whole;) {
#if CONV1_VL == 16
        /* With AVX-512, 32 channels at a time where there are: two registers a pixel, eight accumulators. */
        if (c0 + 32 <= whole) {
          CONV1_FORWARD_ROW(conv1_forward_px2)
          c0 += 32;
          continue;
        }
#endif
        CONV1_FORWARD_ROW(conv1_forward_px)
        c0 += 16;
      }
      if (whole == co) continue;
      /* The last co mod 16 channels, summed in place in the same order. */
      for (int64_t ox = 0; ox < g->ow; ox++) {
        float* out = y + ((b * g->oh + oy) * g->ow + ox) * co;
        memset(out + whole, 0, (size_t)(co - whole) * sizeof(float));
        for (int64_t fy = 0; fy < g->fh; fy++)
          for (int64_t fx = 0; fx < g->fw; fx++) {
            const int64_t iy = oy * g->sh - g->pt + fy * g->dh, ix = ox * g->sw - g->pl + fx * g->dw;
            if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) continue;
            const float v = x[(b * g->ih + iy) * g->iw + ix];
            const float* wt = w + (fy * g->fw + fx) * co;
#pragma omp simd
            for (int64_t c = whole; c < co; c++) out[c] += v * wt[c];
          }
      }
    }
}

/* mode 1, input pixels ix … ix + NP − 1 of row iy of image b: dx[pixel] = Σ over the output pixels and taps that
 * read it of dy[out pixel] · W[tap] (a dot product over the channels), gathered, so each dx is written once
 * (im2col's scatter would add into it nine times). An output pixel (oy, ox) reads iy through tap fy where
 * oy · sh − pt + fy · dh = iy: with CHECK, ytab and xtab give that oy and ox (−1 where there is none); without,
 * at stride 1 where every tap's output pixel exists, it is iy + pt − fy · dh. */
INLINE void conv1_input_grad_px(const float* dy, const float* w, float* dx, const ConvGeom* g, const int64_t* ytab, const int64_t* xtab, int64_t b, int64_t iy, int64_t ix, const int NP, const int CHECK, const int64_t co, const int64_t fh, const int64_t fw) {
  /* Two vectors of sums a pixel, the channel chunks alternating between them: 2 · NP independent chains. */
  conv1_vec acc[4][2];
  float rest[4] = {0};
  for (int p = 0; p < NP; p++) acc[p][0] = acc[p][1] = (conv1_vec){0};
  const int64_t whole = co / CONV1_VL * CONV1_VL;
  for (int64_t fy = 0; fy < fh; fy++) {
    const int64_t oy = CHECK ? ytab[iy * fh + fy] : iy + g->pt - fy * g->dh;
    if (CHECK && oy < 0) continue;
    const float* row = dy + (b * g->oh + oy) * g->ow * co;
    for (int64_t fx = 0; fx < fw; fx++) {
      const float* wt = w + (fy * fw + fx) * co;
      for (int p = 0; p < NP; p++) {
        const int64_t ox = CHECK ? xtab[(ix + p) * fw + fx] : ix + p + g->pl - fx * g->dw;
        if (CHECK && ox < 0) continue;
        const float* d = row + ox * co;
        for (int64_t c = 0; c < whole; c += CONV1_VL) acc[p][(c / CONV1_VL) & 1] += CONV1_LOAD(d + c) * CONV1_LOAD(wt + c);
        for (int64_t c = whole; c < co; c++) rest[p] += d[c] * wt[c];
      }
    }
  }
  for (int p = 0; p < NP; p++) dx[(b * g->ih + iy) * g->iw + ix + p] = conv1_lanes_sum(acc[p][0] + acc[p][1]) + rest[p];
}

/* The output position that input position i reads through tap t along one axis, or −1 where none does
 * (o · s − pad + t · d = i has no o in [0, n_out)): tab[i · taps + t]. */
static void conv1_reader_table(int64_t* tab, int64_t n_in, int64_t n_out, int64_t taps, int64_t s, int64_t pad, int64_t d) {
  for (int64_t i = 0; i < n_in; i++)
    for (int64_t t = 0; t < taps; t++) {
      const int64_t o = i + pad - t * d;
      tab[i * taps + t] = o >= 0 && o % s == 0 && o / s < n_out ? o / s : -1;
    }
}

/* Returns 0 where its tables could not be allocated. */
static int conv1_input_grad(const float* dy, const float* w, float* dx, const ConvGeom* g) {
  int64_t* ytab = (int64_t*)malloc((size_t)(g->ih * g->fh + g->iw * g->fw) * sizeof(int64_t));
  if (!ytab) return 0;
  int64_t* xtab = ytab + g->ih * g->fh;
  conv1_reader_table(ytab, g->ih, g->oh, g->fh, g->sh, g->pt, g->dh);
  conv1_reader_table(xtab, g->iw, g->ow, g->fw, g->sw, g->pl, g->dw);
  /* At stride 1, input pixel i is read by output pixel i + pad − t · d through tap t: the inputs [lo, hi) whose
   * every tap's output pixel exists take the unchecked path. */
  const int unit = g->sh == 1 && g->sw == 1, vae3x3 = g->co == 32 && g->fh == 3 && g->fw == 3;
  int64_t ylo = 0, yhi = 0, xlo = 0, xhi = 0;
  if (unit) {
    /* Capped at the input's size: with more padding after the image than the filter reaches, ow − pl > iw. */
    ylo = (g->fh - 1) * g->dh - g->pt, yhi = g->oh - g->pt < g->ih ? g->oh - g->pt : g->ih;
    xlo = (g->fw - 1) * g->dw - g->pl, xhi = g->ow - g->pl < g->iw ? g->ow - g->pl : g->iw;
  }
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t iy = 0; iy < g->ih; iy++) {
      const int row_inside = unit && iy >= ylo && iy < yhi;
      /* As in conv1_forward: inside four pixels at a time, then one; edges one at a time, edge rows by four. */
      for (int64_t ix = 0; ix < g->iw;) {
        const int inside = row_inside && ix >= xlo;
        if (inside && ix + 4 <= xhi) {
          /* The conv VAE's 3×3 filter of 32 channels as constants, so that the loops unroll. */
          if (vae3x3) conv1_input_grad_px(dy, w, dx, g, ytab, xtab, b, iy, ix, 4, 0, 32, 3, 3);
          else conv1_input_grad_px(dy, w, dx, g, ytab, xtab, b, iy, ix, 4, 0, g->co, g->fh, g->fw);
          ix += 4;
        } else if (inside && ix < xhi) {
          conv1_input_grad_px(dy, w, dx, g, ytab, xtab, b, iy, ix, 1, 0, g->co, g->fh, g->fw), ix++;
        } else if (!row_inside && ix + 4 <= g->iw) {
          conv1_input_grad_px(dy, w, dx, g, ytab, xtab, b, iy, ix, 4, 1, g->co, g->fh, g->fw), ix += 4;
        } else {
          conv1_input_grad_px(dy, w, dx, g, ytab, xtab, b, iy, ix, 1, 1, g->co, g->fh, g->fw), ix++;
        }
      }
    }
  free(ytab);
  return 1;
}

/* The input pixel that filter tap (fy, fx) of output pixel (oy, ox) of image b reads, as an index into the
 * one-channel image batch; −1 where the tap falls in the padding. */
static inline int64_t conv1_at(const ConvGeom* g, int64_t b, int64_t oy, int64_t ox, int64_t fy, int64_t fx) {
  const int64_t iy = oy * g->sh - g->pt + fy * g->dh, ix = ox * g->sw - g->pl + fx * g->dw;
  return iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw ? -1 : (b * g->ih + iy) * g->iw + ix;
}

/* mode 2 with a 3 × 3 filter, channels c0 … c0 + NV · CONV1_VL − 1 of image b: each tap's sum over the image's
 * pixels (in the pixel order of conv1_filter_grad's general loop, so the same floats) kept in registers — 9 × NV
 * vectors — instead of in memory, where every pixel's nine updates waited on the last pixel's stores; then added
 * to dW. Pixels whose every tap reads inside the image ([ylo, yhi) × [xlo, xhi)) skip the bounds tests. */
INLINE void conv1_filter_block3(const float* x, const float* dy, float* dw, const ConvGeom* g, int64_t b, int64_t c0, int64_t ylo, int64_t yhi,
                                int64_t xlo, int64_t xhi, const int NV) {
  conv1_vec acc[9][2];
  for (int t = 0; t < 9; t++) acc[t][0] = acc[t][1] = (conv1_vec){0};
  const int64_t co = g->co;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    const int row_inside = oy >= ylo && oy < yhi;
    const int64_t iy0 = oy * g->sh - g->pt;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      const float* d = dy + ((b * g->oh + oy) * g->ow + ox) * co + c0;
      conv1_vec dv[2];
      for (int j = 0; j < NV; j++) dv[j] = CONV1_LOAD(d + j * CONV1_VL);
      const int64_t ix0 = ox * g->sw - g->pl;
      if (row_inside && ox >= xlo && ox < xhi) {
        for (int fy = 0; fy < 3; fy++) {
          const float* row = x + (b * g->ih + iy0 + fy * g->dh) * g->iw + ix0;
          for (int fx = 0; fx < 3; fx++) {
            const float v = row[fx * g->dw];
            for (int j = 0; j < NV; j++) acc[fy * 3 + fx][j] += v * dv[j];
          }
        }
      } else {
        for (int fy = 0; fy < 3; fy++) {
          const int64_t iy = iy0 + fy * g->dh;
          if (iy < 0 || iy >= g->ih) continue;
          const float* row = x + (b * g->ih + iy) * g->iw;
          for (int fx = 0; fx < 3; fx++) {
            const int64_t ix = ix0 + fx * g->dw;
            if (ix < 0 || ix >= g->iw) continue;
            const float v = row[ix];
            for (int j = 0; j < NV; j++) acc[fy * 3 + fx][j] += v * dv[j];
          }
        }
      }
    }
  }
  for (int t = 0; t < 9; t++)
    for (int j = 0; j < NV; j++) {
      float* out = dw + t * co + c0 + j * CONV1_VL;
      CONV1_STORE(out, CONV1_LOAD(out) + acc[t][j]);
    }
}

/* Image b's filter gradient for all co channels (a multiple of 16), two vectors of channels at a time (18
 * vectors of sums) where there are: with AVX-512 32 channels, else 16; then one. */
static void conv1_filter_image3(const float* x, const float* dy, float* dw, const ConvGeom* g, int64_t b, int64_t ylo, int64_t yhi, int64_t xlo, int64_t xhi) {
  for (int64_t c0 = 0; c0 < g->co;) {
    if (c0 + 2 * CONV1_VL <= g->co) conv1_filter_block3(x, dy, dw, g, b, c0, ylo, yhi, xlo, xhi, 2), c0 += 2 * CONV1_VL;
    else conv1_filter_block3(x, dy, dw, g, b, c0, ylo, yhi, xlo, xhi, 1), c0 += CONV1_VL;
  }
}

/* mode 2: dW[tap][c] = Σ over the pixels x[at] · dy[pixel][c], summed image by image into `part` (taps × co
 * floats) and each image's sum added to dW, so no single running sum spans the whole batch. A 3 × 3 filter
 * with a multiple of 16 channels (the conv VAE's) takes conv1_filter_image3: the same sums in registers. */
static void conv1_filter_grad(const float* x, const float* dy, float* dw, float* part, const ConvGeom* g) {
  const int64_t co = g->co, n = g->fh * g->fw * co;
  memset(dw, 0, (size_t)n * sizeof(float));
  if (g->fh == 3 && g->fw == 3 && co % 16 == 0) {
    int64_t ylo, yhi, xlo, xhi;
    conv1_inside(g->ih, g->oh, g->sh, g->pt, g->fh, g->dh, &ylo, &yhi);
    conv1_inside(g->iw, g->ow, g->sw, g->pl, g->fw, g->dw, &xlo, &xhi);
    for (int64_t b = 0; b < g->batch; b++)
      conv1_filter_image3(x, dy, dw, g, b, ylo, yhi, xlo, xhi);
    return;
  }
  for (int64_t b = 0; b < g->batch; b++) {
    memset(part, 0, (size_t)n * sizeof(float));
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        const float* d = dy + ((b * g->oh + oy) * g->ow + ox) * co;
        for (int64_t fy = 0; fy < g->fh; fy++)
          for (int64_t fx = 0; fx < g->fw; fx++) {
            const int64_t at = conv1_at(g, b, oy, ox, fy, fx);
            if (at < 0) continue;
            const float v = x[at];
            float* pt = part + (fy * g->fw + fx) * co;
#pragma omp simd
            for (int64_t c = 0; c < co; c++) pt[c] += v * d[c];
          }
      }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dw[i] += part[i];
  }
}

/* Images per im2col chunk (several channels) for a call of `batch` images under a scratch budget of `budget`
 * floats: at least one, at most the batch. */
static int64_t conv_chunk(const ConvGeom* g, int64_t batch, int64_t budget) {
  int64_t chunk = budget / (g->oh * g->ow * g->fh * g->fw * g->ci);
  if (chunk < 1) chunk = 1;
  return chunk > batch ? batch : chunk;
}

/* Floats of scratch one call of conv_images needs with `chunk` images a chunk: the chunk's im2col columns
 * (several channels), one image's filter gradient (one channel, mode 2), or none. */
static int64_t conv_work_floats(int64_t mode, const ConvGeom* g, int64_t chunk) {
  if (g->ci == 1) return mode == 2 ? g->fh * g->fw * g->co : 0;
  return chunk * g->oh * g->ow * g->fh * g->fw * g->ci;
}

/* One convolution sum over the images of g (mode 0: y from x and W; 1: dx from dy and W; 2: dW from x and dy),
 * `chunk` images at a time, with `work` holding conv_work_floats; 0 when out of memory. With `bias` (mode 1
 * only, else NULL) each image's dx becomes max(dx + bias, 0) as soon as it is complete, while it is still in
 * the cache: a transposed convolution and its layer's bias and ReLU in one pass over the output. */
static int conv_images(int64_t mode, const float* A, const float* B, float* C, const ConvGeom* g, int64_t chunk, float* work, const float* bias) {
  if (g->ci == 1) {
    if (mode == 0) conv1_forward(A, B, C, g);
    else if (mode == 2) conv1_filter_grad(A, B, C, work, g);
    else {
      if (!conv1_input_grad(A, B, C, g)) return 0;
      if (bias) bias_relu_span(C, bias, C, g->batch * g->ih * g->iw, 1);
    }
    return 1;
  }
  const int64_t K = g->fh * g->fw * g->ci, pix = g->oh * g->ow;
  float* cols = work;
  for (int64_t b0 = 0; b0 < g->batch; b0 += chunk) {
    const int64_t nb = g->batch - b0 < chunk ? g->batch - b0 : chunk;
    const int rows = (int)(nb * pix);
    if (mode == 0) {
      im2col(A, cols, g, b0, nb);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)g->co, (int)K, 1.0f, cols, (int)K, B, (int)g->co, 0.0f,
                  C + b0 * pix * g->co, (int)g->co);
    } else if (mode == 1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, (int)K, (int)g->co, 1.0f, A + b0 * pix * g->co, (int)g->co, B,
                  (int)g->co, 0.0f, cols, (int)K);
      /* col2im adds into the chunk's images: zeroed here, just before, so that they are still in the cache
       * when it adds (zeroing all of dx first sent it to memory and back: 10.8 → 8.9 ms a step for the conv
       * VAE's [128, 28, 28, 32] transposed convolution, same floats). */
      const int64_t img = g->ih * g->iw * g->ci;
      memset(C + b0 * img, 0, (size_t)(nb * img) * sizeof(float));
      col2im(cols, C, g, b0, nb);
      if (bias) bias_relu_span(C + b0 * img, bias, C + b0 * img, nb * g->ih * g->iw, g->ci);
    } else {
      im2col(A, cols, g, b0, nb);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)g->co, rows, 1.0f, cols, (int)K, B + b0 * pix * g->co,
                  (int)g->co, b0 == 0 ? 0.0f : 1.0f, C, (int)g->co);
    }
  }
  return 1;
}

/* One part of a convolution split by images (setThreads(n) > 1): images [b0, b0 + g.batch) of the call. */
typedef struct {
  int64_t mode;
  const float* A;
  const float* B;
  float* C;
  ConvGeom g;
  int64_t chunk;
  float* work;
  const float* bias;
  int ok;
} ConvPart;

static void conv_part_task(void* arg) {
  ConvPart* p = (ConvPart*)arg;
  p->ok = conv_images(p->mode, p->A, p->B, p->C, &p->g, p->chunk, p->work, p->bias);
}

/* The 15 geometry numbers at args[0 … 14] (clearing *ok where one is not a whole number): 1 where every size,
 * stride and dilation is ≥ 1, both paddings ≥ 0, and each below 2³¹, so that the loops' products of a position
 * and a stride or dilation (each < 2³¹) cannot overflow int64. */
static int conv_geometry_args(napi_env env, const napi_value* args, int* ok, ConvGeom* g) {
  int64_t v[15];
  int good = 1;
  for (int i = 0; i < 15; i++) {
    v[i] = int_arg(env, args[i], ok);
    good = good && (i == 11 || i == 12 ? v[i] >= 0 : v[i] >= 1) && v[i] <= 2147483647;
  }
  *g = (ConvGeom){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  return good;
}

/* The images of part k of a batch split into `parts` parts of whole images: [*b0, *b1). */
static void conv_part_images(int64_t batch, int k, int parts, int64_t* b0, int64_t* b1) {
  *b0 = batch * k / parts, *b1 = batch * (k + 1) / parts;
}

/* Runs fn on each of the parts (an array of `size`-byte structs) on the pool, with OpenBLAS on one thread inside
 * them and set back to `threads` (the caller's one reading of setThreads) after; serially, with OpenBLAS's own
 * threads, where there is one part or the pool is busy. */
static void conv_parts_run(int parts, pool_task fn, void* part, size_t size, int threads) {
  pool_task fns[POOL_MAX];
  void* task_args[POOL_MAX];
  for (int k = 0; k < parts; k++) fns[k] = fn, task_args[k] = (char*)part + k * size;
  if (parts > 1 && pool_acquire()) {
    openblas_set_num_threads(1);
    pool_run_held(parts, fns, task_args);
    openblas_set_num_threads(threads);
    pool_release();
  } else {
    for (int k = 0; k < parts; k++) fn(task_args[k]);
  }
}

/*
 * conv2d, and conv2dTransposeBiasRelu (has_bias: mode 1 and the bias of inC values at bias_off): `args` are
 * a_off, b_off, c_off and the 15 geometry numbers after them.
 */
static napi_value conv_call(napi_env env, float* heap, int64_t len, const char* who, int64_t mode, int has_bias, int64_t bias_off, const napi_value* args, int ok) {
  char msg[112];
  const int64_t a_off = int_arg(env, args[0], &ok), b_off = int_arg(env, args[1], &ok), c_off = int_arg(env, args[2], &ok);
  ConvGeom g;
  int good = conv_geometry_args(env, args + 3, &ok, &g);
  good = good && ok && mode >= 0 && mode <= 2 && a_off >= 0 && b_off >= 0 && c_off >= 0 && (!has_bias || (mode == 1 && bias_off >= 0));
  /* One image's im2col columns (a chunk's scratch) at most 2⁴⁰ floats, so that no product of sizes below can
   * overflow; far more than any heap holds. */
  good = good && (double)g.oh * g.ow * g.fh * g.fw * g.ci <= 1099511627776.0;
  if (!good) {
    snprintf(msg, sizeof msg, "vae-lab native %s: bad sizes or offsets", who);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  const double xd = (double)g.batch * g.ih * g.iw * g.ci, yd = (double)g.batch * g.oh * g.ow * g.co, wd = (double)g.fh * g.fw * g.ci * g.co;
  if (!within_heap(a_off, mode == 1 ? yd : xd, len) || !within_heap(b_off, mode == 2 ? yd : wd, len) || !within_heap(c_off, mode == 0 ? yd : mode == 1 ? xd : wd, len) ||
      (has_bias && !within_heap(bias_off, (double)g.ci, len))) {
    snprintf(msg, sizeof msg, "vae-lab native %s: operands outside the heap", who);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  /* Each ≤ the heap's length: checked above. */
  const int64_t wn = g.fh * g.fw * g.ci * g.co;
  const float* bias = has_bias ? heap + bias_off : NULL;
  /* The batch in parts of whole images, one per thread (setThreads): the images' outputs are disjoint for y
   * and dx; for dW part 0 writes the heap's and the others their own, added in afterwards in part order, so
   * n threads give the same floats call after call (and one thread the unsplit sum). */
  const int threads = blas_threads; /* read once: setThreads may run on another Node thread */
  int parts = threads < POOL_MAX ? threads : POOL_MAX;
  if (parts > g.batch) parts = (int)g.batch;
  /* The chunk from the largest part's batch, once for all parts; every part's slice of scratch holds it. */
  const int64_t chunk = conv_chunk(&g, (g.batch + parts - 1) / parts, chunk_floats);
  const int64_t per = conv_work_floats(mode, &g, chunk);
  const size_t need = (size_t)(parts * per + (mode == 2 ? (parts - 1) * wn : 0));
  float* work = need > 0 ? scratch_for(need) : NULL;
  if (need > 0 && !work) {
    snprintf(msg, sizeof msg, "vae-lab native %s: out of memory", who);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  const int64_t in_img = g.ih * g.iw * g.ci, out_img = g.oh * g.ow * g.co;
  ConvPart part[POOL_MAX];
  for (int k = 0; k < parts; k++) {
    int64_t b0, b1;
    conv_part_images(g.batch, k, parts, &b0, &b1);
    ConvPart* p = &part[k];
    p->mode = mode, p->g = g, p->g.batch = b1 - b0, p->chunk = chunk, p->work = work ? work + k * per : NULL, p->bias = bias, p->ok = 0;
    p->A = heap + a_off + b0 * (mode == 1 ? out_img : in_img);
    p->B = mode == 2 ? heap + b_off + b0 * out_img : heap + b_off;
    p->C = mode == 2 ? (k == 0 ? heap + c_off : work + parts * per + (k - 1) * wn) : heap + c_off + b0 * (mode == 0 ? out_img : in_img);
  }
  conv_parts_run(parts, conv_part_task, part, sizeof part[0], threads);
  for (int k = 0; k < parts; k++)
    if (!part[k].ok) {
      snprintf(msg, sizeof msg, "vae-lab native %s: out of memory", who);
      napi_throw_error(env, NULL, msg);
      return NULL;
    }
  if (mode == 2) {
    float* dw = heap + c_off;
    for (int k = 1; k < parts; k++) {
      const float* src = part[k].C;
#pragma omp simd
      for (int64_t j = 0; j < wn; j++) dw[j] += src[j];
    }
  }
  return NULL;
}

/*
 * The conv VAE's last two layers: a = relu(conv2dTranspose(x, W1) + b) (a layer of several channels) and then
 * y = conv2dTranspose(a, W2) to one channel with a 3 × 3 filter — forward and backward, each one call that goes
 * through the batch a chunk of images at a time (the chunk conv2d's transposed convolution takes), so that each
 * chunk's activation a, or its gradient, is still in the cache when the next layer's loop reads it. As separate
 * calls, each layer's pass streamed the whole [B, H, W, C] activation or its gradient through memory: the
 * forward pass wrote a and read it back; the backward pass wrote the gradient of a and read it three times
 * (its ReLU, then two im2col for the first layer's input and filter gradients).
 *
 * g1 is the first layer's convolution geometry (a [B, ih, iw, ci] is its input, x [B, oh, ow, co] its output),
 * g2 the second's (y [B, ih, iw, 1] its input, a its output; ci = 1, a 3 × 3 filter, co = g1's ci, a multiple
 * of 16). The same routines in the same order as the calls they replace (conv2dTransposeBiasRelu, then conv2d
 * mode 1; conv2d mode 0 of dy, biasReluGrad and conv2d mode 2 for the second layer, then modes 0 and 2 for the
 * first), so the same floats on one thread; on n threads the batch is in the parts conv2d makes, the filter
 * gradients and bias sums of the parts added in part order.
 */
typedef struct {
  const float *x, *w1, *bias, *w2;
  float *a, *y;
  ConvGeom g1, g2; /* this part's images */
  int64_t chunk;
  float* work; /* the chunk's im2col columns */
  int ok;
} PairForwardPart;

static void pair_forward_task(void* arg) {
  PairForwardPart* p = (PairForwardPart*)arg;
  const int64_t x_img = p->g1.oh * p->g1.ow * p->g1.co, a_img = p->g1.ih * p->g1.iw * p->g1.ci, y_img = p->g2.ih * p->g2.iw;
  p->ok = 1;
  for (int64_t b0 = 0; b0 < p->g1.batch; b0 += p->chunk) {
    const int64_t nb = p->g1.batch - b0 < p->chunk ? p->g1.batch - b0 : p->chunk;
    ConvGeom c1 = p->g1, c2 = p->g2;
    c1.batch = c2.batch = nb;
    if (!conv_images(1, p->x + b0 * x_img, p->w1, p->a + b0 * a_img, &c1, nb, p->work, p->bias) ||
        !conv1_input_grad(p->a + b0 * a_img, p->w2, p->y + b0 * y_img, &c2)) {
      p->ok = 0;
      return;
    }
  }
}

typedef struct {
  const float *dy, *w2, *a, *x, *w1;
  float *dx, *dw1, *dw2;
  double* db;
  ConvGeom g1, g2; /* this part's images */
  int64_t chunk;
  float *cols, *ga; /* the chunk's im2col columns and the gradient of its a */
} PairGradPart;

static void pair_grad_task(void* arg) {
  const PairGradPart* p = (const PairGradPart*)arg;
  const ConvGeom *g1 = &p->g1, *g2 = &p->g2;
  const int64_t x_img = g1->oh * g1->ow * g1->co, a_img = g1->ih * g1->iw * g1->ci, y_img = g2->ih * g2->iw, co = g2->co;
  const int64_t K = g1->fh * g1->fw * g1->ci, wn2 = g2->fh * g2->fw * co;
  ConvGeom one = *g2;
  one.batch = 1;
  int64_t ylo, yhi, xlo, xhi;
  conv1_inside(g2->ih, g2->oh, g2->sh, g2->pt, g2->fh, g2->dh, &ylo, &yhi);
  conv1_inside(g2->iw, g2->ow, g2->sw, g2->pl, g2->fw, g2->dw, &xlo, &xhi);
  memset(p->dw2, 0, (size_t)wn2 * sizeof(float));
  for (int64_t c = 0; c < co; c++) p->db[c] = 0.0;
  for (int64_t b0 = 0; b0 < g1->batch; b0 += p->chunk) {
    const int64_t nb = g1->batch - b0 < p->chunk ? g1->batch - b0 : p->chunk;
    /* The second layer's backward pass, image by image: the gradient of a (conv2d(dy, W2)), its ReLU mask and
     * bias sums, and W2's gradient, which reads the image's a again while it is in the cache. */
    for (int64_t b = b0; b < b0 + nb; b++) {
      float* ga = p->ga + (b - b0) * a_img;
      conv1_forward(p->dy + b * y_img, p->w2, ga, &one);
      relu_grad_span(ga, p->a + b * a_img, ga, p->db, g2->oh * g2->ow, co);
      conv1_filter_image3(p->dy, p->a, p->dw2, g2, b, ylo, yhi, xlo, xhi);
    }
    /* The first layer's input and filter gradients from one im2col of the chunk's gradient: conv2d mode 0
     * (dx = cols · W1) and mode 2 (dW1 += colsᵀ · x). */
    ConvGeom c1 = *g1;
    c1.batch = nb;
    im2col(p->ga, p->cols, &c1, 0, nb);
    const int rows = (int)(nb * g1->oh * g1->ow);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)g1->co, (int)K, 1.0f, p->cols, (int)K, p->w1, (int)g1->co, 0.0f,
                p->dx + b0 * x_img, (int)g1->co);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)g1->co, rows, 1.0f, p->cols, (int)K, p->x + b0 * x_img, (int)g1->co,
                b0 == 0 ? 0.0f : 1.0f, p->dw1, (int)g1->co);
  }
}

/* The offsets args[1 … n] (clearing *ok where one is not a whole number, -1 where negative) and the two
 * geometries after them; 1 where the two fit together as described above. */
static int pair_args(napi_env env, const napi_value* args, int n, int64_t* off, ConvGeom* g1, ConvGeom* g2) {
  int ok = 1;
  int good = 1;
  for (int i = 0; i < n; i++) {
    off[i] = int_arg(env, args[1 + i], &ok);
    good = good && off[i] >= 0;
  }
  good = conv_geometry_args(env, args + 1 + n, &ok, g1) && good;
  good = conv_geometry_args(env, args + 16 + n, &ok, g2) && good;
  good = good && ok && g2->ci == 1 && g2->fh == 3 && g2->fw == 3 && g2->co % 16 == 0 && g1->ci == g2->co && g1->ih == g2->oh && g1->iw == g2->ow &&
         g1->batch == g2->batch;
  /* As conv2d: one image's im2col columns at most 2⁴⁰ floats. */
  return good && (double)g1->oh * g1->ow * g1->fh * g1->fw * g1->ci <= 1099511627776.0;
}

/* What transposePair and transposePairGrad check and work out alike: the heap, n offsets and the two
 * geometries (one line naming the function where they are not such a pair), the floats of x, a and y, and the
 * parts and chunk the batch is split into (as conv2d splits it). 0 after throwing. */
typedef struct {
  float* heap;
  int64_t len;
  ConvGeom g1, g2;
  double xd, ad, yd;
  int threads, parts;
  int64_t chunk;
} PairCall;

static int pair_begin(napi_env env, napi_callback_info info, napi_value* args, int n, const char* who, int64_t* off, PairCall* c) {
  char msg[160];
  c->heap = begin_call(env, info, (size_t)(1 + n + 30), args, who, &c->len);
  if (!c->heap) return 0;
  if (!pair_args(env, args, n, off, &c->g1, &c->g2)) {
    snprintf(msg, sizeof msg, "vae-lab native %s: bad sizes or offsets (a one-channel 3 × 3 second layer whose input is the first one's output)", who);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  const ConvGeom *g1 = &c->g1, *g2 = &c->g2;
  c->xd = (double)g1->batch * g1->oh * g1->ow * g1->co, c->ad = (double)g1->batch * g1->ih * g1->iw * g1->ci, c->yd = (double)g2->batch * g2->ih * g2->iw;
  c->threads = blas_threads; /* read once: setThreads may run on another Node thread */
  c->parts = c->threads < POOL_MAX ? c->threads : POOL_MAX;
  if (c->parts > g1->batch) c->parts = (int)g1->batch;
  c->chunk = conv_chunk(g1, (g1->batch + c->parts - 1) / c->parts, chunk_floats);
  return 1;
}

/* transposePair(heap, x, W1, b, W2, a, y, g1…, g2…): offsets of x [B, oh1, ow1, co1], W1 [fh1, fw1, ci1, co1],
 * b [ci1], W2 [3, 3, 1, ci1], a [B, ih1, iw1, ci1] and y [B, ih2, iw2, 1]; then the two geometries. */
static napi_value TransposePair(napi_env env, napi_callback_info info) {
  napi_value args[37];
  int64_t off[6];
  PairCall c;
  if (!pair_begin(env, info, args, 6, "transposePair", off, &c)) return NULL;
  const ConvGeom g1 = c.g1, g2 = c.g2;
  float* heap = c.heap;
  const int64_t len = c.len;
  if (!within_heap(off[0], c.xd, len) || !within_heap(off[1], (double)g1.fh * g1.fw * g1.ci * g1.co, len) || !within_heap(off[2], (double)g1.ci, len) ||
      !within_heap(off[3], 9.0 * g2.co, len) || !within_heap(off[4], c.ad, len) || !within_heap(off[5], c.yd, len)) {
    napi_throw_range_error(env, NULL, "vae-lab native transposePair: operands outside the heap");
    return NULL;
  }
  /* Each ≤ the heap's length: checked above. */
  const int parts = c.parts;
  const int64_t chunk = c.chunk, per = conv_work_floats(1, &g1, chunk);
  float* work = scratch_for((size_t)(parts * per));
  if (!work) {
    napi_throw_error(env, NULL, "vae-lab native transposePair: out of memory");
    return NULL;
  }
  const int64_t x_img = g1.oh * g1.ow * g1.co, a_img = g1.ih * g1.iw * g1.ci, y_img = g2.ih * g2.iw;
  PairForwardPart part[POOL_MAX];
  for (int k = 0; k < parts; k++) {
    int64_t b0, b1;
    conv_part_images(g1.batch, k, parts, &b0, &b1);
    PairForwardPart* p = &part[k];
    p->x = heap + off[0] + b0 * x_img, p->w1 = heap + off[1], p->bias = heap + off[2], p->w2 = heap + off[3];
    p->a = heap + off[4] + b0 * a_img, p->y = heap + off[5] + b0 * y_img;
    p->g1 = g1, p->g2 = g2, p->g1.batch = p->g2.batch = b1 - b0, p->chunk = chunk, p->work = work + k * per, p->ok = 0;
  }
  conv_parts_run(parts, pair_forward_task, part, sizeof part[0], c.threads);
  for (int k = 0; k < parts; k++)
    if (!part[k].ok) {
      napi_throw_error(env, NULL, "vae-lab native transposePair: out of memory");
      return NULL;
    }
  return NULL;
}

/* transposePairGrad(heap, dy, W2, a, x, W1, dx, dW1, db, dW2, g1…, g2…): offsets of dy [B, ih2, iw2, 1] (the
 * gradient of y), W2, a and x, W1 as in transposePair; the outputs dx (as x), dW1 (as W1), db [ci1], dW2 (as W2). */
static napi_value TransposePairGrad(napi_env env, napi_callback_info info) {
  napi_value args[40];
  int64_t off[9];
  PairCall c;
  if (!pair_begin(env, info, args, 9, "transposePairGrad", off, &c)) return NULL;
  const ConvGeom g1 = c.g1, g2 = c.g2;
  float* heap = c.heap;
  const int64_t len = c.len;
  const double w1d = (double)g1.fh * g1.fw * g1.ci * g1.co, w2d = 9.0 * g2.co;
  if (!within_heap(off[0], c.yd, len) || !within_heap(off[1], w2d, len) || !within_heap(off[2], c.ad, len) || !within_heap(off[3], c.xd, len) ||
      !within_heap(off[4], w1d, len) || !within_heap(off[5], c.xd, len) || !within_heap(off[6], w1d, len) || !within_heap(off[7], (double)g1.ci, len) ||
      !within_heap(off[8], w2d, len)) {
    napi_throw_range_error(env, NULL, "vae-lab native transposePairGrad: operands outside the heap");
    return NULL;
  }
  /* Each ≤ the heap's length: checked above. */
  const int parts = c.parts;
  const int64_t chunk = c.chunk;
  const int64_t co = g2.co, wn1 = g1.fh * g1.fw * g1.ci * g1.co, wn2 = 9 * co;
  const int64_t x_img = g1.oh * g1.ow * g1.co, a_img = g1.ih * g1.iw * g1.ci, y_img = g2.ih * g2.iw;
  const int64_t cols = conv_work_floats(0, &g1, chunk), ga = chunk * a_img;
  /* Every part's float64 bias sums (2·co floats each, first, so aligned for doubles), its columns and gradient
   * of a, and the other parts' filter gradients. */
  float* work = scratch_for((size_t)(parts * (2 * co + cols + ga) + (parts - 1) * (wn1 + wn2)));
  if (!work) {
    napi_throw_error(env, NULL, "vae-lab native transposePairGrad: out of memory");
    return NULL;
  }
  double* sums = (double*)work;
  float* rest = work + 2 * parts * co;
  PairGradPart part[POOL_MAX];
  for (int k = 0; k < parts; k++) {
    int64_t b0, b1;
    conv_part_images(g1.batch, k, parts, &b0, &b1);
    PairGradPart* p = &part[k];
    p->dy = heap + off[0] + b0 * y_img, p->w2 = heap + off[1], p->a = heap + off[2] + b0 * a_img, p->x = heap + off[3] + b0 * x_img, p->w1 = heap + off[4];
    p->dx = heap + off[5] + b0 * x_img;
    p->dw1 = k == 0 ? heap + off[6] : rest + parts * (cols + ga) + (k - 1) * (wn1 + wn2);
    p->dw2 = k == 0 ? heap + off[8] : p->dw1 + wn1;
    p->db = sums + k * co;
    p->g1 = g1, p->g2 = g2, p->g1.batch = p->g2.batch = b1 - b0, p->chunk = chunk;
    p->cols = rest + k * (cols + ga), p->ga = p->cols + cols;
  }
  conv_parts_run(parts, pair_grad_task, part, sizeof part[0], c.threads);
  float *dw1 = heap + off[6], *dw2 = heap + off[8];
  for (int k = 1; k < parts; k++) {
#pragma omp simd
    for (int64_t j = 0; j < wn1; j++) dw1[j] += part[k].dw1[j];
#pragma omp simd
    for (int64_t j = 0; j < wn2; j++) dw2[j] += part[k].dw2[j];
    for (int64_t c = 0; c < co; c++) sums[c] += part[k].db[c];
  }
  for (int64_t c = 0; c < co; c++) heap[off[7] + c] = (float)sums[c];
  return NULL;
}

/* Both entry points take 20 arguments: conv2d (heap, mode, a, b, c, geometry…), conv2dTransposeBiasRelu
 * (heap, dy, W, y, geometry…, b), so that the three offsets and the geometry are one run for conv_call. */
static napi_value conv_entry(napi_env env, napi_callback_info info, const char* who, int has_bias) {
  napi_value args[20];
  int64_t len;
  float* heap = begin_call(env, info, 20, args, who, &len);
  if (!heap) return NULL;
  int ok = 1;
  const int64_t mode = has_bias ? 1 : int_arg(env, args[1], &ok);
  const int64_t bias_off = has_bias ? int_arg(env, args[19], &ok) : 0;
  return conv_call(env, heap, len, who, mode, has_bias, bias_off, args + (has_bias ? 1 : 2), ok);
}

static napi_value Conv2d(napi_env env, napi_callback_info info) {
  return conv_entry(env, info, "conv2d", 0);
}

static napi_value Conv2dTransposeBiasRelu(napi_env env, napi_callback_info info) {
  return conv_entry(env, info, "conv2dTransposeBiasRelu", 1);
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
  napi_value previous;
  CHECK(napi_create_int64(env, chunk_floats, &previous));
  chunk_floats = n;
  return previous;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  int64_t n = 1;
  CHECK(positive_int_arg(env, info, &n));
  blas_threads = n > 1024 ? 1024 : (int)n;
  openblas_set_num_threads(blas_threads);
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
  if (napi_create_function(env, "adamAll", NAPI_AUTO_LENGTH, AdamAll, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "adamAll", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "bernoulliNll", NAPI_AUTO_LENGTH, BernoulliNll, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "bernoulliNll", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "biasRelu", NAPI_AUTO_LENGTH, BiasRelu, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "biasRelu", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "biasReluGrad", NAPI_AUTO_LENGTH, BiasReluGrad, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "biasReluGrad", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "coreName", NAPI_AUTO_LENGTH, CoreName, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "coreName", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "mlpGradients", NAPI_AUTO_LENGTH, MlpGradients, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "mlpGradients", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "conv2d", NAPI_AUTO_LENGTH, Conv2d, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "conv2d", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "conv2dTransposeBiasRelu", NAPI_AUTO_LENGTH, Conv2dTransposeBiasRelu, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "conv2dTransposeBiasRelu", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "transposePair", NAPI_AUTO_LENGTH, TransposePair, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "transposePair", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "transposePairGrad", NAPI_AUTO_LENGTH, TransposePairGrad, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "transposePairGrad", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "setConvScratch", NAPI_AUTO_LENGTH, SetConvScratch, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "setConvScratch", fn) != napi_ok) return NULL;
  openblas_set_num_threads(1);
  return exports;
}

/* A complete in-process adapter in C (adamconf/adapter.h): PyTorch's AdamW
 * (torch.optim.AdamW, single-tensor: theta (1 - lr wd), then
 * theta - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)), float32 and float64,
 * a state per tensor that adamconf can export and import.
 *
 *     cc -O2 -shared -fPIC -I PREFIX/include adamw.c -o libadamw.so -lm
 *     adamconf check --impl lib:./libadamw.so --preset pytorch-adamw --dtype float32
 *
 * Built with -DPLANT_BUG it forgets to bias-correct v (tests/cli/check_library.sh
 * checks that adamconf catches it).
 */
#include <adamconf/adapter.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int f32;                 /* 1: float32, 0: float64 */
  size_t n_tensors;
  size_t* sizes;
  adamconf_hyperparameters* h; /* per tensor: its group's */
  int64_t* steps;
  void** m;                /* per tensor: float* or double* */
  void** v;
} optimizer;

static int fail(char* error, size_t size, const char* message) {
  snprintf(error, size, "%s", message);
  return 1;
}

/* One tensor's step in type T (generated for float and double). */
#define ADAMW_STEP(T, SQRT, POW)                                                                        \
  static void step_##T(T* theta, const T* g, T* m, T* v, size_t n, const adamconf_hyperparameters* h,   \
                       double lr, int64_t t) {                                                          \
    const double bc1 = 1 - POW(h->beta1, (double)t), bc2 = 1 - POW(h->beta2, (double)t);               \
    const T decay = (T)(1 - lr * h->weight_decay), step_size = (T)(lr / bc1);                           \
    const T bc2_sqrt = (T)sqrt(PLANTED(bc2)), b1 = (T)h->beta1, b2 = (T)h->beta2, eps = (T)h->eps;      \
    (void)bc2;                                                                                           \
    for (size_t i = 0; i < n; ++i) {                                                                     \
      theta[i] *= decay;                                                                                 \
      m[i] = b1 * m[i] + ((T)1 - b1) * g[i];                                                             \
      v[i] = b2 * v[i] + ((T)1 - b2) * g[i] * g[i];                                                      \
      theta[i] -= step_size * (m[i] / (SQRT(v[i]) / bc2_sqrt + eps));                                    \
    }                                                                                                    \
  }
#ifdef PLANT_BUG
#define PLANTED(bc2) 1.0 /* BUG: v is not bias-corrected */
#else
#define PLANTED(bc2) (bc2)
#endif
ADAMW_STEP(float, sqrtf, pow)
ADAMW_STEP(double, sqrt, pow)

static int create(const char* name, const char* dtype, const adamconf_options* options, size_t n_groups,
                  const adamconf_hyperparameters* groups, size_t n_tensors, const size_t* sizes, const size_t* group_of,
                  void** handle, char* error, size_t error_size) {
  (void)name;
  if (options->amsgrad || options->maximize || !options->bias_correction)
    return fail(error, error_size, "this AdamW has no amsgrad, maximize or bias-correction switch");
  optimizer* o = calloc(1, sizeof *o);
  if (!o) return fail(error, error_size, "out of memory");
  o->f32 = strcmp(dtype, "float32") == 0;
  const size_t width = o->f32 ? sizeof(float) : sizeof(double);
  o->n_tensors = n_tensors;
  o->sizes = calloc(n_tensors + 1, sizeof *o->sizes);
  o->h = calloc(n_tensors + 1, sizeof *o->h);
  o->steps = calloc(n_tensors + 1, sizeof *o->steps);
  o->m = calloc(n_tensors + 1, sizeof *o->m);
  o->v = calloc(n_tensors + 1, sizeof *o->v);
  for (size_t k = 0; k < n_tensors; ++k) {
    if (group_of[k] >= n_groups) return fail(error, error_size, "a tensor in no group");
    o->sizes[k] = sizes[k];
    o->h[k] = groups[group_of[k]];
    o->m[k] = calloc(sizes[k] + 1, width); /* zeros are 0.0 in both formats */
    o->v[k] = calloc(sizes[k] + 1, width);
  }
  *handle = o;
  return 0;
}

static int step(void* handle, void* const* params, const void* const* grads, double lr, char* error, size_t error_size) {
  optimizer* o = handle;
  (void)error, (void)error_size;
  for (size_t k = 0; k < o->n_tensors; ++k) {
    if (!grads[k]) continue; /* no gradient: the tensor, its state and its step count stay */
    const double rate = isnan(lr) ? o->h[k].lr : lr;
    const int64_t t = ++o->steps[k];
    if (o->f32) step_float(params[k], grads[k], o->m[k], o->v[k], o->sizes[k], &o->h[k], rate, t);
    else step_double(params[k], grads[k], o->m[k], o->v[k], o->sizes[k], &o->h[k], rate, t);
  }
  return 0;
}

static int get_state(void* handle, size_t k, int64_t* steps, void* m, void* v, void* vmax, char* error, size_t error_size) {
  optimizer* o = handle;
  (void)vmax, (void)error, (void)error_size;
  const size_t bytes = o->sizes[k] * (o->f32 ? sizeof(float) : sizeof(double));
  *steps = o->steps[k];
  memcpy(m, o->m[k], bytes);
  memcpy(v, o->v[k], bytes);
  return 0;
}

static int set_state(void* handle, size_t k, int64_t steps, const void* m, const void* v, const void* vmax, char* error,
                     size_t error_size) {
  optimizer* o = handle;
  (void)vmax, (void)error, (void)error_size;
  const size_t bytes = o->sizes[k] * (o->f32 ? sizeof(float) : sizeof(double));
  o->steps[k] = steps;
  memcpy(o->m[k], m, bytes);
  memcpy(o->v[k], v, bytes);
  return 0;
}

static void destroy(void* handle) {
  optimizer* o = handle;
  for (size_t k = 0; k < o->n_tensors; ++k) free(o->m[k]), free(o->v[k]);
  free(o->sizes), free(o->h), free(o->steps), free(o->m), free(o->v), free(o);
}

static const char* const presets[] = {"pytorch-adamw", NULL};
static const char* const dtypes[] = {"float32", "float64", NULL};
static const char* const hyperparameters[] = {"lr", "beta1", "beta2", "eps", "weight_decay", NULL};
static const char* const no_options[] = {NULL};
static const adamconf_optimizer_info optimizers[] = {
    {"c_adamw", presets, dtypes, hyperparameters, no_options, 1, 1}};
static const adamconf_adapter table = {ADAMCONF_ABI_VERSION, "examples/c_abi/adamw.c", 1, optimizers,
                                       create, step, get_state, set_state, destroy};

const adamconf_adapter* adamconf_adapter_v1(void) { return &table; }

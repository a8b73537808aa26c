/* adamconf's in-process C ABI: a compiled optimizer (C, C++, CUDA host code)
 * built as a shared library and checked with
 *
 *     adamconf check --impl lib:./libmy_adamw.so --preset pytorch-adamw
 *
 * with the same properties as every adapter, and no process or JSON per case.
 * The library exports one function, adamconf_adapter_v1, returning a table:
 * what it offers, and how to create an optimizer over a list of tensors, step
 * it, export and import its state, and destroy it. Values are in the format
 * the check asks for: float* for "float32", double* for "float64".
 *
 * It runs inside adamconf: a crash in the library is a crash of adamconf, and a
 * hang hangs it (--timeout does not apply). For code you do not trust, speak
 * the process protocol instead (docs/protocol.md).
 *
 * Complete examples: examples/c_abi/adamw.c (C) and examples/c_abi/adam.cpp (C++).
 */
#ifndef ADAMCONF_ADAPTER_H
#define ADAMCONF_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ADAMCONF_ABI_VERSION 1

/* One optimizer the library offers. Lists end with NULL. */
typedef struct adamconf_optimizer_info {
  const char* name;                    /* "my_adamw" */
  const char* const* presets;          /* conventions it claims: {"pytorch-adamw", NULL} */
  const char* const* dtypes;           /* {"float32", "float64", NULL} */
  const char* const* hyperparameters;  /* those it reads: {"lr", "beta1", "beta2", "eps", "weight_decay", NULL} */
  const char* const* options;          /* of "amsgrad", "maximize", "bias_correction": {NULL} for none */
  int state;                           /* 1: get_state and set_state work */
  int lr_schedule;                     /* 1: takes a learning rate per step */
} adamconf_optimizer_info;

/* Hyperparameters: the nearest double of each decimal adamconf chose. */
typedef struct adamconf_hyperparameters {
  double lr, beta1, beta2, eps, eps_root, weight_decay;
} adamconf_hyperparameters;

typedef struct adamconf_options {
  int amsgrad, maximize, bias_correction; /* bias_correction is 1 unless the option turns it off */
} adamconf_options;

/* Every function returns 0 on success; otherwise nonzero, with a one-line
 * message written (NUL-terminated) into error[0..error_size). */
typedef struct adamconf_adapter {
  int abi_version; /* ADAMCONF_ABI_VERSION */
  const char* name;
  size_t n_optimizers;
  const adamconf_optimizer_info* optimizers;

  /* A fresh optimizer (every state zero, every step count 0) over n_tensors
   * tensors; tensor k has sizes[k] elements (0 allowed) and belongs to parameter
   * group group_of[k], whose hyperparameters are groups[group_of[k]]. */
  int (*create)(const char* optimizer, const char* dtype, const adamconf_options* options, size_t n_groups,
                const adamconf_hyperparameters* groups, size_t n_tensors, const size_t* sizes, const size_t* group_of,
                void** handle, char* error, size_t error_size);
  /* One step. params[k]: tensor k's values, updated in place; grads[k]: its
   * gradient, or NULL when the tensor has no gradient this step (PyTorch's
   * grad None: leave the tensor, its state and its step count alone).
   * lr: this step's learning rate for every group, or NaN for the groups' own. */
  int (*step)(void* handle, void* const* params, const void* const* grads, double lr, char* error, size_t error_size);
  /* Tensor k's state: its step count and m, v, vmax (vmax only with amsgrad;
   * NULL otherwise), each sizes[k] values. NULL functions: no state export. */
  int (*get_state)(void* handle, size_t k, int64_t* step, void* m, void* v, void* vmax, char* error, size_t error_size);
  int (*set_state)(void* handle, size_t k, int64_t step, const void* m, const void* v, const void* vmax, char* error,
                   size_t error_size);
  void (*destroy)(void* handle);
} adamconf_adapter;

/* The one symbol the library exports. */
typedef const adamconf_adapter* (*adamconf_adapter_v1_fn)(void);
#define ADAMCONF_ADAPTER_SYMBOL "adamconf_adapter_v1"

#ifdef __cplusplus
}
#endif

#endif

// The code maps of blockwise-quantized optimizer states (8-bit and 4-bit
// Adam), built in float32 exactly as the libraries build them, so that a
// quantized state's codes can be read back as the values the library meant.
//
// bitsandbytes' create_dynamic_map (bitsandbytes/functional.py, 0.50.2) and
// torchao's copy of it (torchao/optim/quant_utils.py, 0.18) build the
// "dynamic tree" map of Dettmers (arXiv:1511.04561): for each decade
// 10^(i - E + 1), i = 0..E-1, the midpoints of torch.linspace(0.1, 1, n_i)
// scaled by the decade, with their negations for a signed map, plus 0 and 1,
// sorted. torchao's 4-bit v map is torch.linspace(0, 1, 17)[1:].
//
// torch.linspace on the CPU computes start + step * i for the first half and
// end - step * (steps - 1 - i) for the second
// (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp). PyTorch compiles that
// kernel once per CPU capability; its AVX2 and AVX-512 builds contract the
// multiply-add into one fused rounding, its default build rounds twice. The
// maps therefore depend on the machine: 42 of the 256 signed codes and 31 of
// the unsigned differ by up to 2 ulps between ATEN_CPU_CAPABILITY=avx2 and
// =default (measured with torch 2.15). Both orders are built here.
#pragma once

#include <string>
#include <vector>

namespace adamconf {

/// How torch.linspace rounded start + step * i: in one fused multiply-add
/// (PyTorch's AVX2 and AVX-512 kernels) or in two roundings (its default kernel).
enum class LinspaceRounding { fused, separate };

/// torch.linspace(start, end, steps, dtype=torch.float32) on the CPU, element by element.
std::vector<float> torch_linspace(float start, float end, int steps, LinspaceRounding rounding);

/// create_dynamic_map(signed, max_exponent_bits, total_bits): 2^total_bits
/// values in ascending order (bitsandbytes' default is signed, 7, 8).
std::vector<float> dynamic_map(bool is_signed, int max_exponent_bits, int total_bits, LinspaceRounding rounding);

/// torchao's unsigned 4-bit map: torch.linspace(0, 1, 17)[1:] (no zero).
std::vector<float> linear_map_without_zero(int codes, LinspaceRounding rounding);

/// "fused" or "separate".
const char* linspace_rounding_name(LinspaceRounding rounding);

}  // namespace adamconf

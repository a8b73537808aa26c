// How fast the reference Adam step is, per number type: element-steps per
// second for one step of a 64-element pytorch-adamw, gradients changing every
// step. Google Benchmark reports items_per_second = element-steps/s.
//
//   build/bench/bench_reference [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <vector>

#include "adamconf/error_model.hpp"
#include "adamconf/presets.hpp"
#include "adamconf/reference_adam.hpp"

namespace {

using namespace adamconf;

constexpr std::size_t kElements = 64;
constexpr std::size_t kStreamSteps = 256;

/// The gradient stream (exact dyadic values, the same in bench/mpmath_adam.py):
/// g[t][i] = ((37 i + 11 t) mod 101 - 50) / 64.
template <class Real>
std::vector<std::vector<Real>> gradient_stream() {
  std::vector<std::vector<Real>> g(kStreamSteps, std::vector<Real>(kElements));
  for (std::size_t t = 0; t < kStreamSteps; ++t)
    for (std::size_t i = 0; i < kElements; ++i)
      g[t][i] = Real(static_cast<int>((37 * i + 11 * t) % 101) - 50) / 64;
  return g;
}

template <class Real>
ReferenceAdam<Real> make_reference() {
  const OptimizerSpec spec = make_spec("pytorch-adamw", {}, {{"lr", "0.001"}, {"weight_decay", "0.01"}});
  std::vector<Real> theta0(kElements);
  for (std::size_t i = 0; i < kElements; ++i) theta0[i] = Real(static_cast<int>(i) - 32) / 16;
  return ReferenceAdam<Real>(spec.convention, values_of<Real>(spec.hyper), theta0);
}

template <class Real>
void BM_ReferenceStep(benchmark::State& state) {
  const auto grads = gradient_stream<Real>();
  auto reference = make_reference<Real>();
  std::size_t t = 0;
  for (auto _ : state) {
    auto record = reference.step(grads[t++ % kStreamSteps]);
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kElements));
  state.counters["bits"] = significand_bits<Real>();
}

/// The reference with the error model observing it, the bound in Bound: MPFR
/// (as golden files keep it), or double rounded outward (what `check` runs for
/// a float32 target).
template <class Real, class Bound = Real>
void BM_ReferenceStepWithErrorModel(benchmark::State& state) {
  const auto grads = gradient_stream<Real>();
  auto reference = make_reference<Real>();
  const OptimizerSpec spec = make_spec("pytorch-adamw", {}, {{"lr", "0.001"}, {"weight_decay", "0.01"}});
  ErrorModel<Real, Bound> model(PrecisionRules(float32_format), values_of<Real>(spec.hyper), kElements);
  std::size_t t = 0;
  for (auto _ : state) {
    auto record = reference.step(grads[t++ % kStreamSteps], std::nullopt, model);
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kElements));
  state.counters["bits"] = significand_bits<Real>();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_ReferenceStep, float)->Name("float");
BENCHMARK_TEMPLATE(BM_ReferenceStep, double)->Name("double");
BENCHMARK_TEMPLATE(BM_ReferenceStep, adamconf::MpfrReal<39>)->Name("mpfr_float 128");
BENCHMARK_TEMPLATE(BM_ReferenceStep, adamconf::MpfrReal<77>)->Name("mpfr_float 256");
BENCHMARK_TEMPLATE(BM_ReferenceStep, adamconf::MpfrReal<154>)->Name("mpfr_float 512");
BENCHMARK_TEMPLATE(BM_ReferenceStep, adamconf::BinFloatReal<128>)->Name("cpp_bin_float 128");
BENCHMARK_TEMPLATE(BM_ReferenceStep, adamconf::BinFloatReal<256>)->Name("cpp_bin_float 256");
BENCHMARK_TEMPLATE(BM_ReferenceStep, adamconf::BinFloatReal<512>)->Name("cpp_bin_float 512");
BENCHMARK_TEMPLATE(BM_ReferenceStepWithErrorModel, adamconf::ReferenceReal)->Name("mpfr_float 256 + error model");
BENCHMARK_TEMPLATE(BM_ReferenceStepWithErrorModel, adamconf::ReferenceReal, double)->Name("mpfr_float 256 + error model in double");

BENCHMARK_MAIN();

// The generic reference against closed forms, at many precisions: float,
// double, Boost cpp_bin_float (113 bits), MPFR at 103, 257 (the reference) and
// 513 bits. Each tolerance is derived from the precision's unit roundoff u in
// the comment above it; nothing is tuned to make a test pass.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <iostream>
#include <vector>

#include "adamconf/error_model.hpp"
#include "adamconf/presets.hpp"
#include "adamconf/reference_adam.hpp"

// The precisions the closed forms run in, as types named for the test names
// (GoogleTest prints a typed test's type in its name, and ctest pads every name
// to the longest: a Boost type is 200 characters; these say which precision).
struct float32 { using Real = float; };
struct float64 { using Real = double; };
struct bin_float113 { using Real = adamconf::BinFloatReal<113>; };
struct mpfr104 { using Real = adamconf::MpfrReal<31>; };
struct mpfr257 { using Real = adamconf::ReferenceReal; };
struct mpfr513 { using Real = adamconf::MpfrReal<154>; };

namespace adamconf {
namespace {

/// Far more precise than every type under test: the closed forms' values.
using Oracle = MpfrReal<300>;

template <class Real>
Oracle to_oracle(const Real& x) {
  if constexpr (is_multiprecision_v<Real>) {
    return Oracle(x.str(0, std::ios_base::scientific));  // exact: 0 digits means all
  } else {
    return Oracle(static_cast<long double>(x));
  }
}

template <class Precision>
class ClosedForms : public ::testing::Test {
 protected:
  static Oracle unit_roundoff() { return pow(Oracle(2), -significand_bits<typename Precision::Real>()); }
};

using Precisions = ::testing::Types<float32, float64, bin_float113, mpfr104, mpfr257, mpfr513>;
TYPED_TEST_SUITE(ClosedForms, Precisions);

// Constant gradient g: m_t = g (1 - b1^t) and v_t = g^2 (1 - b2^t) exactly, so
// m_hat_t = g and v_hat_t = g^2 at every step (the bias correction's purpose).
//
// Error bound at precision u. Step k adds at most u(b|m_{k-1}| + c|g|) + u|m_k|
// = 2u|m_k| to m (3u|v_k| to v: g*g is one more rounding), and earlier errors
// decay by b, so err(m_t) <= 3u |m_t| min(t, 1/(1-b)) because |m_k| <= |m_t|.
// (The hyperparameters' own rounding cancels: the code uses the same rounded b
// in 1 - b and in b^t.) b^t by binary powering is within k(t) u relative,
// k(t) = 2 floor(log2 t), and 1 - b^t adds u bc, so rel(bc) <= (k(t) b^t + bc) u/bc.
// The division adds u. Total: rel <= u (3 min(t, 1/(1-b)) + k(t) b^t/bc + 2).
TYPED_TEST(ClosedForms, ConstantGradientGivesUnbiasedMomentsAtEveryStep) {
  using Real = typename TypeParam::Real;
  const Oracle u = TestFixture::unit_roundoff();
  const OptimizerSpec spec = make_spec("kingma-ba");
  const Oracle b1("0.9"), b2("0.999");
  const std::vector<Real> grads{Real(3) / 7, -Real(1) / 1000, Real(250), Real(1) / 3};
  ReferenceAdam<Real> reference(spec.convention, values_of<Real>(spec.hyper), std::vector<Real>(grads.size(), Real(0)));
  Oracle worst = 0;
  for (int t = 1; t <= 300; ++t) {
    const auto rec = reference.step(grads);
    const Oracle bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    const int k = 2 * (std::bit_width(static_cast<unsigned>(t)) - 1);
    const Oracle tol1 = u * (3 * std::min<Oracle>(t, 1 / (1 - b1)) + k * pow(b1, t) / bc1 + 2);
    const Oracle tol2 = u * (3 * std::min<Oracle>(t, 1 / (1 - b2)) + k * pow(b2, t) / bc2 + 2);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Oracle g = to_oracle(grads[i]);
      const Oracle rel_m = abs(to_oracle(rec.elements[i].m_hat) - g) / abs(g);
      const Oracle rel_v = abs(to_oracle(rec.elements[i].v_hat) - g * g) / (g * g);
      ASSERT_LE(rel_m, tol1) << "t=" << t << " g=" << g.str(10);
      ASSERT_LE(rel_v, tol2) << "t=" << t << " g=" << g.str(10);
      worst = std::max(worst, std::max(rel_m / tol1, rel_v / tol2));
    }
  }
  std::cout << "  " << significand_bits<Real>() << " bits: worst error / bound = " << worst.str(3) << "\n";
}

// Step 1 with eps after bias correction: theta_1 = theta_0 - lr g/(|g| + eps).
//
// Rounding count at precision u: m_1 = c1 g (1), m_hat = m/bc1 (1, bc1 = 1 - b1
// is exact); v_1 = c2 (g g) (2), v_hat (1), sqrt (1.5 + 1 from the sqrt of a
// 3u-perturbed value), + eps (1) and eps's own representation (1), m_hat/denom
// (1), lr * (1) and lr's representation (1): 9.5u relative on the step, so 10u.
// theta_0 + step adds u|theta_1|.
TYPED_TEST(ClosedForms, StepOneMovesByLrGOverAbsGPlusEps) {
  using Real = typename TypeParam::Real;
  const Oracle u = TestFixture::unit_roundoff();
  for (const char* preset : {"kingma-ba", "pytorch-adam", "optax-adam", "tfjs-adam"}) {
    const OptimizerSpec spec = make_spec(preset);
    const Oracle lr(spec.hyper.lr), eps(spec.hyper.eps);
    // Gradients from far below eps to far above, both signs.
    std::vector<Real> grads;
    for (int k = -12; k <= 6; ++k) grads.push_back(Real((k % 2 ? -1 : 1) * std::ldexp(1.0, 3 * k)) * 5 / 3);
    const std::vector<Real> theta0(grads.size(), Real(1) / 2);
    ReferenceAdam<Real> reference(spec.convention, values_of<Real>(spec.hyper), theta0);
    const auto rec = reference.step(grads);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Oracle g = to_oracle(grads[i]);
      const Oracle step = -lr * g / (abs(g) + eps);
      const Oracle theta1 = to_oracle(theta0[i]) + step;
      const Oracle err = abs(to_oracle(rec.elements[i].theta) - theta1);
      EXPECT_LE(err, 10 * u * abs(step) + u * abs(theta1)) << preset << " g=" << g.str(6);
    }
  }
}

// Step 1 with eps-hat: lr sqrt(c2)/c1 * c1 g/(sqrt(c2 g^2) + eps) = lr g/(|g| + eps/sqrt(1 - b2)):
// eps-hat is eps/sqrt(1 - b2^t) in Algorithm 1's terms. Rounding count as above
// plus sqrt(bc2) (1) and the product with it (1): 12u. Unlike Algorithm 1, the
// rounding of b2 itself does not cancel here: 1 - fl(b2) has relative error up to
// u b2/(1 - b2) (1000u for 0.999), and the step carries half of it weighted by
// the share w = (eps/sqrt(c2))/(|g| + eps/sqrt(c2)) of eps in the denominator.
TYPED_TEST(ClosedForms, StepOneWithEpsHatMovesByLrGOverAbsGPlusEpsOverSqrtOneMinusBeta2) {
  using Real = typename TypeParam::Real;
  const Oracle u = TestFixture::unit_roundoff();
  for (const char* preset : {"kingma-ba-eps-hat", "keras-adam", "onnx-adam", "sklearn-adam"}) {
    const OptimizerSpec spec = make_spec(preset, {}, {});
    if (spec.convention.uses_weight_decay() && spec.hyper.weight_decay != "0") continue;  // sklearn: L2 by default
    const Oracle lr(spec.hyper.lr), eps(spec.hyper.eps), b2(spec.hyper.beta2);
    std::vector<Real> grads;
    for (int k = -12; k <= 6; ++k) grads.push_back(Real((k % 2 ? -1 : 1) * std::ldexp(1.0, 3 * k)) * 5 / 3);
    ReferenceAdam<Real> reference(spec.convention, values_of<Real>(spec.hyper), std::vector<Real>(grads.size(), Real(0)));
    const auto rec = reference.step(grads);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Oracle g = to_oracle(grads[i]);
      const Oracle eps_hat = eps / sqrt(1 - b2);
      const Oracle step = -lr * g / (abs(g) + eps_hat);
      const Oracle w = eps_hat / (abs(g) + eps_hat);
      const Oracle tolerance = (12 * u + u * b2 / (1 - b2) / 2 * w) * abs(step);
      EXPECT_LE(abs(to_oracle(rec.elements[i].theta) - step), tolerance) << preset << " g=" << g.str(6);
    }
  }
}

// Zero gradient with decoupled decay: theta_t = theta_0 prod (1 - s wd), s = lr
// (PyTorch AdamW) or the schedule multiplier (Loshchilov & Hutter), the Adam
// step being exactly 0 (m = 0). Each step rounds the factor (2: s*wd and 1 - .)
// and the product (1): after t steps the relative error is at most 3tu (first
// order), plus the representation of lr and wd (2 per step on s*wd relative,
// at most 2u s wd/(1 - s wd) on the factor, below u for s wd <= 1/3).
TYPED_TEST(ClosedForms, ZeroGradientDecoupledDecayIsGeometric) {
  using Real = typename TypeParam::Real;
  const Oracle u = TestFixture::unit_roundoff();
  for (const char* preset : {"pytorch-adamw", "loshchilov-hutter-adamw", "keras-adamw"}) {
    const OptimizerSpec spec = make_spec(preset, {}, {{"lr", "0.25"}, {"weight_decay", "0.1"}});
    const Oracle lr(spec.hyper.lr), wd(spec.hyper.weight_decay);
    const Oracle s = spec.preset == "loshchilov-hutter-adamw" ? Oracle(1) : lr;
    ReferenceAdam<Real> reference(spec.convention, values_of<Real>(spec.hyper), {Real(3), Real(-1) / 8});
    for (int t = 1; t <= 50; ++t) {
      const auto rec = reference.step({Real(0), Real(0)});
      const Oracle factor = pow(1 - s * wd, t);
      for (const auto& [i, theta0] : {std::pair{0, Oracle(3)}, std::pair{1, Oracle(-1) / 8}}) {
        const Oracle expected = theta0 * factor;
        EXPECT_LE(abs(to_oracle(rec.elements[i].theta) - expected), 4 * t * u * abs(expected))
            << preset << " t=" << t;
      }
    }
  }
}

// Kingma & Ba (section 2.1) state |step| <= lr (1 - b1)/sqrt(1 - b2) when
// 1 - b1 > sqrt(1 - b2) (3.16 lr for the defaults). By Cauchy-Schwarz the tight
// bound is lr B_t, B_t^2 = c1^2 bc2/(c2 bc1^2) sum_{j<t} (b1^2/b2)^j, reached by
// gradients g_k proportional to w_k/omega_k = (b1/b2)^(t-k): growing by b2/b1
// per step. B_t tends to (1 - b1)/sqrt((1 - b2)(1 - b1^2/b2)) = 7.27 for the
// defaults, so the paper's bound is exceeded; the property suite checks B_t.
TEST(KingmaBaBound, IsExceededByGradientsGrowingAtTheRatioOfTheBetas) {
  const OptimizerSpec spec = make_spec("kingma-ba", {}, {{"eps", "0"}});
  const auto h = values_of<R>(spec.hyper);
  const int steps = 3000;  // bc2 = 0.95: B_t = 7.27 sqrt(0.95) = 7.09 lr
  ReferenceAdam<R> reference(spec.convention, h, {R(0)});
  R previous = 0, step = 0;
  for (int t = 1; t <= steps; ++t) {
    const R theta = reference.step({pow(h.beta2 / h.beta1, t)}).elements[0].theta;
    step = abs(theta - previous);
    previous = theta;
  }
  const R c1 = 1 - h.beta1, c2 = 1 - h.beta2, ratio = h.beta1 * h.beta1 / h.beta2;
  const R bc1 = 1 - pow(h.beta1, steps), bc2 = 1 - pow(h.beta2, steps);
  const R tight = h.lr * sqrt(c1 * c1 * bc2 / (c2 * bc1 * bc1) * (1 - pow(ratio, steps)) / (1 - ratio));
  const R paper = h.lr * c1 / sqrt(c2);
  EXPECT_GT(step, paper * 2);                          // the paper's bound, exceeded
  EXPECT_LE(step, tight * (1 + pow(R(2), -200)));      // the tight bound holds
  EXPECT_GT(step, tight * (1 - pow(R(2), -200)));      // and is reached
  std::cout << "  step " << steps << " moves by " << (step / h.lr).str(6) << " lr; Kingma & Ba's bound is "
            << (paper / h.lr).str(6) << " lr, the tight one " << (tight / h.lr).str(6) << " lr\n";
}

}  // namespace
}  // namespace adamconf

namespace adamconf {
namespace {

// Debiased moments (torch-optimi, HeavyBall): with b_t = beta (1 - beta^(t-1)) /
// (1 - beta^t), m_hat_t = b_t m_hat_(t-1) + (1 - b_t) g_t equals Kingma & Ba's
// m_t / (1 - beta^t) at every step (by induction: (1 - beta^t) m_hat_t = beta
// (1 - beta^(t-1)) m_hat_(t-1) + (1 - beta) g_t = beta m_(t-1) + (1 - beta) g_t),
// so optimi-adam's state is Kingma & Ba's bias-corrected moments and its theta
// Kingma & Ba's theta. Both run in the 257-bit reference; each step rounds
// about 20 times (2^-257 each, errors carried at most at weight 1), so after
// 200 steps they agree to 200 * 20 * 2^-257 < 2^-240 relative; a wrong
// exponent in b_t (b_(t+1), or b_t without the (1 - beta^(t-1))) is off by
// more than 1e-3 relative from step 2.
TEST(DebiasedMoments, HoldKingmaBasBiasCorrectedMomentsAndStepAsItDoes) {
  using Real = ReferenceReal;
  const std::map<std::string, std::string> hyper{{"lr", "0.01"}, {"beta1", "0.9"}, {"beta2", "0.999"}, {"eps", "1e-6"}};
  const OptimizerSpec optimi = make_spec("optimi-adam", {}, hyper), kingma = make_spec("kingma-ba", {}, hyper);
  ASSERT_TRUE(optimi.convention.adam().debiased_moments);
  const std::vector<Real> theta0{Real(1) / 3, Real(-2), Real(0)};
  ReferenceAdam<Real> debiased(optimi.convention, values_of<Real>(optimi.hyper), theta0);
  ReferenceAdam<Real> standard(kingma.convention, values_of<Real>(kingma.hyper), theta0);
  const Real tolerance = ldexp(Real(1), -240);
  for (int t = 1; t <= 200; ++t) {
    const std::vector<Real> g{Real(std::sin(t)) * 3, Real(t % 7 == 0 ? 0 : 1) / (t + 1), Real(std::cos(t * t)) / 1000};
    const auto a = debiased.step(g), b = standard.step(g);
    for (std::size_t i = 0; i < g.size(); ++i) {
      const auto close = [&](const Real& x, const Real& y) { return abs(x - y) <= tolerance * (abs(y) + 1); };
      ASSERT_TRUE(close(debiased.state().m[i], b.elements[i].m_hat)) << "m, t=" << t << " element " << i;
      ASSERT_TRUE(close(debiased.state().v[i], b.elements[i].v_hat)) << "v, t=" << t << " element " << i;
      ASSERT_TRUE(close(a.elements[i].theta, b.elements[i].theta)) << "theta, t=" << t << " element " << i;
    }
  }
}

// HeavyBall's debiased moments as it computes them in F (heavyball/utils.py
// beta_debias on tensors, _lerp): c = (1 - beta)/(-expm1(t log1p(beta - 1))),
// b = 1 - c, a = 1 - b, m = m (1 - a) + g a. At t = 1 the quotient need not be
// 1 (float64, beta = 0.9: 1 - 2^-53), so m is not g: the error model's bound
// on m and v ("Debiased betas", E_x(D)) must hold there and at later steps,
// from an imported state, for betas above and below 1/2.
template <class F>
void expect_heavyball_moments_within_bounds(const FloatFormat& format) {
  using Real = ReferenceReal;
  const auto weight = [](F b, std::int64_t t) {  // a = 1 - b_t, the gradient's weight
    const F c = F(F(1) - b) / F(-std::expm1(F(F(t) * F(std::log1p(F(b - F(1)))))));
    return F(F(1) - F(F(1) - c));
  };
  std::vector<std::string> betas{"0.9", "0.99", "0.999", "0.3", "0.7", "0.123456"};
  int inexact = 0;  // and the first betas k/1000 whose step-1 weight is not 1 (2.5% of betas in float32)
  for (int k = 1; k < 1000 && inexact < 4; ++k)
    if (weight(static_cast<F>(k / 1000.0), 1) != F(1)) {
      betas.push_back("0." + std::string(k < 10 ? "00" : k < 100 ? "0" : "") + std::to_string(k));
      ++inexact;
    }
  EXPECT_EQ(inexact, 4) << format.name;
  int judged = 0;
  for (const std::string& beta : betas) {
    const OptimizerSpec spec = make_spec("heavyball-adamw", {}, {{"beta1", beta}, {"beta2", beta}});
    const F b = static_cast<F>(std::stod(beta));
    for (std::int64_t t : {1, 2, 3, 10, 57, 1000, 123457}) {
      const F m0 = t == 1 ? F(0) : F(0.25), v0 = t == 1 ? F(0) : F(0.0625), g = F(-0.3);
      const OptimizerState<Real> state{.step = t - 1, .m = {Real(m0)}, .v = {Real(v0)}, .vmax = {}};
      ReferenceAdam<Real> reference(spec.convention, values_of<Real>(spec.hyper), {Real(1)}, state);
      ErrorModel<Real> model(PrecisionRules(format, spec.convention), reference.hyper(), 1);
      reference.step({Real(g)}, std::nullopt, model);
      const F a = weight(b, t);
      const F m = F(m0 * F(F(1) - a)) + F(g * a);
      const F v = F(v0 * F(F(1) - a)) + F(F(g * g) * a);
      const auto within = [](F x, const Real& exact, const Real& bound) { return abs(Real(x) - exact) <= bound; };
      EXPECT_TRUE(within(m, reference.state().m[0], model.bounds()[0].m))
          << format.name << " beta " << beta << " t " << t << ": m " << m << " exact " << reference.state().m[0];
      EXPECT_TRUE(within(v, reference.state().v[0], model.bounds()[0].v))
          << format.name << " beta " << beta << " t " << t << ": v " << v << " exact " << reference.state().v[0];
      judged += 2;
    }
  }
  EXPECT_EQ(judged, 10 * 7 * 2);
}

TEST(DebiasedMoments, HeavyBallsExpm1FormLiesWithinTheBoundFromStepOne) {
  expect_heavyball_moments_within_bounds<float>(float32_format);
  expect_heavyball_moments_within_bounds<double>(float64_format);
}

/// "Products": a zero gradient on a zero state, with betas that are powers of
/// two (every product exactly 0, of exact operands), leaves m and v exactly 0
/// and their bounds exactly 0 in every format: a power-of-two factor's
/// subnormal charge (eta) is for a product that may be subnormal, not for an
/// exact zero. (The batched rewrite of product_error once charged eta here.)
TEST(ExactZeros, StayExactUnderPowerOfTwoBetas) {
  using Real = ReferenceReal;
  for (const FloatFormat& format : {float32_format, bfloat16_format, float64_format}) {
    const OptimizerSpec spec = make_spec("pytorch-adam", {}, {{"beta1", "0.5"}, {"beta2", "0.75"}});
    ReferenceAdam<Real> reference(spec.convention, values_of<Real>(spec.hyper), {Real(1), Real(0)});
    ErrorModel<Real> model(PrecisionRules(format, spec.convention), reference.hyper(), 2);
    reference.step({Real(0), Real(0)}, std::nullopt, model);
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(reference.state().m[i], 0) << format.name;
      EXPECT_EQ(model.bounds()[i].m, 0) << format.name << " element " << i;
      EXPECT_EQ(model.bounds()[i].v, 0) << format.name << " element " << i;
    }
  }
}

}  // namespace
}  // namespace adamconf

// Structured cases (protocol /2): the messages, the per-tensor reference, the
// streaming verifier and its threads, and the skip of /1 adapters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <rapidcheck.h>

#include <iostream>
#include <set>

#include "adamconf/adapter_messages.hpp"
#include "adamconf/float_adam.hpp"
#include "adamconf/property.hpp"
#include "adamconf/structure_generators.hpp"
#include "adamconf/verify.hpp"
#include "mutants.hpp"

namespace adamconf {
namespace {

Setup setup_for(const std::string& preset, const FloatFormat& f) {
  const Preset& p = preset_by_name(preset);
  Setup s{OptimizerSpec{p.name, {}, p.defaults, p.convention}, f};
  s.spec.hyper.weight_decay = "0.01";
  return s;
}

/// Three tensors (the middle one empty), two groups, tensor 2 without a gradient at step 2.
RunCase three_tensors() {
  RunCase c;
  c.theta0 = {0.5, -1.0, 2.0};
  c.grads = {{0.1, 0.2, -0.3}, {0.4, -0.5, 0.6}};
  c.tensors = {{2, 0}, {0, 1}, {1, 1}};
  c.groups = {{}, {{{"lr", "0.01"}, {"weight_decay", "0"}}}};
  c.grad_given = {{true, true, true}, {true, true, false}};
  return c;
}

TEST(Structure, RequestCarriesTensorsGroupsAndNullGradients) {
  const auto j = nlohmann::json::parse(run_request(3, "adam", setup_for("pytorch-adamw", float64_format), {three_tensors()}, 2));
  const auto& c = j["cases"][0];
  ASSERT_EQ(c["tensors"].size(), 3u);
  EXPECT_EQ(c["tensors"][1]["theta0"].size(), 0u);
  EXPECT_EQ(c["tensors"][2]["group"], 1);
  EXPECT_TRUE(c["grads"][1][2].is_null());
  EXPECT_EQ(c["grads"][1][0].size(), 2u);
  EXPECT_EQ(c["groups"][1]["hyperparameters_exact"]["lr"], "0.01");
  EXPECT_EQ(c["groups"][1]["hyperparameters_exact"]["beta2"], "0.999");  // the setup's, where the group says nothing
  EXPECT_THROW(run_request(3, "adam", setup_for("pytorch-adamw", float64_format), {three_tensors()}, 1), std::invalid_argument);
}

TEST(Structure, AnswerIsJoinedAndItsTensorSizesChecked) {
  const std::vector<RunCase> cases{three_tensors()};
  const auto ok = parse_run_answer(R"({"id": 1, "results": [{"theta": [[[1, 2], [], [3]], [[4, 5], [], [6]]]}]})", 1, cases, 2);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].theta[1], (std::vector<double>{4, 5, 6}));
  try {
    parse_run_answer(R"({"id": 1, "results": [{"theta": [[[1], [], [3, 4]], [[4, 5], [], [6]]]}]})", 1, cases, 2);
    FAIL() << "a tensor one element short was accepted";
  } catch (const ImplementationError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_run_answer(R"({"id": 1, "results": [{"theta": [[[1, 2], [3]]]}]})", 1, cases, 2), ImplementationError);
}

TEST(Structure, ReferenceKeepsATensorWithoutGradientAsItWas) {
  const RunCase c = three_tensors();
  const auto exact = exact_trajectory(setup_for("pytorch-adamw", float64_format), c);
  EXPECT_NE(exact[0].record.elements[2].theta, R(2.0));
  EXPECT_EQ(exact[1].record.elements[2].theta, exact[0].record.elements[2].theta);
  // tensor 0 (group 0: lr 0.001) and tensor 2 (group 1: lr 0.01) move by about lr at step 1
  EXPECT_LT(abs(exact[0].record.elements[0].theta - R("0.5")), R("0.0011"));
  EXPECT_GT(abs(exact[0].record.elements[2].theta - R(2)), R("0.009"));
}

TEST(Structure, VerifierAgreesAcrossThreadsAndNamesTheTensorAndElement) {
  const adamconf::Setup setup = setup_for("pytorch-adamw", float32_format);
  RunCase c;
  const std::size_t n = 70000;
  c.theta0 = gen::seeded_theta0(7, float32_format, n);
  c.grads = gen::seeded_gradients(7, float32_format, 1e-8, 2, n);
  c.tensors = {{5, 0}, {0, 0}, {n - 5, 0}};
  FloatImplementation impl("float");
  RunResult r = impl.run(setup, {c}).front();
  VerifySettings one, two;
  one.jobs = 1;
  two.jobs = 2;
  one.chunk = two.chunk = 8192;
  const Verification a = verify_trajectory(setup, c, r, one), b = verify_trajectory(setup, c, r, two);
  EXPECT_FALSE(a.failure) << *a.failure;
  EXPECT_EQ(a.statistics.count, 2 * n);
  EXPECT_EQ(b.statistics.count, a.statistics.count);
  EXPECT_EQ(b.statistics.max_error_ulps, a.statistics.max_error_ulps);
  EXPECT_EQ(b.threads, 2u);
  r.theta[1][5 + 65536] = r.theta[1][5 + 65536] * 1.001;  // tensor 2, element 65536, step 2
  const Verification bad = verify_trajectory(setup, c, r, two);
  ASSERT_TRUE(bad.failure);
  EXPECT_EQ(bad.failure->rfind("step 2, tensor 2 element 65536: theta =>", 0), 0u) << *bad.failure;
}

TEST(Structure, ProtocolOneAdapterSkipsTheStructuredProperties) {
  FloatImplementation impl("float");
  PropertyContext ctx = PropertyContext::for_implementation(impl, "pytorch-adamw", {}, float32_format);
  ctx.capabilities.tensors = false;  // what an adamconf-adapter/1 hello gives
  const PropertyResult r = run_property(property_by_id("no-grad-step-leaves-tensor-bit-identical"), ctx, RunSettings{.seed = 1, .cases = 5});
  EXPECT_EQ(r.status, PropertyResult::Status::skipped);
  EXPECT_NE(r.reason.find("adamconf-adapter/1"), std::string::npos) << r.reason;
}

TEST(Structure, ProtocolOneAdapterGetsOneTensorPastTheChunkAndEmptyCases) {
  // What a /1 adapter can express runs there: a single tensor past element 65536 (large-tensors), and the
  // structured scenario's tensors as cases of one tensor each, empty ones among them, in one request.
  auto one_tensor_context = [](Implementation& impl) {
    PropertyContext ctx = PropertyContext::for_implementation(impl, "pytorch-adamw", {}, float32_format);
    ctx.capabilities.tensors = false;  // what an adamconf-adapter/1 hello gives
    return ctx;
  };
  const Property& large = property_by_id("large-tensors-agree-with-reference");
  const Property& mixed = property_by_id("structured-trajectory-agrees-with-reference");
  FloatImplementation correct("float");
  for (const Property* p : {&large, &mixed}) {
    const PropertyResult r = run_property(*p, one_tensor_context(correct), RunSettings{.seed = 7, .cases = 50});
    EXPECT_EQ(r.status, PropertyResult::Status::passed) << p->id << ": " << r.reason;
  }
  FloatImplementationOf<mutants::StateStalePastChunk> stale("stale");
  const PropertyResult r1 = run_property(large, one_tensor_context(stale), RunSettings{.seed = 7, .cases = 100});
  EXPECT_EQ(r1.status, PropertyResult::Status::failed) << r1.reason;
  EXPECT_NE(r1.reason.find("element 65536"), std::string::npos) << r1.reason;
  mutants::StopsAfterEmptyCase stops("stops after an empty case");
  const PropertyResult r2 = run_property(mixed, one_tensor_context(stops), RunSettings{.seed = 7, .cases = 100});
  EXPECT_EQ(r2.status, PropertyResult::Status::failed) << r2.reason;
  std::cout << "  /1 stale past 65536: " << r1.reason << "\n  /1 stops after an empty case: " << r2.reason << "\n";
}

TEST(Structure, GeneratorsReachTheShapesKernelsBreakOn) {
  // 200 mixed cases: empty tensors, every remainder 1..17, 100+ tensors, groups, no-grad steps.
  const auto shape = [] {
    ScenarioShape s;
    s.preset = "pytorch-adamw";
    return s;
  }();
  std::set<std::size_t> sizes;
  bool many = false, groups = false, no_grad = false;
  for (int k = 0; k < 200; ++k) {
    const auto s = gen::structured_scenario(shape, StructureClass::mixed)(rc::Random(k + 1), 50).value();
    for (const auto& t : s.run.tensors) sizes.insert(t.size);
    many |= s.run.tensors.size() >= 100;
    groups |= s.run.groups.size() > 1;
    no_grad |= !s.run.grad_given.empty();
  }
  for (std::size_t n = 0; n <= 17; ++n) EXPECT_TRUE(sizes.count(n)) << "no tensor of " << n << " elements";
  EXPECT_TRUE(many && groups && no_grad);
  const auto big = gen::structured_scenario(shape, StructureClass::large)(rc::Random(7), 50).value();
  std::size_t largest = 0;
  for (const auto& t : big.run.tensors) largest = std::max(largest, t.size);
  EXPECT_GE(largest, 65537u);
}

}  // namespace
}  // namespace adamconf

namespace adamconf {
namespace {

// The element the HTML report plots: cut out of a structured case (its group's
// lr, its tensor's no-grad step), its per-step exact values and bounds equal
// those of the whole case's exact trajectory, and the failing step is the one
// the verifier names.
TEST(Structure, TraceOfTheFailingElementMatchesTheWholeCase) {
  const adamconf::Setup setup = setup_for("pytorch-adamw", float64_format);
  RunCase c = three_tensors();
  c.grads.push_back({0.3, 0.1, -0.2});
  c.grad_given.push_back({true, true, true});
  FloatImplementation impl("float");
  RunResult r = impl.run(setup, {c}).front();
  r.theta[2][2] *= 1 + 1e-9;  // tensor 2 (one element, group 1), step 3: far outside a float64 bound
  const Verification v = verify_trajectory(setup, c, r);
  ASSERT_TRUE(v.failure);
  ASSERT_TRUE(v.element);
  EXPECT_EQ(v.element->position, "tensor 2 element 0: theta");
  const auto points = trace_points(*v.element);
  ASSERT_EQ(points.size(), 3u);
  const auto exact = exact_trajectory(setup, c, BoundArithmetic::mpfr);
  for (std::size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(points[t].step, t + 1);
    EXPECT_EQ(points[t].observed, r.theta[t][2]);
    EXPECT_EQ(points[t].exact, static_cast<double>(exact[t].record.elements[2].theta)) << "step " << t + 1;
    const double allowed_ulps = static_cast<double>(exact[t].bounds[2].theta / ulp_at(exact[t].record.elements[2].theta, float64_format));
    EXPECT_NEAR(points[t].allowed_ulps, allowed_ulps, 1e-9 * allowed_ulps) << "step " << t + 1;
    EXPECT_EQ(points[t].pass, t != 2) << "step " << t + 1;
  }
  EXPECT_GT(points[2].error_ulps, 1e6);  // signed: observed above exact
  // Step 2 gave tensor 2 no gradient: its theta stays, in the trace as in the case.
  EXPECT_EQ(points[1].observed, points[0].observed);
}

}  // namespace
}  // namespace adamconf

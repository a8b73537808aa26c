// The adapter protocol layer: bare NaN/Infinity tokens, and what a dead,
// silent or babbling process turns into (shell one-liners as adapters).
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

#include "adamconf/adapter_messages.hpp"
#include "adamconf/process_implementation.hpp"

namespace adamconf {
namespace {

TEST(Protocol, BareNonFiniteTokensBecomeStringsOutsideStrings) {
  EXPECT_EQ(quote_non_finite_tokens(R"({"theta": [[NaN, -Infinity, Infinity, 1.5]]})"),
            R"({"theta": [["nan", "-inf", "inf", 1.5]]})");
  EXPECT_EQ(quote_non_finite_tokens(R"({"error": "NaN in \"Infinity\" land"})"), R"({"error": "NaN in \"Infinity\" land"})");
}

// JSON has no NaN and nlohmann writes one as null, which an adapter reads as
// "no value" (PyTorch 2 in float16 answered "must be real number, not
// NoneType" when resume-equals-uninterrupted resumed from an overflowed state):
// a request never carries a non-finite number, in theta0, gradients or state.
TEST(Protocol, ARequestNeverCarriesANonFiniteNumber) {
  const adamconf::Setup setup{make_spec("kingma-ba"), float64_format};
  for (int where = 0; where < 3; ++where) {
    RunCase c;
    c.theta0 = {1.0, 2.0};
    c.grads = {{0.5, 0.25}};
    c.initial_state = ImplementationState{.step = 2, .m = {0.1, 0.1}, .v = {0.01, 0.01}};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (where == 0) c.theta0[1] = nan;
    if (where == 1) c.grads[0][0] = std::numeric_limits<double>::infinity();
    if (where == 2) c.initial_state->v[1] = nan;
    for (const int protocol : {1, 2}) {
      try {
        (void)run_request(1, "x", setup, {c}, protocol);
        ADD_FAILURE() << "a non-finite number (" << where << ") was sent under protocol /" << protocol;
      } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("non-finite number at cases"), std::string::npos) << e.what();
      }
    }
    c = RunCase{.theta0 = {1.0}, .grads = {{0.5}}};
    EXPECT_NO_THROW((void)run_request(1, "x", setup, {c}, 2));
  }
}

// An adapter that answers hello, then behaves as `then` says on the first run.
std::string shell_adapter(const std::string& then) {
  return "read line; echo '{\"protocol\": \"adamconf-adapter/1\", \"name\": \"sh\", \"optimizers\": [{\"name\": \"x\", "
         "\"presets\": [\"kingma-ba\"], \"dtypes\": [\"float64\"]}]}'; read line; " + then;
}

std::vector<RunResult> run_once(ProcessImplementation& p) {
  RunCase c;
  c.theta0 = {1.0};
  c.grads = {{0.5}};
  return p.run(Setup{make_spec("kingma-ba"), float64_format}, {c});
}

TEST(Protocol, AStepCountIsReadExactlyUpTo2To63) {
  // Issue 28: a count read through a double came back 2^53 for 2^53 + 1.
  auto step_of = [](const std::string& step) {
    return parse_run_answer(R"({"id": 1, "results": [{"theta": [[1]], "states": [{"step": )" + step +
                                R"(, "m": [0], "v": [0], "vmax": []}]}]})",
                            1)
        .at(0)
        .states.at(0)
        .step;
  };
  EXPECT_EQ(step_of("9007199254740993"), 9007199254740993LL);
  EXPECT_EQ(step_of("4294967297"), 4294967297LL);
  EXPECT_EQ(step_of("3.0"), 3);  // a float32 counter's count, written as a float
  EXPECT_THROW(step_of("2.5"), ImplementationError);
  EXPECT_THROW(step_of("-1"), ImplementationError);
}

TEST(Protocol, AQuantizedStateIsReadExactlyAndAMalformedOneIsNamed) {
  // bitsandbytes' 8-bit state: codes 0..255 and float32 scales beside the values they read back as.
  auto state_of = [](const std::string& fields) {
    return parse_run_answer(R"({"id": 1, "results": [{"theta": [[1, 2]], "states": [{"step": 1, "m": [0.5, -0.25], )"
                            R"("v": [0.25, 0.0625], "vmax": [])" + fields + "}]}]}",
                            1)
        .at(0)
        .states.at(0);
  };
  const ImplementationState s =
      state_of(R"(, "m_codes": [255, 0], "m_scales": [0.5], "v_codes": [255, 7], "v_scales": [0.25])");
  ASSERT_EQ(s.m_quantized.size(), 1u);
  EXPECT_EQ(s.m_quantized[0].codes, (std::vector<int>{255, 0}));
  EXPECT_EQ(s.m_quantized[0].scales, (std::vector<double>{0.5}));
  EXPECT_EQ(s.v_quantized[0].codes, (std::vector<int>{255, 7}));
  EXPECT_TRUE(state_of("").m_quantized.empty());
  const auto refused = [&](const std::string& fields, const std::string& message) {
    try {
      state_of(fields);
      ADD_FAILURE() << fields << " was accepted";
    } catch (const ImplementationError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  refused(R"(, "m_codes": [256, 0], "m_scales": [0.5])", "not a code 0..255");
  refused(R"(, "m_codes": [1.5, 0], "m_scales": [0.5])", "not a code 0..255");
  refused(R"(, "m_codes": [1, 0])", "m_codes but not m_scales");
  refused(R"(, "v_scales": [0.5])", "v_scales but not v_codes");
  refused(R"(, "m_codes": 3, "m_scales": [0.5])", "not a list");
}

TEST(Protocol, ARequestCarriesEachTensorsQuantizedStateExactlyAndNoneForAFloat32One) {
  // Two tensors: the first's state quantized (codes and scales as an adapter exported them), the second's float32.
  RunCase c;
  c.theta0 = {1, 2, 3};
  c.tensors = {{.size = 2, .group = 0}, {.size = 1, .group = 0}};
  c.grads = {{0.5, 0.25, 0.125}};
  c.initial_state = ImplementationState{.step = 1, .m = {0.5, -0.25, 0.125}, .v = {0.25, 0.0625, 0.5},
                                        .m_quantized = {{.codes = {255, 0}, .scales = {0.5}}, {}},
                                        .v_quantized = {{.codes = {255, 7}, .scales = {0.25}}, {}}};
  const adamconf::Setup setup{make_spec("bitsandbytes-adamw8bit"), float32_format};
  const auto request = nlohmann::json::parse(run_request(3, "a", setup, {c}, 2));
  const auto& states = request.at("cases").at(0).at("state");
  EXPECT_EQ(states.at(0).at("m_codes"), nlohmann::json({255, 0}));
  EXPECT_EQ(states.at(0).at("m_scales"), nlohmann::json({0.5}));
  EXPECT_EQ(states.at(0).at("v_codes"), nlohmann::json({255, 7}));
  EXPECT_EQ(states.at(0).at("v_scales"), nlohmann::json({0.25}));
  EXPECT_EQ(states.at(0).at("m"), nlohmann::json({0.5, -0.25}));  // what the codes read back as, beside them
  EXPECT_FALSE(states.at(1).contains("m_codes"));
  EXPECT_FALSE(states.at(1).contains("v_codes"));
  EXPECT_EQ(states.at(1).at("m"), nlohmann::json({0.125}));
}

/// A protocol /2 hello of one Optax optimizer whose options are `options` (a JSON array).
AdapterInfo hello(const std::string& options) {
  return parse_hello(R"({"protocol": "adamconf-adapter/2", "name": "x", "optimizers": [{"name": "a",
      "presets": ["optax-adam", "optax-adamw"], "dtypes": ["float32"], "options": )" + options + R"(, "state": true}]})",
                     "x");
}

/// A hello with `options` is refused with a message containing `message`.
void expect_hello_refused(const std::string& options, const std::string& message) {
  try {
    hello(options);
    ADD_FAILURE() << options << " was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(Protocol, TheHelloStatesAnInt32CounterAndARoundTripWithinTheBound) {
  const AdapterInfo plain = hello("[]");
  EXPECT_TRUE(plain.optimizers[0].bitwise_round_trip);
  EXPECT_EQ(plain.optimizers[0].step_counter, StepCounter::integer);
  const AdapterInfo stated = hello(R"(["round_trip=within-bound", "step_counter=int32"])");
  EXPECT_FALSE(stated.optimizers[0].bitwise_round_trip);
  EXPECT_EQ(stated.optimizers[0].step_counter, StepCounter::int32);
  expect_hello_refused(R"(["round_trip=sometimes"])", "round_trip 'sometimes': expected bitwise or within-bound");
}

// Optax's mu_dtype: the adapter states m's format and that b1 m is computed in it.
TEST(Protocol, TheHelloStatesTheFirstMomentsDecayInItsOwnFormat) {
  EXPECT_FALSE(hello(R"(["m_format=bfloat16"])").optimizers[0].state_formats.m_decay_in_format);
  const AdapterInfo stated = hello(R"(["m_format=bfloat16", "m_decay=in-format"])");
  EXPECT_EQ(stated.optimizers[0].state_formats.m, "bfloat16");
  EXPECT_TRUE(stated.optimizers[0].state_formats.m_decay_in_format);
  expect_hello_refused(R"(["m_decay=bfloat16"])", "m_decay 'bfloat16': expected in-format or arithmetic");
  // Beside an m as wide as the arithmetic it means nothing: refused in one line.
  StateFormats wide{.m_decay_in_format = true};
  EXPECT_THROW(PrecisionRules(float32_format, Precision::storage, wide).validate_state_formats(), std::invalid_argument);
}

// tinygrad's float32 moments beside float64 parameters: b2 v in v's format and the direction in the
// moments' format, stated in the hello; each refused in one line beside a format that cannot hold it.
TEST(Protocol, TheHelloStatesTheSecondMomentsDecayAndTheDirectionInTheMomentsFormat) {
  const AdapterInfo stated = hello(
      R"(["m_format=float32", "v_format=float32", "m_decay=in-format", "v_decay=in-format", "direction=in-format"])");
  const StateFormats& f = stated.optimizers[0].state_formats;
  EXPECT_TRUE(f.m_decay_in_format && f.v_decay_in_format && f.direction_in_format);
  EXPECT_FALSE(hello(R"(["v_format=float32", "v_decay=arithmetic"])").optimizers[0].state_formats.v_decay_in_format);
  expect_hello_refused(R"(["v_decay=float32"])", "v_decay 'float32': expected in-format or arithmetic");
  expect_hello_refused(R"(["direction=yes"])", "direction 'yes': expected in-format or arithmetic");
  EXPECT_NO_THROW(PrecisionRules(float64_format, Precision::storage, f).validate_state_formats());
  // Beside float32 parameters the moments' format is the arithmetic's: nothing to compute in it.
  try {
    PrecisionRules(float32_format, Precision::storage, f).validate_state_formats();
    ADD_FAILURE() << "float32 moments in float32 arithmetic accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("narrower than the float32 arithmetic"), std::string::npos) << e.what();
  }
  // The direction reads both moments: in two formats it has no one format.
  StateFormats split = f;
  split.v = "float64";
  split.v_decay_in_format = false;
  try {
    PrecisionRules(float64_format, Precision::storage, split).validate_state_formats();
    ADD_FAILURE() << "a direction in the moments' format with m and v in two formats accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("m is float32, v float64"), std::string::npos) << e.what();
  }
}

// tinygrad's float16 entry: its precision, each operation in the dtype its operands promote to.
TEST(Protocol, TheHelloStatesPromotedPrecision) {
  const AdapterInfo stated =
      hello(R"(["precision=promoted", "m_format=float32", "v_format=float32", "scalars=weak-dtype"])");
  EXPECT_EQ(stated.optimizers[0].precision, Precision::promoted);
  EXPECT_EQ(stated.optimizers[0].scalars, Scalars::weak_dtype);
  expect_hello_refused(R"(["precision=promote"])",
                       "precision 'promote': expected storage, float32-opmath, master-weights, stochastic-rounding, "
                       "kahan-summation, storage-kahan or promoted");
  const PrecisionRules rules(float16_format, Precision::promoted, stated.optimizers[0].state_formats);
  EXPECT_TRUE(rules.promoted());
  EXPECT_EQ(rules.arithmetic().name, std::string("float32"));
  EXPECT_NO_THROW(rules.validate_state_formats());
  // Over float32 and float64 every precision convention is the format's own arithmetic.
  EXPECT_FALSE(PrecisionRules(float32_format, Precision::promoted).promoted());
}

// A dtype the optimizer steps in a way no convention models is not offered, with why: check quotes it.
TEST(Protocol, TheHelloSaysWhyADtypeIsNotOffered) {
  const AdapterInfo plain = hello("[]");
  EXPECT_TRUE(plain.optimizers[0].dtypes_refused.empty());
  const AdapterInfo stated = hello(R"([], "dtypes_refused": {"bfloat16": "Kahan summation is not modelled"})");
  EXPECT_EQ(stated.optimizers[0].dtypes_refused.at("bfloat16"), "Kahan summation is not modelled");
  expect_hello_refused(R"([], "dtypes_refused": ["bfloat16"])", "\"dtypes_refused\" is not an object");
  expect_hello_refused(R"([], "dtypes_refused": {"bfloat16": 1})", "\"dtypes_refused\".bfloat16 is not a string");
}

TEST(Protocol, HelloIsReadAndTheOptimizerOffered) {
  ProcessImplementation p(shell_adapter("exit 0"), 5);
  EXPECT_EQ(p.info().name, "sh");
  ASSERT_EQ(p.info().optimizers.size(), 1u);
  EXPECT_EQ(p.optimizer_for("kingma-ba")->name, "x");
  EXPECT_EQ(p.optimizer_for("pytorch-adam"), nullptr);
  EXPECT_TRUE(p.capabilities().supports_dtype("float64"));
}

TEST(Protocol, ASilentAdapterIsKilledAtTheDeadlineAndMarkedHung) {
  ProcessImplementation p(shell_adapter("sleep 30"), 0.5);
  const auto start = std::chrono::steady_clock::now();
  try {
    run_once(p);
    FAIL();
  } catch (const AdapterFailure& e) {
    EXPECT_TRUE(e.hung);
    EXPECT_NE(std::string(e.what()).find("did not answer request 1 within 0.5 s"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 3.0);
  EXPECT_TRUE(p.hung());
  EXPECT_THROW(run_once(p), AdapterFailure);  // not restarted
}

TEST(Protocol, ACrashedAdapterIsRestartedForTheNextRequest) {
  ProcessImplementation p(shell_adapter("echo dying >&2; exit 4"), 5);
  try {
    run_once(p);
    FAIL();
  } catch (const AdapterFailure& e) {
    EXPECT_FALSE(e.hung);
    EXPECT_NE(std::string(e.what()).find("exited with status 4 before answering request 1; stderr: dying"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(p.hung());
  EXPECT_THROW(run_once(p), AdapterFailure);  // a fresh process, which crashes again: request 2
}

TEST(Protocol, GarbageAndMalformedAnswersAreNamed) {
  for (const auto& [answer, expected] : std::vector<std::pair<std::string, std::string>>{
           {"echo 'hello there'", "something that is not JSON: 'hello there'"},
           {"echo '{\"id\": 1}'", "without a \"results\" list"},
           {"echo '{\"id\": 1, \"results\": [{\"theta\": [[\"x\"]]}]}'", "not a number"},
           {"echo '{\"id\": 1, \"error\": \"out of memory\"}'", "adapter reported: out of memory"}}) {
    ProcessImplementation p(shell_adapter(answer + "; sleep 5"), 5);
    try {
      run_once(p);
      ADD_FAILURE() << answer;
    } catch (const ImplementationError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

TEST(Protocol, AnAdapterThatNeverStartsGivesOneLine) {
  try {
    ProcessImplementation p("exit 7", 5);
    FAIL();
  } catch (const AdapterFailure& e) {
    EXPECT_EQ(std::string(e.what()), "adapter exited with status 7 before answering hello");
  }
}

TEST(Protocol, AnAdapterThatSaysWhyItCannotStartIsQuoted) {
  try {
    ProcessImplementation p("read line; echo '{\"error\": \"ModuleNotFoundError: No module named my_optimizers\"}'", 5);
    FAIL();
  } catch (const AdapterFailure& e) {
    EXPECT_EQ(std::string(e.what()), "the adapter reported: ModuleNotFoundError: No module named my_optimizers");
  }
}

}  // namespace
}  // namespace adamconf

// Golden traces: regeneration is deterministic, the committed files match the
// reference, verify names an edited file and field, malformed files get errors
// naming the field, check passes a correct implementation and fails a wrong one.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <regex>
#include <sstream>

#include "adamconf/atomic_file.hpp"
#include "adamconf/float_adam.hpp"
#include "adamconf/golden.hpp"
#include "mutants.hpp"

namespace adamconf::golden {
namespace {

namespace fs = std::filesystem;

const std::string kTraces = std::string(ADAMCONF_SOURCE_DIR) + "/golden/traces";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// A fresh temporary directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("adamconf-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Golden, CommittedFilesMatchTheReference) {
  const VerifyReport report = verify(kTraces, nullptr);
  for (const auto& p : report.problems) ADD_FAILURE() << p;
  EXPECT_GT(report.files, 150u);
  std::size_t bytes = 0, quantized_bytes = 0, quantized_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(kTraces)) {
    if (!e.is_regular_file()) continue;
    if (e.path().filename() == "float32-quantized-steps.json") {
      // A quantized state needs a tensor of the format's size (4096 elements and more) and every element's
      // codes: about 0.4 MiB a step. Each file has three steps, and stays below 1.5 MiB.
      EXPECT_LT(e.file_size(), 3u << 19) << e.path();
      quantized_bytes += e.file_size();
      ++quantized_files;
    } else {
      bytes += e.file_size();
    }
  }
  std::cout << "  " << report.files << " committed golden files match the reference; " << bytes / 1024 << " KiB, and "
            << quantized_files << " quantized-steps files " << quantized_bytes / 1024 << " KiB\n";
  // About 19 KiB a file (a long-run file 160 KiB): 27 presets' files are 5.4 MiB. The cap keeps the set
  // small enough to read and to clone, and grows with the presets, never with one file's size.
  EXPECT_LT(bytes, 8u << 20) << "keep the golden set small enough to read";
}

TEST(Golden, CatalogueCoversEveryPresetFormatAndScenario) {
  std::map<std::string, std::set<std::string>> scenarios;
  for (const auto& g : catalogue()) scenarios[g.preset].insert(std::string(g.dtype.name) + "-" + g.scenario);
  for (const auto& p : presets()) {
    for (const char* dtype : {"float32", "float64"})
      for (const char* sc : {"random", "eps-regime", "tiny-huge", "lr-schedule", "long"})
        if (std::string(dtype) == "float32" || !p.state_formats.any())  // a quantized state is float32 parameters' only
          EXPECT_TRUE(scenarios[p.name].count(std::string(dtype) + "-" + sc)) << p.name << " " << dtype << " " << sc;
    if (p.amsgrad != AmsgradVariant::none || p.convention.adam().amsgrad != AmsgradVariant::none)
      EXPECT_TRUE(scenarios[p.name].count("float32-amsgrad")) << p.name;
  }
}

TEST(Golden, RegenerationIsByteIdenticalAndVerifiesClean) {
  TempDir a, b;
  const std::size_t n = regenerate(a.path.string(), nullptr).written;
  regenerate(b.path.string(), nullptr);
  std::size_t compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(a.path))
    if (e.is_regular_file()) {
      const fs::path other = b.path / fs::relative(e.path(), a.path);
      ASSERT_TRUE(fs::exists(other)) << other;
      EXPECT_EQ(read(e.path()), read(other)) << e.path();
      ++compared;
    }
  EXPECT_EQ(compared, n + 1);  // and index.json
  EXPECT_TRUE(verify(a.path.string(), nullptr).clean());
  for (const auto& e : fs::recursive_directory_iterator(a.path))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "temporary file left: " << e.path();
}

TEST(Golden, EditingOneDigitFailsVerifyAndNamesFileLineAndField) {
  TempDir dir;
  fs::copy(kTraces, dir.path, fs::copy_options::recursive);
  const fs::path file = dir.path / "pytorch-adamw" / "float32-random.json";
  std::string text = read(file);
  // the digit after the decimal point of the first theta on the line of step 5
  const auto line_start = text.find("{\"t\":5,");
  ASSERT_NE(line_start, std::string::npos);
  const auto digit = text.find("\"theta\":[\"", line_start) + 12;
  ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(text[digit])));
  text[digit] = text[digit] == '7' ? '8' : '7';
  write(file, text);
  const VerifyReport report = verify(dir.path.string(), nullptr);
  ASSERT_EQ(report.problems.size(), 1u);
  const std::string& problem = report.problems.front();
  std::cout << "  " << problem << "\n";
  EXPECT_NE(problem.find("pytorch-adamw/float32-random.json:"), std::string::npos);
  EXPECT_NE(problem.find("trace[4].theta[0]"), std::string::npos);
  const std::size_t line = static_cast<std::size_t>(std::count(text.begin(), text.begin() + digit, '\n') + 1);
  EXPECT_NE(problem.find(".json:" + std::to_string(line) + ":"), std::string::npos);
}

TEST(Golden, VerifyReportsMissingAndStaleFiles) {
  TempDir dir;
  fs::copy(kTraces, dir.path, fs::copy_options::recursive);
  fs::remove(dir.path / "kingma-ba" / "float64-long.json");
  write(dir.path / "kingma-ba" / "float64-old-name.json", "{}");
  const VerifyReport report = verify(dir.path.string(), nullptr);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_NE(report.problems[0].find("float64-long.json: missing"), std::string::npos) << report.problems[0];
  EXPECT_NE(report.problems[1].find("float64-old-name.json: not produced by the reference"), std::string::npos)
      << report.problems[1];
}

TEST(Golden, MalformedFilesGiveAnErrorNamingTheField) {
  const std::string valid = read(fs::path(kTraces) / "optax-amsgrad" / "float32-random.json");
  ASSERT_NO_THROW(load((fs::path(kTraces) / "optax-amsgrad" / "float32-random.json").string()));
  struct Breakage {
    std::string what, from, to, expected;
  };
  const std::vector<Breakage> cases{
      {"truncated", "", "", ": not valid JSON"},
      {"future version", "\"adamconf-golden/1\"", "\"adamconf-golden/2\"", "format: unsupported format"},
      {"dtype removed", "\"dtype\": \"float32\",", "", "dtype: missing"},
      {"elements as text", "\"elements\": 3", "\"elements\": \"3\"", "elements: expected an integer"},
      {"bad hex gradient", "[\"", "[\"0xZZ", "expected a number or a hex float string"},
      {"bad exact decimal", "\"theta\":[\"", "\"theta\":[\"x", "trace[0].theta[0]: expected a decimal number"},
      {"negative allowed", "\"theta_allowed\":[\"", "\"theta_allowed\":[\"-", "trace[0].theta_allowed[0]: an allowed error cannot be negative"},
      {"unknown preset", "\"preset\": \"optax-amsgrad\"", "\"preset\": \"optax-amsgrads\"", "preset: unknown preset 'optax-amsgrads'"},
      {"wrong step number", "{\"t\":2,", "{\"t\":7,", "trace[1].t: expected 2"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::string text = valid;
    if (c.what == "truncated") {
      text = text.substr(0, text.size() / 2);
    } else if (c.what == "bad hex gradient") {
      const auto at = text.find("\"gradients\": [");
      text.replace(text.find("[\"", at), 2, c.to);
    } else {
      const auto at = text.find(c.from);
      ASSERT_NE(at, std::string::npos) << c.what;
      text.replace(at, c.from.size(), c.to);
    }
    const fs::path file = dir.path / "broken.json";
    write(file, text);
    try {
      load(file.string());
      ADD_FAILURE() << c.what << ": no error";
    } catch (const FileError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(file.string(), 0), 0u) << message;
      EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    }
  }
}

/// Runs a float implementation on a golden file's inputs.
Results run_on(const GoldenTrace& g, Implementation& impl) {
  Setup setup{make_spec(g.preset, g.options), g.dtype};
  setup.spec.hyper = g.hyper;
  RunCase c;
  c.theta0 = g.theta0;
  c.grads = g.gradients;
  c.lrs = g.learning_rates;
  Results r;
  r.golden = g.name;
  r.values["theta"] = impl.run(setup, {c}).front().theta;
  return r;
}

TEST(Golden, CheckPassesCorrectImplementationsAndFailsAPerturbedValue) {
  FloatImplementation impl("float");
  std::size_t files = 0, values = 0;
  for (const auto& spec : catalogue()) {
    if (spec.preset != "pytorch-adamw" && spec.preset != "keras-adam" && spec.preset != "tfjs-adam") continue;
    const GoldenTrace g = load(kTraces + "/" + spec.relative_path());
    const CheckReport report = check(g, run_on(g, impl));
    EXPECT_TRUE(report.pass()) << g.name;
    ++files;
    values += report.compared;
  }
  std::cout << "  the float implementations pass " << files << " golden files (" << values << " values)\n";

  const GoldenTrace g = load(kTraces + "/pytorch-adamw/float32-random.json");
  Results r = run_on(g, impl);
  double& x = r.values["theta"][6][2];
  x = static_cast<float>(x + 1e-4);  // far beyond the allowed error
  const CheckReport report = check(g, r);
  EXPECT_FALSE(report.pass());
  EXPECT_EQ(report.failures, 1u);
  for (const auto& s : report.steps)
    if (s.failures) {
      EXPECT_EQ(s.t, 7);
      EXPECT_EQ(s.worst_element, 2u);
    }
}

TEST(Golden, CheckJudgesNanAndInfinityAsThePropertiesDo) {
  // One policy for a NaN or an infinity, the properties' compare(): it fails
  // wherever the bound is finite within the format, and passes, counted as not
  // judged, where the bound reaches beyond it (an earlier value may then be
  // inf, and inf - inf is NaN). golden check used to fail such a NaN.
  FloatImplementation impl("float");
  GoldenTrace g = load(kTraces + "/pytorch-adamw/float32-random.json");
  Results r = run_on(g, impl);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.values["theta"][0][0] = nan;
  const CheckReport bounded = check(g, r);
  EXPECT_EQ(bounded.failures, 1u);
  EXPECT_EQ(bounded.unjudged, 0u);
  g.trace.front().allowed.at("theta")[0] = R(std::ldexp(1.0, 200));  // beyond float32's largest finite value
  const CheckReport unbounded = check(g, r);
  EXPECT_TRUE(unbounded.pass());
  EXPECT_EQ(unbounded.unjudged, 1u);
  r.values["theta"][0][0] = -std::numeric_limits<double>::infinity();
  EXPECT_TRUE(check(g, r).pass());
  // The same NaN where the bound is finite, one step later, still fails.
  r.values["theta"][1][0] = nan;
  EXPECT_EQ(check(g, r).failures, 1u);
}

TEST(Golden, StateFormatFilesCompareEachStateInItsOwnFormat) {
  const std::string path = kTraces + "/pytorch-adamw/bfloat16-float32-states-random.json";
  const GoldenTrace g = load(path);
  ASSERT_EQ(g.options.state_formats.m, "float32");
  FloatImplementation impl("float");
  adamconf::Setup setup{make_spec(g.preset, g.options), g.dtype};
  setup.spec.hyper = g.hyper;
  RunCase c;
  c.theta0 = g.theta0;
  c.grads = g.gradients;
  c.record_states = true;
  const RunResult run = impl.run(setup, {c}).front();
  Results r;
  r.golden = g.name;
  r.values["theta"] = run.theta;
  for (const auto& s : run.states) {
    r.values["m"].push_back(s.m);
    r.values["v"].push_back(s.v);
  }
  const CheckReport passing = check(g, r);
  EXPECT_TRUE(passing.pass());
  EXPECT_GT(passing.compared, 0u);
  // m held in bfloat16 (zeros_like(p)) where the file says float32: far beyond float32's allowed error.
  for (auto& step : r.values["m"])
    for (double& m : step) m = round_stored(m, bfloat16_format);
  const CheckReport failing = check(g, r);
  EXPECT_FALSE(failing.pass());
  // A state format the file cannot have is named by its field, in one line.
  TempDir dir;
  const std::string valid = read(path);
  for (const auto& [to, expected] : {std::pair{"\"m\": \"float8\"", "options.state_formats.m"},
                                     std::pair{"\"m\": \"float64\"", "options.state_formats"}}) {
    std::string text = valid;
    text.replace(text.find("\"m\": \"float32\""), std::string("\"m\": \"float32\"").size(), to);
    write(dir.path / "broken.json", text);
    try {
      load((dir.path / "broken.json").string());
      ADD_FAILURE() << to << ": no error";
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

/// An implementation's results for a quantized-steps file: each step run from
/// the state the file gives, its theta and its new codes and scales.
Results run_on(const QuantizedGolden& g, Implementation& impl) {
  Setup setup{make_spec(g.preset, g.options), g.dtype};
  setup.spec.hyper = g.hyper;
  Results r;
  r.golden = g.name;
  for (const auto& step : g.steps) {
    RunCase c;
    c.theta0 = step.theta;
    c.grads = {step.gradient};
    c.lrs = {step.lr};
    c.initial_state = quantized_state(setup.rules(), step.t, step.m, step.v);
    c.record_states = true;
    const RunResult run = impl.run(setup, {c}).front();
    r.values["theta"].push_back(run.theta.front());
    for (const auto& [name, tensor] : {std::pair{"m", run.states.front().m_quantized.at(0)},
                                       std::pair{"v", run.states.front().v_quantized.at(0)}}) {
      r.values[std::string(name) + "_codes"].emplace_back(tensor.codes.begin(), tensor.codes.end());
      r.values[std::string(name) + "_scales"].push_back(tensor.scales);
    }
  }
  return r;
}

TEST(Golden, QuantizedStepFilesPassCorrectQuantizersAndNameTheBlockAndCodeOfAWrongOne) {
  // Every quantized preset's file: builtin:float passes it, step by step from the file's states.
  FloatImplementation impl("float");
  std::size_t files = 0, values = 0, judged_codes = 0;
  for (const auto& spec : catalogue()) {
    if (spec.quantized_steps.empty()) continue;
    const auto loaded = load_any(kTraces + "/" + spec.relative_path());
    ASSERT_TRUE(std::holds_alternative<QuantizedGolden>(loaded)) << spec.name();
    const QuantizedGolden& g = std::get<QuantizedGolden>(loaded);
    ASSERT_EQ(g.steps.size(), 3u);
    const CheckReport report = check(g, run_on(g, impl));
    EXPECT_TRUE(report.pass()) << g.name;
    for (const auto& s : report.steps) {
      if (s.failures) ADD_FAILURE() << g.name << " step " << s.t << " " << s.quantity << ": " << s.worst;
      if (s.codes) judged_codes += g.elements;
    }
    ++files;
    values += report.compared;
  }
  EXPECT_EQ(files, 5u);  // bitsandbytes' two 8-bit presets, torchao's 8-bit, 4-bit and fp8
  std::cout << "  builtin:float passes " << files << " quantized-steps files (" << values << " values, " << judged_codes
            << " codes)\n";

  // Codes by truncation fail, each failing step naming block, element, the code stored and the nearest.
  const QuantizedGolden g =
      std::get<QuantizedGolden>(load_any(kTraces + "/bitsandbytes-adamw8bit/float32-quantized-steps.json"));
  std::unique_ptr<Implementation> truncating;
  for (const mutants::Mutant& m : mutants::zoo())
    if (m.name == "quantized-codes-truncated") truncating = m.make();
  for (const mutants::PrecisionMutant& m : mutants::precision_zoo())
    if (m.mutant.name == "quantized-codes-truncated") truncating = m.mutant.make();
  ASSERT_TRUE(truncating);
  const CheckReport report = check(g, run_on(g, *truncating));
  EXPECT_FALSE(report.pass());
  bool named = false;
  for (const auto& s : report.steps)
    if (s.failures && s.codes) {
      EXPECT_TRUE(std::regex_search(s.worst, std::regex("^block [0-9]+ element [0-9]+ => code [0-9]+  expected code [0-9]+")))
          << s.worst;
      named = true;
    }
  EXPECT_TRUE(named);

  // One theta perturbed past its allowed error fails that step's theta, and only it.
  Results r = run_on(g, impl);
  r.values["theta"][1][4100] = static_cast<float>(r.values["theta"][1][4100] + 1e-3);
  const CheckReport one = check(g, r);
  EXPECT_EQ(one.failures, 1u);
  for (const auto& s : one.steps)
    if (s.failures) {
      EXPECT_EQ(s.t, 2);
      EXPECT_EQ(s.quantity, "theta");
      EXPECT_EQ(s.worst_element, 4100u);
    }
}

TEST(Golden, QuantizedStepFilesAndTheirResultsGetOneLineErrorsNamingTheField) {
  const std::string path = kTraces + "/torchao-adamw4bit/float32-quantized-steps.json";
  const std::string valid = read(path);
  TempDir dir;
  const auto expect_error = [&](const std::string& text, const std::string& expected, const std::string& what) {
    write(dir.path / "broken.json", text);
    try {
      (void)load_any((dir.path / "broken.json").string());
      ADD_FAILURE() << what << ": no error";
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << what << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = valid;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  expect_error(replaced("\"block\": 128", "\"block\": 256"), "quantized.m.block: expected 128", "wrong block");
  expect_error(replaced("\"format\": \"torchao-dynamic4-signed\"", "\"format\": \"bnb-dynamic8-signed\""),
               "quantized.m.format: expected \"torchao-dynamic4-signed\"", "wrong map");
  expect_error(replaced("\"m_codes\": [0,", "\"m_codes\": [16,"), "trace[0].m_codes[0]: expected an integer in [0, 15]",
               "a 4-bit code of 16");
  expect_error(replaced("\"elements\": 4224", "\"elements\": 4000"), "elements: torchao-dynamic4-signed does not quantize",
               "a tensor the format does not quantize");
  expect_error(valid.substr(0, valid.size() / 2), "broken.json", "truncated");

  // Results of the wrong shape, or without the codes, name the results field.
  const QuantizedGolden g = std::get<QuantizedGolden>(load_any(path));
  FloatImplementation impl("float");
  const Results good = run_on(g, impl);
  Results r = good;
  r.values.erase("v_codes");
  EXPECT_THROW(
      {
        try {
          (void)check(g, r);
        } catch (const FileError& e) {
          EXPECT_NE(std::string(e.what()).find("v_codes: missing"), std::string::npos) << e.what();
          throw;
        }
      },
      FileError);
  r = good;
  r.values["m_codes"][2][7] = 16;  // not a 4-bit code
  EXPECT_THROW((void)check(g, r), FileError);
  r = good;
  r.values["m_scales"][0].pop_back();
  EXPECT_THROW((void)check(g, r), FileError);
  // A trajectory golden file's loader refuses a quantized-steps file (its format), in one line.
  EXPECT_THROW((void)load(path), FileError);
}

TEST(Golden, WritesAreAtomic) {
  TempDir dir;
  const fs::path target = dir.path / "file.json";
  write_atomically(target.string(), "first");
  EXPECT_EQ(read(target), "first");
  write_atomically(target.string(), "second");
  EXPECT_EQ(read(target), "second");
  // A target that cannot be replaced (a non-empty directory): an error, and no temporary left behind.
  fs::create_directories(dir.path / "occupied" / "inside");
  EXPECT_THROW(write_atomically((dir.path / "occupied").string(), "x"), std::runtime_error);
  for (const auto& e : fs::directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

}  // namespace
}  // namespace adamconf::golden

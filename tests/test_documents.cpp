// The reference reproduces every number the two seed documents print, at the
// precision printed. Where a document's own arithmetic drifts (it carries its
// rounded values forward), the test shows the exact value and the document's,
// and explains the difference by replaying the document's rounding; the data
// file must list exactly those drifts, so a new disagreement fails the test.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "adamconf/golden.hpp"
#include "adamconf/presets.hpp"
#include "adamconf/property.hpp"
#include "adamconf/reference_adam.hpp"
#include "mutants.hpp"

namespace adamconf {
namespace {

using Json = nlohmann::json;

Json load(const std::string& name) {
  std::ifstream in(std::string(ADAMCONF_SOURCE_DIR) + "/golden/documents/" + name);
  EXPECT_TRUE(in) << "cannot open golden/documents/" << name;
  return Json::parse(in);
}

int decimals_of(const std::string& printed) {
  const auto dot = printed.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(printed.size() - dot - 1);
}

enum class Rounding { nearest, truncate };

/// x rounded to `decimals` places (half-even, or toward zero).
R round_decimals(const R& x, int decimals, Rounding mode = Rounding::nearest) {
  const R scale = pow(R(10), decimals);
  const R scaled = x * scale;
  R r = mode == Rounding::truncate ? R(trunc(scaled)) : R(floor(scaled));
  if (mode == Rounding::nearest) {
    const R frac = scaled - r;
    if (frac > R(1) / 2 || (frac == R(1) / 2 && fmod(r, R(2)) != 0)) r += 1;
  }
  return r / scale;
}

/// x rounded to `digits` significant digits.
R round_significant(const R& x, int digits, Rounding mode = Rounding::nearest) {
  if (x == 0) return x;
  const int exponent = static_cast<int>(floor(log10(abs(x))));
  return round_decimals(x, digits - 1 - exponent, mode);
}

bool agrees(const R& value, const std::string& printed) {
  return round_decimals(value, decimals_of(printed)) == round_decimals(R(printed), decimals_of(printed));
}

std::string show(const R& x) { return x.str(10); }

/// (t, quantity) -> value.
using Values = std::map<std::pair<int, std::string>, R>;

/// Captures theta after decay_weights, which the AdamW document prints.
struct DecayCapture : NoObserver<R> {
  R* theta_decayed;
  R* factor;
  void decay_weights(std::size_t, const DecayWeights&, const R&, const R&, const R& f, const R& out) {
    *theta_decayed = out;
    *factor = f;
  }
};

Values exact_adamw_values(const Json& doc) {
  std::map<std::string, std::string> overrides = doc["hyperparameters"];
  const OptimizerSpec spec = make_spec(doc["preset"], {}, overrides);
  const auto hyper = values_of<R>(spec.hyper);
  ReferenceAdam<R> reference(spec.convention, hyper, {R(doc["theta0"].get<std::string>())});
  Values out;
  int t = 0;
  for (const auto& g : doc["gradients"]) {
    ++t;
    R decayed, factor;
    const auto rec = reference.step({R(g.get<std::string>())}, std::nullopt, DecayCapture{{}, &decayed, &factor});
    const auto& e = rec.elements[0];
    out[{t, "m"}] = e.m;
    out[{t, "v"}] = e.v;
    out[{t, "m_hat"}] = e.m_hat;
    out[{t, "v_hat"}] = e.v_hat;
    out[{t, "theta_decayed"}] = decayed;
    out[{t, "theta"}] = e.theta;
    out[{t, "effective_lr"}] = hyper.lr * e.m_hat / sqrt(e.v_hat);
    out[{t, "m_boost"}] = 1 / rec.scalars.bias_correction1;
    out[{t, "decay_factor"}] = factor;
  }
  return out;
}

/// The AdamW document's own arithmetic, as its "document_arithmetic" field
/// describes it: printed values carried forward, v to 4 significant digits,
/// 1 - beta2^t to 3 decimals, m_hat and v_hat to 3 significant digits, theta
/// to 3 decimals; a drift entry with "replay_rounding": "truncate" truncates.
Values replay_adamw_document(const Json& doc) {
  const auto& h = doc["hyperparameters"];
  const R lr(h["lr"].get<std::string>()), b1(h["beta1"].get<std::string>()),
      b2(h["beta2"].get<std::string>()), wd(h["weight_decay"].get<std::string>());
  std::set<std::pair<int, std::string>> truncated;
  for (const auto& d : doc["drift"])
    if (d.value("replay_rounding", "nearest") == "truncate") truncated.insert({d["t"].get<int>(), d["quantity"].get<std::string>()});
  auto mode = [&](int t, const char* q) {
    return truncated.count({t, q}) ? Rounding::truncate : Rounding::nearest;
  };
  Values out;
  R theta_printed(doc["theta0"].get<std::string>()), m = 0, v_printed = 0;
  int t = 0;
  for (const auto& g_text : doc["gradients"]) {
    ++t;
    const R g(g_text.get<std::string>());
    const R decayed = theta_printed * (1 - wd);
    m = b1 * m + (1 - b1) * g;
    v_printed = round_significant(b2 * v_printed + (1 - b2) * g * g, 4, mode(t, "v"));
    const R bc1 = 1 - pow(b1, t);
    const R bc2_printed = round_decimals(1 - pow(b2, t), 3);
    const R m_hat = round_significant(m / bc1, 3);
    const R v_hat = round_significant(v_printed / bc2_printed, 3);
    const R step = lr * m_hat / sqrt(v_hat);
    const R theta = decayed - step;
    theta_printed = round_decimals(theta, 3);
    out[{t, "m"}] = m;
    out[{t, "v"}] = v_printed;
    out[{t, "m_hat"}] = m_hat;
    out[{t, "v_hat"}] = v_hat;
    out[{t, "theta_decayed"}] = decayed;
    out[{t, "theta"}] = theta;
    out[{t, "effective_lr"}] = step;
    out[{t, "m_boost"}] = 1 / bc1;
    out[{t, "decay_factor"}] = 1 - wd;
  }
  return out;
}

struct Printed {
  int t;
  std::string quantity, printed, where;
};

std::map<std::pair<int, std::string>, std::string> drift_reasons(const Json& doc) {
  std::map<std::pair<int, std::string>, std::string> reasons;
  for (const auto& d : doc["drift"]) reasons[{d["t"].get<int>(), d["quantity"].get<std::string>()}] = d["why"];
  return reasons;
}

/// Checks each printed value against exact and, for the listed drifts, against
/// the replay; prints the comparison table.
void check_printed(const std::vector<Printed>& printed, const Values& exact, const Values& replay,
                   const Json& doc) {
  const auto reasons = drift_reasons(doc);
  std::set<std::pair<int, std::string>> drifts_seen;
  int agreeing = 0;
  for (const auto& p : printed) {
    const auto key = std::make_pair(p.t, p.quantity);
    ASSERT_TRUE(exact.count(key)) << p.quantity;
    const R& x = exact.at(key);
    const bool is_drift = reasons.count(key) > 0;
    const bool exact_agrees = agrees(x, p.printed);
    const int d = decimals_of(p.printed);
    if (!is_drift) {
      EXPECT_TRUE(exact_agrees) << p.where << " t=" << p.t << " " << p.quantity << ": document " << p.printed
                                << ", exact " << show(x) << " (" << show(round_decimals(x, d)) << " at " << d
                                << " decimals); not listed as a drift";
      agreeing += exact_agrees;
      continue;
    }
    drifts_seen.insert(key);
    EXPECT_FALSE(exact_agrees) << p.where << " t=" << p.t << " " << p.quantity
                               << " is listed as a drift but the exact value agrees: remove it from \"drift\"";
    ASSERT_TRUE(replay.count(key)) << p.quantity;
    const R& r = replay.at(key);
    EXPECT_TRUE(agrees(r, p.printed)) << p.where << " t=" << p.t << " " << p.quantity
                                      << ": the document arithmetic gives " << show(r) << ", not " << p.printed;
    std::cout << "  drift  t=" << p.t << " " << p.quantity << ": document " << p.printed << "  exact " << show(x)
              << " (" << show(round_decimals(x, d)) << " at the printed precision)  document arithmetic "
              << show(r) << " -> " << show(round_decimals(r, d)) << "  [" << reasons.at(key) << "]\n";
  }
  for (const auto& [key, why] : reasons)
    if (!exact.count(key) || drifts_seen.count(key) == 0) {
      // a drift entry must name a printed value (it is checked above)
      bool named = false;
      for (const auto& p : printed) named |= (p.t == key.first && p.quantity == key.second);
      EXPECT_TRUE(named) << "drift entry t=" << key.first << " " << key.second << " names no printed value";
    }
  std::cout << "  " << agreeing << " printed values agree with the exact reference at their printed precision, "
            << drifts_seen.size() << " are the document's own drift (shown above)\n";
}

TEST(AdamWDocument, ReferenceReproducesTheFourStepTraceAndTables) {
  const Json doc = load("adamw-math-example.json");
  const Values exact = exact_adamw_values(doc);
  const Values replay = replay_adamw_document(doc);
  std::vector<Printed> printed;
  for (const auto& step : doc["steps"])
    for (const auto& [quantity, value] : step["printed"].items())
      printed.push_back({step["t"].get<int>(), quantity, value, "trace"});
  for (const auto& table : doc["tables"])
    for (const auto& [t, value] : table["printed"].items())
      printed.push_back({std::stoi(t), table["quantity"], value, table["what"]});
  EXPECT_GE(printed.size(), 40u);
  check_printed(printed, exact, replay, doc);
}

TEST(AdamWDocument, DocumentArithmeticReproducesEveryPrintedNumber) {
  // The replay is an explanation only if it reproduces the whole document, not
  // just the drifts.
  const Json doc = load("adamw-math-example.json");
  const Values replay = replay_adamw_document(doc);
  for (const auto& step : doc["steps"])
    for (const auto& [quantity, value] : step["printed"].items())
      EXPECT_TRUE(agrees(replay.at({step["t"].get<int>(), quantity}), value))
          << "t=" << step["t"] << " " << quantity << ": replay " << show(replay.at({step["t"].get<int>(), quantity}))
          << " vs document " << value;
}

TEST(AdamWDocument, ThetaJourneyExactVersusDocument) {
  // The headline: the document ends at 0.100; the exact trajectory ends at 0.1007...
  const Json doc = load("adamw-math-example.json");
  const Values exact = exact_adamw_values(doc);
  EXPECT_EQ(round_decimals(exact.at({4, "theta"}), 3), R("0.101"));
  EXPECT_EQ(round_decimals(replay_adamw_document(doc).at({4, "theta"}), 3), R("0.1"));
  std::cout << "  theta: 0.5";
  for (int t = 1; t <= 4; ++t) std::cout << " -> " << exact.at({t, "theta"}).str(8);
  std::cout << " (exact); the document prints 0.5 -> 0.395 -> 0.293 -> 0.191 -> 0.100\n";
}

TEST(AdamStepByStepDocument, BiasCorrectionTable) {
  const Json doc = load("adam-step-by-step.json");
  const OptimizerSpec spec = make_spec(doc["preset"]);
  const auto hyper = values_of<R>(spec.hyper);
  Values exact, replay;
  std::vector<Printed> printed;
  for (const auto& row : doc["bias_correction_table"]) {
    const int t = row["t"];
    // Resume at step t-1 so that the next step is t, and read its scalars.
    OptimizerState<R> state{t - 1, {R(0)}, {R(0)}, {}};
    ReferenceAdam<R> reference(spec.convention, hyper, {R(0)}, state);
    const auto s = reference.step({R(0)}).scalars;
    exact[{t, "bc1"}] = s.bias_correction1;
    exact[{t, "bc2"}] = s.bias_correction2;
    exact[{t, "m_correction"}] = 1 / s.bias_correction1;
    exact[{t, "v_correction"}] = 1 / s.bias_correction2;
    // The document's arithmetic: corrections from 1 - beta^t rounded to 3 decimals.
    replay[{t, "v_correction"}] = 1 / round_decimals(s.bias_correction2, 3);
    for (const char* q : {"bc1", "bc2", "m_correction", "v_correction"})
      printed.push_back({t, q, row[q], "bias-correction table"});
  }
  check_printed(printed, exact, replay, doc);
}

TEST(AdamStepByStepDocument, StepOneAndStepTwoCoefficients) {
  // Each moment is linear in g (m) or in g^2 (v), so the coefficient of g1 is
  // the value for the gradient stream (1, 0) and that of g2 for (0, 1): two
  // elements run side by side.
  const Json doc = load("adam-step-by-step.json");
  const OptimizerSpec spec = make_spec(doc["preset"]);
  ReferenceAdam<R> reference(spec.convention, values_of<R>(spec.hyper), {R(0), R(0)});
  const auto s1 = reference.step({R(1), R(0)});
  const auto s2 = reference.step({R(0), R(1)});
  Values exact;
  for (const auto& [t, rec] : {std::pair{1, &s1}, std::pair{2, &s2}})
    for (int element = 0; element < 2; ++element) {
      const auto& e = rec->elements[element];
      const std::string g = "g" + std::to_string(element + 1);
      exact[{t, "m|" + g + "^1"}] = e.m;
      exact[{t, "m_hat|" + g + "^1"}] = e.m_hat;
      exact[{t, "v|" + g + "^2"}] = e.v;
      exact[{t, "v_hat|" + g + "^2"}] = e.v_hat;
    }
  int checked = 0;
  for (const auto& c : doc["coefficients"]) {
    const std::string key = c["quantity"].get<std::string>() + "|" + c["of"].get<std::string>();
    const R& x = exact.at({c["t"].get<int>(), key});
    EXPECT_TRUE(agrees(x, c["printed"])) << c["what"] << ": coefficient of " << c["of"] << " is " << show(x)
                                         << ", document prints " << c["printed"];
    ++checked;
  }
  std::cout << "  " << checked << " step-1/step-2 coefficients agree, e.g. m_hat_2 = "
            << exact.at({2, "m_hat|g1^1"}).str(6) << " g1 + " << exact.at({2, "m_hat|g2^1"}).str(6) << " g2\n";
}

TEST(AdamStepByStepDocument, StepOneMovesByLrTimesSignAndLrSqrtDInNorm) {
  const Json doc = load("adam-step-by-step.json");
  const OptimizerSpec spec = make_spec(doc["preset"]);
  const auto hyper = values_of<R>(spec.hyper);
  // Gradients over 16 decades and both signs; |g| >> eps = 1e-8 for all.
  std::vector<R> grad;
  for (int k = -4; k <= 12; ++k) grad.push_back((k % 2 ? 1 : -1) * pow(R(10), k) * 3 / 7);
  const std::size_t d = 64;
  std::vector<R> g64(d);
  for (std::size_t i = 0; i < d; ++i) g64[i] = grad[i % grad.size()];
  ReferenceAdam<R> reference(spec.convention, hyper, std::vector<R>(d, R(0)));
  const auto rec = reference.step(g64);
  R norm2 = 0;
  const R tiny = pow(R(2), -240);  // the reference's own rounding, far below any claim checked here
  for (std::size_t i = 0; i < d; ++i) {
    const R& g = g64[i];
    const R step = rec.elements[i].theta;  // theta0 = 0
    // -lr g/(|g| + eps), exactly (Kingma & Ba Algorithm 1 at t = 1: m_hat = g, v_hat = g^2)
    EXPECT_LE(abs(step + hyper.lr * g / (abs(g) + hyper.eps)), tiny * hyper.lr) << "g = " << show(g);
    // so |step + lr sign(g)| <= lr eps/|g|
    const R sign = g > 0 ? R(1) : R(-1);
    EXPECT_LE(abs(step + hyper.lr * sign), hyper.lr * hyper.eps / abs(g) * (1 + tiny));
    norm2 += step * step;
  }
  // The L2 norm is lr sqrt(D) to within lr sqrt(D) * max eps/|g|; with lr = 1e-3
  // and D = 64 that is the document's 0.008.
  const R norm = sqrt(norm2);
  const R max_rel = hyper.eps / (R(3) / 7 / 10000);
  EXPECT_LE(abs(norm - hyper.lr * 8), hyper.lr * 8 * max_rel);
  EXPECT_TRUE(agrees(norm, "0.008"));
  std::cout << "  step-1 L2 norm for D = 64, lr = 1e-3: " << norm.str(12) << " (document: 0.008)\n";
}

TEST(Readme, CountsMatchTheCode) {
  // Every count the README states of properties, presets, golden files and
  // mutants is the code's own, so that none can go stale: each phrase must
  // appear at least once (words may break across lines), and every
  // occurrence must agree.
  std::ifstream in(std::string(ADAMCONF_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "cannot open README.md";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string readme = buffer.str();
  const std::size_t mutants = mutants::zoo().size(), precision_mutants = mutants::precision_zoo().size();
  const std::vector<std::pair<std::string, std::size_t>> counts{
      {R"((\d+)\s+(?:RapidCheck\s+)?properties)", all_properties().size()},
      {R"((\d+)\s+presets)", presets().size()},
      {R"((\d+)\s+generated\s+golden\s+traces)", golden::catalogue().size()},
      {R"((\d+)\s+deliberately\s+wrong\s+optimizers)", mutants + precision_mutants},
      {R"((\d+)\s+in\s+float32/float64)", mutants},
      {R"((\d+)\s+of\s+mixed\s+precision)", precision_mutants},
  };
  for (const auto& [pattern, expected] : counts) {
    const std::regex re(pattern);
    std::size_t found = 0;
    for (auto it = std::sregex_iterator(readme.begin(), readme.end(), re); it != std::sregex_iterator(); ++it) {
      ++found;
      EXPECT_EQ(std::stoul((*it)[1].str()), expected) << "README.md says \"" << (*it)[0].str() << "\"";
    }
    EXPECT_GT(found, 0u) << "README.md states no count matching " << pattern;
  }
}

}  // namespace
}  // namespace adamconf

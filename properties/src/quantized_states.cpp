// The property checker's side of judging a quantized state tensor
// (harness/quantized_judge.hpp): scales through expect_close, codes through
// expect_code_in, a tensor that cannot be judged ends the case.
#include "adamconf/quantized_judge.hpp"
#include "property_helpers.hpp"

namespace adamconf::detail {

namespace {

class CheckerVerdicts : public QuantizedVerdicts {
 public:
  explicit CheckerVerdicts(Checker& checker) : checker_(checker) {}
  [[noreturn]] void fail(const std::string& what) override { checker_.fail(what); }
  void scale(double observed, const R& exact, const R& allowed, const std::function<std::string()>& where) override {
    checker_.expect_close(observed, exact, allowed, where, float32_format);
  }
  void code(int code, bool accepted, int lowest, int highest, const std::function<std::string()>& where) override {
    checker_.expect_code_in(code, accepted, lowest, highest, where);
  }

 private:
  Checker& checker_;
};

}  // namespace

void check_quantized_tensor(Checker& checker, const char* what, const QuantizedFormat& f, const QuantizedTensor& q,
                            const std::vector<double>& values, const std::vector<R>& exact, const std::vector<R>& bounds,
                            const std::vector<TensorSlice>& slices, std::size_t k, std::size_t t, const std::string& how) {
  const std::string tensor = slices.size() > 1 ? "tensor " + std::to_string(k) + " " : "";
  CheckerVerdicts verdicts(checker);
  judge_quantized_tensor(f, q, values, slices[k].offset, exact, bounds, "step " + std::to_string(t + 1) + how + ", " + tensor,
                         what, verdicts);
}

}  // namespace adamconf::detail

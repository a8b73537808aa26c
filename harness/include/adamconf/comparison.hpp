// The judge moved to adamconf/judge.hpp; this header stays for code that
// includes it by its earlier name, with compare(), judge()'s earlier name.
#pragma once

#include "adamconf/judge.hpp"

namespace adamconf {

inline Comparison compare(double observed, const R& exact, const R& allowed, const FloatFormat& f, bool output = true) {
  return judge(observed, exact, allowed, f, output);
}

}  // namespace adamconf

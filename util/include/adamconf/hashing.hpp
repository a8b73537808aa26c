// Deterministic, portable hashing for generated inputs: the golden catalogue's
// random streams and the seed of each property case.
#pragma once

#include <cstdint>
#include <string>

namespace adamconf {

/// splitmix64 (Steele, Lea, Flood 2014): x + the golden gamma, mixed. Called on
/// 0, gamma, 2 gamma, ... it is the splitmix64 sequence.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// FNV-1a, 64 bits, of the bytes of s.
inline std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace adamconf

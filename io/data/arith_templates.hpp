// Internal to the arith generator: its reproducible random source and the wording of a problem's steps.
#pragma once

#include "io/data/arith.hpp"

#include <cstdint>
#include <limits>

namespace tailor::arith_detail {

// SplitMix64 with a hand-written unbiased range: std::uniform_int_distribution may differ between standard
// libraries, and a dataset must be the same wherever it is generated from the same seed.
class random_source {
public:
  explicit random_source(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [low, high], both included; low <= high.
  std::int64_t between(std::int64_t low, std::int64_t high) {
    const auto span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) + 1;
    if (span == 0) // the whole 64-bit range
      return static_cast<std::int64_t>(next());
    // Rejecting the top partial bucket removes the modulo bias.
    const std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % span;
    std::uint64_t draw = next();
    while (draw >= limit)
      draw = next();
    return low + static_cast<std::int64_t>(draw % span);
  }

  // One element of a non-empty array or vector.
  template <class Items>
  const auto& pick(const Items& items) {
    return items[static_cast<std::size_t>(between(0, static_cast<std::int64_t>(items.size()) - 1))];
  }

  bool coin() { return (next() >> 63) != 0; }

private:
  std::uint64_t state_;
};

// Words a problem whose steps already hold their arithmetic (a chain: each step's lhs is the previous step's
// value): sets `question` and every step's `text`. The arithmetic is left untouched.
void word_problem(arith_problem& problem, random_source& random);

} // namespace tailor::arith_detail

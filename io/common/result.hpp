// Errors as values at the io boundary: either a value or a message a user can act on.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace tailor {

// Why something failed, where a caller acts differently on the reason. Most problems are `fatal`: the
// operation cannot succeed as asked and the user must change something. A remote service adds the others:
// `transient` (it failed now; the same request may succeed later), `rejected` (this one request was refused;
// asking again would fail again, but other requests may succeed), `budget` (the spending limit is reached)
// and `cancelled` (the caller ended it).
enum class problem_cause : std::uint8_t { fatal, transient, rejected, budget, cancelled };

// What went wrong, said so that a user can fix it: "train.jsonl:17: field `question` is missing".
struct problem {
  std::string message;
  problem_cause cause = problem_cause::fatal;
};

template <class T>
class result {
public:
  result(T value) : state_(std::move(value)) {}
  result(problem error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const problem& error() const { return std::get<1>(state_); }

private:
  std::variant<T, problem> state_;
};

// For operations that produce nothing but may fail.
struct done {};
using status = result<done>;
inline status ok_status() { return done{}; }

} // namespace tailor

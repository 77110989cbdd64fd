// Errors as values at the io boundary: either a value or a message a user can act on.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tailor {

// What went wrong, said so that a user can fix it: "train.jsonl:17: field `question` is missing".
struct problem {
  std::string message;
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

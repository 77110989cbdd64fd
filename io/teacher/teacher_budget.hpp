// What the teacher may cost: prices per token, and a limit in tokens and/or USD checked before each request.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace tailor {

// "$0.0200": money as budgets, plans and messages show it.
std::string dollars(double usd);

// USD per one million tokens, as API price lists state them.
struct teacher_prices {
  double usd_per_million_prompt = 0;
  double usd_per_million_completion = 0;

  double cost_usd(const chat_usage& usage) const {
    return (static_cast<double>(usage.prompt_tokens) * usd_per_million_prompt +
            static_cast<double>(usage.completion_tokens) * usd_per_million_completion) /
           1e6;
  }
};

struct teacher_budget_limits {
  std::optional<std::int64_t> max_tokens; // prompt + completion tokens
  std::optional<double> max_usd;
};

// The most one request can cost: its prompt and every completion token it may be given (max_tokens x n).
struct teacher_cost_bound {
  std::int64_t tokens = 0;
  double usd = 0;
};

// The bound of `request` at `prices`, its prompt counted by io/teacher/token_estimate.hpp (which errs high).
teacher_cost_bound cost_bound_of(const chat_request& request, const teacher_prices& prices);

// Whether a request may leave now, or must wait for requests in flight to give back what they reserved.
enum class budget_turn { go, later };

// Shared by every sender of one run. Each request reserves its cost bound before it is sent and gives back
// what it did not spend when it ends, so the spend never passes a limit as long as the bounds hold (the
// completion part always does: a server never writes more than max_tokens). Thread-safe.
class teacher_budget {
public:
  explicit teacher_budget(teacher_budget_limits limits) : limits_(limits) {}

  // Reserves `bound` for one request: `go`; `later` when it fits only once requests in flight end (ask
  // again then); a problem ("teacher budget exhausted: spent X of Y") when it cannot fit any more. Each
  // `go` must be matched by one finish with the same bound. A zero bound reserves nothing: the request may
  // start while spending is below every limit, and the spend may pass it by what is in flight.
  result<budget_turn> try_begin(const teacher_cost_bound& bound = {});
  // Ends a request begun with try_begin, adding what it spent (zero usage for one that failed).
  void finish(const chat_usage& usage, double cost_usd, const teacher_cost_bound& bound = {});

  std::int64_t spent_tokens() const;
  double spent_usd() const;
  std::size_t in_flight() const;
  const teacher_budget_limits& limits() const { return limits_; }

private:
  const teacher_budget_limits limits_;
  mutable std::mutex mutex_;
  std::int64_t spent_tokens_ = 0;
  double spent_usd_ = 0;
  std::int64_t reserved_tokens_ = 0;
  double reserved_usd_ = 0;
  std::size_t in_flight_ = 0;
};

} // namespace tailor

// What the teacher may cost: prices per token, and a limit in tokens and/or USD checked before each request.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>

namespace tailor {

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

// Shared by every sender of one run. A request may start only while spending is below every limit, so the
// spend can pass a limit by at most what the requests already in flight bring back. Thread-safe.
class teacher_budget {
public:
  explicit teacher_budget(teacher_budget_limits limits) : limits_(limits) {}

  // Reserves the right to send one request; a problem ("teacher budget exhausted: spent X of Y") when a
  // limit is reached. Each successful begin must be matched by one finish.
  status try_begin();
  // Ends a request begun with try_begin, adding what it spent (zero usage for one that failed).
  void finish(const chat_usage& usage, double cost_usd);

  std::int64_t spent_tokens() const;
  double spent_usd() const;
  std::size_t in_flight() const;
  const teacher_budget_limits& limits() const { return limits_; }

private:
  const teacher_budget_limits limits_;
  mutable std::mutex mutex_;
  std::int64_t spent_tokens_ = 0;
  double spent_usd_ = 0;
  std::size_t in_flight_ = 0;
};

} // namespace tailor

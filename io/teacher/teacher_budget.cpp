// The teacher budget: refuse before sending once spending reached a limit.
#include "io/teacher/teacher_budget.hpp"

#include "io/teacher/token_estimate.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace tailor {

std::string dollars(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.4f", usd);
  return text;
}

teacher_cost_bound cost_bound_of(const chat_request& request, const teacher_prices& prices) {
  const auto prompt = static_cast<std::int64_t>(estimated_prompt_tokens(request));
  const auto completion = static_cast<std::int64_t>(std::max(0, request.max_tokens)) * std::max(1, request.n);
  return {prompt + completion, prices.cost_usd({prompt, completion})};
}

result<budget_turn> teacher_budget::try_begin(const teacher_cost_bound& bound) {
  std::lock_guard lock(mutex_);
  // Spent already at a limit, or this request's bound alone past what is left: it will never fit.
  const bool tokens_out = limits_.max_tokens && (spent_tokens_ >= *limits_.max_tokens ||
                                                 (bound.tokens > 0 && spent_tokens_ + bound.tokens > *limits_.max_tokens));
  if (tokens_out)
    return problem{"teacher budget exhausted: spent " + std::to_string(spent_tokens_) + " of " +
                       std::to_string(*limits_.max_tokens) + " tokens" +
                       (bound.tokens > 0 ? "; the next request could cost " + std::to_string(bound.tokens) : ""),
                   problem_cause::budget};
  const bool usd_out = limits_.max_usd && (spent_usd_ >= *limits_.max_usd ||
                                           (bound.usd > 0 && spent_usd_ + bound.usd > *limits_.max_usd));
  if (usd_out)
    return problem{"teacher budget exhausted: spent " + dollars(spent_usd_) + " of " + dollars(*limits_.max_usd) +
                       (bound.usd > 0 ? "; the next request could cost " + dollars(bound.usd) : ""),
                   problem_cause::budget};
  // It fits what is left, but not beside what the requests in flight may still spend.
  const bool wait_tokens = limits_.max_tokens && spent_tokens_ + reserved_tokens_ + bound.tokens > *limits_.max_tokens;
  const bool wait_usd = limits_.max_usd && spent_usd_ + reserved_usd_ + bound.usd > *limits_.max_usd;
  if ((bound.tokens > 0 || bound.usd > 0) && (wait_tokens || wait_usd) && in_flight_ > 0)
    return budget_turn::later;
  ++in_flight_;
  reserved_tokens_ += bound.tokens;
  reserved_usd_ += bound.usd;
  return budget_turn::go;
}

void teacher_budget::finish(const chat_usage& usage, double cost_usd, const teacher_cost_bound& bound) {
  std::lock_guard lock(mutex_);
  if (in_flight_ > 0)
    --in_flight_;
  reserved_tokens_ = std::max<std::int64_t>(0, reserved_tokens_ - bound.tokens);
  reserved_usd_ = in_flight_ == 0 ? 0.0 : std::max(0.0, reserved_usd_ - bound.usd);
  spent_tokens_ += usage.prompt_tokens + usage.completion_tokens;
  spent_usd_ += cost_usd;
}

std::int64_t teacher_budget::spent_tokens() const {
  std::lock_guard lock(mutex_);
  return spent_tokens_;
}

double teacher_budget::spent_usd() const {
  std::lock_guard lock(mutex_);
  return spent_usd_;
}

std::size_t teacher_budget::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

} // namespace tailor

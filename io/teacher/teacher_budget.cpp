// The teacher budget: refuse before sending once spending reached a limit.
#include "io/teacher/teacher_budget.hpp"

#include <cstdio>
#include <string>

namespace tailor {
namespace {

std::string dollars(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.4f", usd);
  return text;
}

} // namespace

status teacher_budget::try_begin() {
  std::lock_guard lock(mutex_);
  if (limits_.max_tokens && spent_tokens_ >= *limits_.max_tokens)
    return problem{"teacher budget exhausted: spent " + std::to_string(spent_tokens_) + " of " +
                   std::to_string(*limits_.max_tokens) + " tokens"};
  if (limits_.max_usd && spent_usd_ >= *limits_.max_usd)
    return problem{"teacher budget exhausted: spent " + dollars(spent_usd_) + " of " +
                   dollars(*limits_.max_usd)};
  ++in_flight_;
  return ok_status();
}

void teacher_budget::finish(const chat_usage& usage, double cost_usd) {
  std::lock_guard lock(mutex_);
  if (in_flight_ > 0)
    --in_flight_;
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

// Retry decisions of the teacher client: retryable statuses, Retry-After, backoff with full jitter.
#include "io/http/retry_policy.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace tailor {

bool is_retryable_status(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  double seconds = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || error != std::errc{} || end != value.data() + value.size() || !(seconds >= 0))
    return std::nullopt;
  // A day is already absurd; the clamp keeps a hostile header from overflowing the clock arithmetic.
  seconds = std::min(seconds, 86400.0);
  return std::chrono::milliseconds{static_cast<std::int64_t>(seconds * 1000)};
}

std::chrono::milliseconds backoff_delay(int tries_done, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, std::mt19937_64& random) {
  const int doublings = std::clamp(tries_done - 1, 0, 30);
  const double ceiling = std::min(static_cast<double>(cap.count()),
                                  static_cast<double>(base.count()) * static_cast<double>(1LL << doublings));
  std::uniform_real_distribution<double> uniform(0.0, std::max(0.0, ceiling));
  return std::chrono::milliseconds{static_cast<std::int64_t>(uniform(random))};
}

std::string seconds_text(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

std::string error_message_of(std::string_view body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    auto error = parsed.find("error");
    if (error != parsed.end()) {
      if (error->is_string())
        return error->get<std::string>();
      if (error->is_object()) {
        auto message = error->find("message");
        if (message != error->end() && message->is_string())
          return message->get<std::string>();
      }
    }
    if (auto message = parsed.find("message"); message != parsed.end() && message->is_string())
      return message->get<std::string>();
  }
  constexpr std::size_t shown = 300;
  std::string text{body.substr(0, shown)};
  if (body.size() > shown)
    text += "...";
  return text.empty() ? "(empty body)" : text;
}

} // namespace tailor

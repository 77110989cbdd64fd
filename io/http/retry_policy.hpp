// When a failed teacher request is worth another try, and how long to wait before it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace tailor {

// 408, 409, 429 and 5xx are the statuses OpenAI documents as transient; any other 4xx means the request
// itself is wrong and would fail again, at a price.
bool is_retryable_status(int status);

// `Retry-After` in seconds (the form OpenAI-compatible servers send); an HTTP date or junk gives nothing.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

// Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(tries_done - 1))], so that many
// clients that failed together do not come back together.
std::chrono::milliseconds backoff_delay(int tries_done, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, std::mt19937_64& random);

// "0.3 s", "30 s": waits and timeouts as messages show them.
std::string seconds_text(std::chrono::milliseconds duration);

// The message of an error body: OpenAI's `{"error": {"message": ...}}`, a bare `{"error": "..."}`, or the
// start of whatever text the server sent.
std::string error_message_of(std::string_view body);

} // namespace tailor

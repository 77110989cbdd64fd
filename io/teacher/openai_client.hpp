// The teacher as a remote OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp, Ollama):
// an asynchronous HTTP client with a connection pool, a concurrency limit, retries and a budget.
#pragma once

#include "io/teacher/chat.hpp"
#include "sharing/fifo_semaphore.hpp"
#include "io/common/result.hpp"
#include "io/teacher/teacher_budget.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tailor {

struct openai_client_options {
  std::string base_url = "https://api.openai.com/v1"; // requests go to <base_url>/chat/completions
  std::string model;                                  // sent when a request names no model
  // The environment variable holding the API key, read once at construction; empty: send no key. The key
  // itself never appears in logs, errors or files.
  std::string api_key_env = "OPENAI_API_KEY";
  std::chrono::milliseconds timeout{120'000}; // per try: connecting, sending and the whole answer
  int max_tries = 5;                          // tries per request, the first one included
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30'000};
  std::size_t concurrency = 16;           // requests on the wire at once; more wait in a queue
  bool verify_tls = true;                 // turn off only for a local endpoint with a self-signed certificate
  teacher_prices prices;                  // for the cost in stats() and the budget
  std::shared_ptr<teacher_budget> budget; // checked before each request leaves the queue; may be null
  std::uint64_t seed = 0;                 // backoff jitter; 0: from the clock
  // Shared by several clients (a daemon's runs): a slot of it is held, on top of one of `concurrency`,
  // by each request on the wire or waiting to retry. The clients take turns at it. May be null.
  std::shared_ptr<fifo_semaphore> shared_limit;
};

struct openai_client_stats {
  std::size_t requests = 0; // complete() calls answered so far
  std::size_t succeeded = 0;
  std::size_t failed = 0;        // cancelled and refused by the budget included
  std::size_t http_requests = 0; // tries put on the wire
  std::size_t retries = 0;
  std::size_t connections_opened = 0;
  std::size_t in_flight = 0; // on the wire or waiting to retry
  std::size_t queued = 0;    // waiting for a free slot
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;
};

// Runs its io_context on one thread of its own; every callback is invoked on that thread and must not
// block. Retries connection errors, timeouts, 408, 409, 429 and 5xx with exponential backoff and full
// jitter, waiting at least `Retry-After` seconds when the server sends it; other 4xx fail at once with the
// server's message. A 200 whose body is not a valid completion is retried like a 5xx. A failure says its
// cause: `transient` when the tries ran out, `fatal` for 401, 403 and 404 (every request would fail alike),
// `rejected` for other 4xx, `budget` and `cancelled`.
class openai_client final : public teacher_backend {
public:
  static result<std::unique_ptr<openai_client>> create(openai_client_options options);
  // Cancels whatever is queued or in flight (their callbacks run, with a "cancelled" problem) and joins the
  // thread. Must not be called from one of the client's own callbacks.
  ~openai_client() override;

  void complete(chat_request request, callback done) override;
  // Ends every request queued or in flight; returns at once, the callbacks follow promptly.
  void cancel_all() override;

  openai_client_stats stats() const;
  const openai_client_options& options() const;

  struct impl;

private:
  explicit openai_client(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

} // namespace tailor

// An OpenAI-compatible `/v1/chat/completions` endpoint in front of any teacher backend (normally the built-in
// teacher), with injectable latency and faults, so the real HTTP client is exercised end to end; and the
// Batch API's files and batches on the same backend, for the batch client.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tailor {

// One injected failure, as a real API's bad day produces it.
struct teacher_fault {
  enum class kind : std::uint8_t {
    none,         // answer normally
    rate_limited, // 429 with `Retry-After: retry_after_s` and an OpenAI-style error body
    server_error, // 500 with an error body
    timeout,      // accept the request, then say nothing for `stall_ms` before closing the connection
    malformed,    // 200 with a body that is not JSON
    bad_request,  // 400 with an error body naming the problem (not to be retried)
  };
  kind what = kind::none;
  int retry_after_s = 1;
  int stall_ms = 10000;
};

struct teacher_server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;       // 0: any free port; see teacher_server::port()
  double latency_ms = 0;        // added before each answer: mean ...
  double latency_jitter_ms = 0; // ... plus uniform jitter in [-jitter, +jitter], never below 0
  double fault_rate = 0;      // probability that a request gets a random fault (429, 500, timeout, malformed)
  int fault_stall_ms = 10000; // how long a random timeout fault holds its request before closing
  // Deterministic faults for tests: the i-th request received (0-based, in arrival order, counting the
  // chat completion requests that pass the key check) gets scripted_faults[i], before its body is even
  // parsed; requests past the end follow fault_rate.
  std::vector<teacher_fault> scripted_faults;
  std::string required_api_key; // when set, requests without `Authorization: Bearer <key>` get 401
  // Listed by /v1/models; named in replies whose backend and request name no model.
  std::string model = "tailor-builtin";
  std::size_t max_body_bytes = 1 << 20; // larger request bodies get 413
  std::uint64_t seed = 1;               // for latency jitter and random faults
  int threads = 2;                      // I/O threads
  // The Batch API (/v1/files, /v1/batches): a batch is `completed` this long after its creation, and not
  // before the backend answered each of its requests. Uploads are bounded by max_body_bytes too.
  int batch_delay_ms = 0;
};

// What the server saw, for tests and benchmarks (e.g. "a cache hit makes no HTTP request").
struct teacher_server_stats {
  // HTTP requests received on /v1/chat/completions, whatever their method, key or body.
  std::size_t requests = 0;
  std::size_t completions = 0;  // requests answered 200 with a valid completion
  std::size_t faults = 0;       // requests answered with an injected fault
  std::size_t unauthorized = 0; // requests refused with 401
  // The Batch API: HTTP requests received on /v1/files and /v1/batches (whatever their method, key or body),
  // files uploaded and batches created.
  std::size_t batch_requests = 0;
  std::size_t files_uploaded = 0;
  std::size_t batches_created = 0;
};

class teacher_server {
public:
  // Binds and starts serving `backend` (which must outlive the server) on its own threads. A problem names
  // what is wrong: an option out of range, a host that does not resolve, a port already in use.
  static result<std::unique_ptr<teacher_server>> start(teacher_backend& backend,
                                                       teacher_server_options options);
  virtual ~teacher_server() = default;

  virtual std::uint16_t port() const = 0;
  virtual teacher_server_stats stats() const = 0;
  // Stops accepting, ends open connections (also stalled ones and those waiting for the backend) and joins
  // the threads; also done by the destructor. Idempotent; not to be called from the backend's callback.
  // A backend answer that arrives after stop() is dropped.
  virtual void stop() = 0;
};

} // namespace tailor

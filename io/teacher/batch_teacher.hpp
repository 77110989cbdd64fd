// The teacher through OpenAI's Batch API: chat requests that can wait are gathered into batches, answered
// within a day at about half the price. Each batch is journaled before it is polled, so that a process
// that dies while a batch runs gets its answers later instead of paying for the requests again.
#pragma once

#include "io/common/result.hpp"
#include "io/teacher/chat.hpp"
#include "io/teacher/teacher_budget.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace tailor {

struct batch_teacher_options {
  std::string base_url = "https://api.openai.com/v1"; // files go to <base_url>/files, batches to /batches
  std::string model;                                  // sent when a request names no model
  // The environment variable holding the API key, read once at construction; empty: send no key.
  std::string api_key_env = "OPENAI_API_KEY";
  // The journal of batches created and requests answered (JSON Lines). Empty: none, and a batch that runs
  // when the process dies is paid for but lost.
  std::filesystem::path journal;
  std::size_t max_requests = 1000;               // a batch is sent once this many requests wait ...
  std::chrono::milliseconds flush_after{60'000}; // ... or this long after the first of them came
  // A batch is also sent before its input file passes this size. OpenAI takes up to 200 MB; the output must
  // stay below the client's 64 MiB answer limit, which 1000 requests do.
  std::size_t max_file_bytes = 32u << 20;
  std::chrono::milliseconds poll_interval{30'000}; // between looks at a running batch
  std::chrono::milliseconds timeout{120'000};      // per HTTP try
  int max_tries = 5;                               // per HTTP request (upload, create, poll, download)
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30'000};
  bool verify_tls = true;
  teacher_prices prices;                  // list prices, for stats() and the budget ...
  double batch_discount = 0.5;            // ... times this: what the Batch API charges of them
  // Each request reserves its bound (prompt + max_tokens x n, at the batch price) as it arrives; one that fits
  // only once others are answered waits for them. May be null.
  std::shared_ptr<teacher_budget> budget;
  std::uint64_t seed = 0;                 // backoff jitter and multipart boundaries; 0: from the clock
};

struct batch_teacher_stats {
  std::size_t batches_created = 0;
  std::size_t batches_resumed = 0; // journaled batches of an earlier process that a request attached to
  std::size_t requests_sent = 0;   // requests in the batches created
  std::size_t attached = 0;        // requests answered by a journaled batch instead of being sent again
  std::size_t answered = 0;        // complete() calls answered with a response
  std::size_t failed = 0;          // ... with a problem, cancelled and refused by the budget included
  std::size_t pending = 0;         // waiting to go into a batch
  std::size_t in_flight = 0;       // in a batch, waiting for its answer
  std::size_t http_requests = 0;   // tries put on the wire: uploads, creations, polls, downloads
  std::size_t retries = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0; // at the batch price
};

// Runs its io_context on one thread of its own; every callback is invoked there and must not block. A
// failure says its cause: a request the batch refused (4xx) is `rejected`; one the batch answered with a
// 5xx or not at all, and every request of a batch that failed or expired, `transient`; 401, 403 and 404 from
// the file or batch endpoints are `fatal`; also `budget` and `cancelled`.
//
// A request whose JSON matches a request of a journaled, unfinished batch attaches to that batch (which is
// polled again) instead of going into a new one. Requests go to a batch per model, as OpenAI requires.
class batch_teacher final : public teacher_backend {
public:
  // Checks the options and reads the journal; a problem names what is wrong ("journal.jsonl:3: ...").
  static result<std::unique_ptr<batch_teacher>> create(batch_teacher_options options);
  // Ends every call (its callback gets a `cancelled` problem) and joins the thread; batches that run stay
  // in the journal, for a later teacher on it. Must not be called from one of the teacher's callbacks.
  ~batch_teacher() override;

  void complete(chat_request request, callback done) override;
  // Ends every call waiting or in a batch; returns at once, the callbacks follow promptly. Batches that run
  // are not cancelled: a later request with the same JSON attaches to its batch again.
  void cancel_all() override;
  // Sends the waiting requests now, without waiting for `max_requests` or `flush_after`.
  void flush();

  batch_teacher_stats stats() const;
  const batch_teacher_options& options() const;

  struct impl;

private:
  explicit batch_teacher(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

} // namespace tailor

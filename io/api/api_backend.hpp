// What the daemon's HTTP API asks of the daemon core, so that the server knows sockets and not actors.
#pragma once

#include "io/api/event_queue.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace tailor {

// A JSON answer and its HTTP status. Errors carry {"error": {"status", "message"}}.
struct api_reply {
  unsigned status = 200;
  nlohmann::json body;
};

api_reply api_error(unsigned status, std::string message);

using api_reply_handler = std::function<void(api_reply)>;

// Every call answers exactly once through its handler, on any thread, maybe before it returns.
class api_backend {
public:
  virtual ~api_backend() = default;

  // `config` is a JSON object; `requested_id` is empty (the daemon picks one) or a valid run id;
  // `base_dir` (absolute, or empty for the data dir) is what relative paths in the config are relative to;
  // `labels` are kept with the run (compare, arm, seed: a run of `tailor compare --server`).
  // 201 {"id", ...}; 400 for an invalid config (the message names the config's path); 409 for a taken id.
  virtual void submit(nlohmann::json config, std::string requested_id, std::string base_dir,
                      std::map<std::string, std::string> labels, api_reply_handler done) = 0;
  // 200 {"runs": [...]}, newest last.
  virtual void list_runs(api_reply_handler done) = 0;
  // 200 the run's state, last progress event and results so far; 404.
  virtual void get_run(std::string id, api_reply_handler done) = 0;
  // 200 {"rounds", "mistakes": [...]}: the run's mistake records, each with whether the next exam found it
  // fixed (io/store/mistake_review.hpp), of round `round` or of all rounds (0); 404.
  virtual void get_mistakes(std::string id, std::uint32_t round, api_reply_handler done) = 0;
  // 200 {"rounds": [{"round", "records": [{"id", "correct", "answer", "reasoning"}]}]}: the run's per-question
  // held-out evaluations, of round `round` or of all rounds (0); 404.
  virtual void get_evaluations(std::string id, std::uint32_t round, api_reply_handler done) = 0;
  // 200 {"compares": [{"name", "arms", "seeds", "runs", "finished"}]}: runs grouped by their compare label.
  virtual void list_compares(api_reply_handler done) = 0;
  // 200 {"name", "arms": {arm: {seed: {"run_id", "phase", "rounds": [{"round", "accuracy", "teacher_tokens",
  // "teacher_cost_usd"}]}}}}; 404 when no run has that compare label.
  virtual void get_compare(std::string name, api_reply_handler done) = 0;
  // 202 when the run was asked to stop; 404; 409 when it has already ended.
  virtual void cancel_run(std::string id, api_reply_handler done) = 0;
  // Prometheus text lines about the runs.
  virtual void metrics(std::function<void(std::string)> done) = 0;
  // Feeds `queue` with the current state of one run (or of all runs when `run_id` is empty), then with
  // every event, until the queue is closed.
  virtual void subscribe(std::string run_id, std::shared_ptr<event_queue> queue) = 0;
};

} // namespace tailor

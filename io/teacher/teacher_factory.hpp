// The teacher a run config asks for, assembled: the built-in one, or an OpenAI-compatible endpoint behind
// the answer cache and the run's budget.
#pragma once

#include "io/teacher/chat.hpp"
#include "sharing/fifo_semaphore.hpp"
#include "io/common/result.hpp"
#include "io/teacher/teacher_budget.hpp"
#include "io/teacher/teacher_exchange.hpp"
#include "messages/run_config.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tailor {

class caching_teacher;

// Owns every layer of every teacher of a run: the one of the config's `teacher` section (index 0, named
// "teacher") and those of `teachers`, each with its own client, budget and prices, all before one answer
// cache (keyed per model). Destroy it only after its callbacks are done with.
class run_teacher {
public:
  ~run_teacher();

  // The teacher of the config's `teacher` section.
  teacher_backend& backend() { return backend(0); }
  const teacher_exchange_options& exchange() const { return exchange(0); }
  std::shared_ptr<teacher_budget> budget() const;
  bool cached() const;
  std::string describe() const;

  // Every teacher, by index; with `can_wait`, its Batch API path when it has one (teacher.batch).
  std::size_t size() const { return endpoints_.size(); }
  teacher_backend& backend(std::size_t index, bool can_wait = false);
  const teacher_exchange_options& exchange(std::size_t index, bool can_wait = false) const;
  // Whether `request` is work that can wait for a batch: round 1's chains of thought, and in round mode
  // every request (a round waits for its teacher work anyway).
  bool can_wait(const teacher_request& request) const;
  const std::string& name(std::size_t index) const;
  // The teacher that answers requests of `kind`, and the one that takes over a request it failed (nullopt:
  // none, or the same one).
  std::size_t route(teacher_request_kind kind) const;
  std::optional<std::size_t> fallback_for(std::size_t index) const;
  // Ends every request in flight, at every teacher.
  void cancel_all();

  struct endpoint;
  friend result<std::shared_ptr<run_teacher>> make_run_teacher(const run_config&,
                                                               const std::vector<std::filesystem::path>&,
                                                               std::shared_ptr<fifo_semaphore>);

private:
  run_teacher() = default;
  std::vector<std::unique_ptr<endpoint>> endpoints_;
  std::size_t chain_of_thought_ = 0, feedback_ = 0;
  bool round_mode_ = true;
  std::optional<std::size_t> fallback_;
};

// Where the answer cache lives: $TAILOR_TEACHER_CACHE, else ~/.cache/tailor/teacher-cache.sqlite.
std::filesystem::path run_teacher_cache_path();

// The built-in teacher answers `arith` problems (it reads their exact steps from `train_files`, the
// training set in `tailor data generate arith`'s JSONL). An OpenAI-compatible teacher gets the answer cache,
// the budget and the config's prompts; a missing API key variable is an error naming it (the key itself is
// never shown). `shared_limit`, when given (the daemon's --teacher-concurrency), caps its requests on the
// wire together with every other run's. The config's `teachers` are built the same way and routed to as
// its teacher.*_teacher keys say.
result<std::shared_ptr<run_teacher>> make_run_teacher(const run_config& config,
                                                      const std::vector<std::filesystem::path>& train_files,
                                                      std::shared_ptr<fifo_semaphore> shared_limit = nullptr);

} // namespace tailor

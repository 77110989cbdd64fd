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
#include <vector>

namespace tailor {

class caching_teacher;

// Owns every layer; `backend()` is the one to call. Destroy it only after its callbacks are done with.
class run_teacher {
public:
  ~run_teacher();
  teacher_backend& backend() { return *front_; }
  const teacher_exchange_options& exchange() const { return exchange_; }
  std::shared_ptr<teacher_budget> budget() const { return budget_; }
  bool cached() const { return caching_ != nullptr; }
  std::string describe() const { return description_; }

  friend result<std::shared_ptr<run_teacher>> make_run_teacher(const run_config&,
                                                               const std::vector<std::filesystem::path>&,
                                                               std::shared_ptr<fifo_semaphore>);

private:
  run_teacher() = default;
  std::unique_ptr<teacher_backend> inner_;
  std::unique_ptr<caching_teacher> caching_;
  teacher_backend* front_ = nullptr;
  std::shared_ptr<teacher_budget> budget_;
  teacher_exchange_options exchange_;
  std::string description_;
};

// Where the answer cache lives: $TAILOR_TEACHER_CACHE, else ~/.cache/tailor/teacher-cache.sqlite.
std::filesystem::path run_teacher_cache_path();

// The built-in teacher answers `arith` problems (it reads their exact steps from `train_files`, the
// training set in `tailor data generate arith`'s JSONL). An OpenAI-compatible teacher gets the answer cache,
// the budget and the config's prompts; a missing API key variable is an error naming it (the key itself is
// never shown). `shared_limit`, when given (the daemon's --teacher-concurrency), caps its requests on the
// wire together with every other run's.
result<std::shared_ptr<run_teacher>> make_run_teacher(const run_config& config,
                                                      const std::vector<std::filesystem::path>& train_files,
                                                      std::shared_ptr<fifo_semaphore> shared_limit = nullptr);

} // namespace tailor

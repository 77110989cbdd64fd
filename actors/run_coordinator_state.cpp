// The run coordinator's bookkeeping: progress events, results.json and the run's end.
#include "actors/run_coordinator_state.hpp"

#include <algorithm>
#include <chrono>

namespace tailor::coordination {
namespace {

namespace fs = std::filesystem;

progress_event event_of(const coordinator_state& s, std::string message) {
  progress_event e;
  e.run_id = s.spec.run_id;
  e.phase = s.phase;
  e.round = s.round;
  e.step = s.last_metrics.step;
  e.lm_loss = s.last_metrics.lm_loss;
  e.triplet_loss = s.last_metrics.triplet_loss;
  e.accuracy = s.rounds.empty() ? -1.0 : s.rounds.back().accuracy;
  const auto* tally = current_if_any(s);
  e.mistakes = tally ? tally->record.mistakes : 0;
  // A round closes with all its requests answered: the open rounds' tallies hold every request in flight.
  std::int64_t in_flight = 0;
  for (const auto& open : s.tallies)
    in_flight += open.second.outstanding;
  e.teacher_in_flight = static_cast<std::uint32_t>(std::max<std::int64_t>(0, in_flight));
  e.teacher_done = s.teacher_done;
  e.teacher_failed = s.teacher_failed;
  e.teacher_tokens = s.teacher_tokens;
  e.teacher_cost_usd = s.teacher_cost;
  e.message = std::move(message);
  e.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return e;
}

void stop_actors(coordinator_actor* self, caf::exit_reason reason) {
  auto& s = self->state;
  if (s.teacher)
    s.teacher->cancel_all();
  for (const auto& a : {caf::actor_cast<caf::actor>(s.builder), caf::actor_cast<caf::actor>(s.teacher_client),
                        caf::actor_cast<caf::actor>(s.collector), caf::actor_cast<caf::actor>(s.student),
                        caf::actor_cast<caf::actor>(s.trainer)})
    if (a)
      self->send_exit(a, reason);
}

} // namespace

void report(coordinator_actor* self, std::string message, std::uint64_t step, std::uint64_t total) {
  auto& s = self->state;
  s.last_event = clock_type::now();
  if (!s.listener)
    return;
  auto e = event_of(s, std::move(message));
  if (total > 0) {
    e.step = step;
    e.total_steps = total;
  }
  self->send(s.listener, progress_atom::value, std::move(e));
}

bool due(const coordinator_state& s) {
  return clock_type::now() - s.last_event > std::chrono::milliseconds{100};
}

void write_results_file(coordinator_state& s, bool finished) {
  write_results(fs::path{s.spec.config.output_dir} / "results.json", s.spec.run_id,
                std::string{enum_names<loop_mode>::values[static_cast<int>(s.spec.config.mode)]},
                std::string{enum_names<teacher_strategy>::values[static_cast<int>(s.spec.config.strategy)]},
                finished, s.rounds);
}

void finish(coordinator_actor* self, run_phase phase, std::string message) {
  auto& s = self->state;
  if (s.final)
    return;
  s.final = true;
  s.phase = phase;
  write_results_file(s, phase == run_phase::finished);
  report(self, std::move(message));
  stop_actors(self,
              phase == run_phase::finished ? caf::exit_reason::normal : caf::exit_reason::user_shutdown);
  self->quit();
}

void fail(coordinator_actor* self, const std::string& message) {
  finish(self, run_phase::failed, message);
}

} // namespace tailor::coordination

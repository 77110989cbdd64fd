// The daemon's Prometheus text about its runs (daemon/run_metrics.hpp).
#include "daemon/run_metrics.hpp"

#include "sharing/shared_limits_metrics.hpp"

#include <map>

namespace tailor {

std::string runs_prometheus_text(const std::vector<const run_record*>& runs, std::size_t active,
                                 const device_scheduler* devices, const fifo_semaphore* teacher_gate) {
  std::map<std::string, std::size_t> by_phase;
  std::string per_run;
  std::uint64_t in_flight = 0;
  const auto line = [&](const char* name, const std::string& id, auto value) {
    per_run += std::string(name) + "{run=\"" + id + "\"} " + std::to_string(value) + "\n";
  };
  for (const run_record* run : runs) {
    const std::string& id = run->id;
    ++by_phase[std::string(to_string(run->phase))];
    if (!run->last_event)
      continue;
    const progress_event& e = *run->last_event;
    line("tailor_run_round", id, e.round);
    line("tailor_run_step", id, e.step);
    line("tailor_run_lm_loss", id, e.lm_loss);
    if (e.accuracy >= 0)
      line("tailor_run_accuracy", id, e.accuracy);
    line("tailor_run_teacher_requests_total", id, e.teacher_done);
    line("tailor_run_teacher_failed_total", id, e.teacher_failed);
    line("tailor_run_teacher_tokens_total", id, e.teacher_tokens);
    line("tailor_run_teacher_cost_usd_total", id, e.teacher_cost_usd);
    line("tailor_run_teacher_in_flight", id, e.teacher_in_flight);
    if (!is_final(run->phase))
      in_flight += e.teacher_in_flight;
  }
  std::string text = "# HELP tailor_runs Runs the daemon knows, by phase.\n# TYPE tailor_runs gauge\n";
  for (const auto& [phase, count] : by_phase)
    text += "tailor_runs{phase=\"" + phase + "\"} " + std::to_string(count) + "\n";
  text +=
      "# HELP tailor_runs_active Runs going now (not queued, not ended).\n# TYPE tailor_runs_active gauge\n"
      "tailor_runs_active " +
      std::to_string(active) + "\n";
  text += "# HELP tailor_teacher_in_flight Teacher requests in flight over all runs.\n"
          "# TYPE tailor_teacher_in_flight gauge\ntailor_teacher_in_flight " +
          std::to_string(in_flight) + "\n";
  text += shared_limits_metrics(devices, teacher_gate);
  text += "# HELP tailor_run_step Step of the current phase, per run (also round, loss, accuracy, teacher).\n"
          "# TYPE tailor_run_step gauge\n";
  return text + per_run;
}

} // namespace tailor

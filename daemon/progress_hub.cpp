// The progress hub (daemon/progress_hub.hpp): per-run state and chart history, fan-out to queues.
#include "daemon/progress_hub.hpp"

#include "io/store/progress_json.hpp"
#include "messages/atoms.hpp"
#include "messages/progress.hpp"

#include <caf/all.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tailor {
namespace {

using json = nlohmann::json;

// Keeps at most `limit` points by thinning the older ones: every other point goes when it is full.
void append_thinned(std::vector<json>& series, json point, std::size_t limit) {
  series.push_back(std::move(point));
  if (series.size() <= limit)
    return;
  std::vector<json> kept;
  kept.reserve(series.size() / 2 + 1);
  for (std::size_t i = 0; i + 1 < series.size(); i += 2)
    kept.push_back(std::move(series[i]));
  kept.push_back(std::move(series.back()));
  series = std::move(kept);
}

struct run_history {
  progress_event last;
  std::vector<json> loss;                   // [timestamp_ms, round, step, lm_loss, triplet_loss]
  std::vector<json> spend;                  // [timestamp_ms, teacher_cost_usd, teacher_tokens]
  std::map<std::uint32_t, double> accuracy; // per round, the last evaluation's

  void add(const progress_event& e, std::size_t limit) {
    const bool training = e.phase == run_phase::training || e.phase == run_phase::pipeline;
    if (training && e.step > 0 && (e.step != last.step || e.round != last.round || loss.empty()))
      append_thinned(loss, json::array({e.timestamp_ms, e.round, e.step, e.lm_loss, e.triplet_loss}), limit);
    if (spend.empty() || e.teacher_tokens != last.teacher_tokens ||
        e.teacher_cost_usd != last.teacher_cost_usd)
      append_thinned(spend, json::array({e.timestamp_ms, e.teacher_cost_usd, e.teacher_tokens}), limit);
    if (e.accuracy >= 0 && (e.phase == run_phase::evaluating || e.accuracy != last.accuracy))
      accuracy[e.round] = e.accuracy;
    last = e;
  }

  json state(bool with_history) const {
    json message = {{"type", "state"}, {"run_id", last.run_id}, {"event", to_json(last)}};
    if (with_history) {
      json rounds = json::array();
      for (const auto& [round, value] : accuracy)
        rounds.push_back(json::array({round, value}));
      message["history"] = {{"loss", loss}, {"spend", spend}, {"accuracy", rounds}};
    }
    return message;
  }
};

struct subscriber {
  std::string run_id; // empty: all runs
  std::shared_ptr<event_queue> queue;
};

struct hub_state {
  progress_hub_options options;
  std::map<std::string, run_history> runs;
  std::vector<subscriber> subscribers;
  static inline const char* name = "progress_hub";
};

caf::behavior progress_hub(caf::stateful_actor<hub_state>* self, progress_hub_options options) {
  self->state.options = options;
  return {
      [=](progress_atom, const progress_event& event) {
        auto& st = self->state;
        st.runs[event.run_id].add(event, st.options.history_points);
        json message = to_json(event);
        message["type"] = "progress";
        // Serialized once, shared by every queue.
        const auto text = std::make_shared<const std::string>(dump_json(message));
        std::erase_if(st.subscribers, [](const subscriber& s) { return s.queue->closed(); });
        for (const auto& s : st.subscribers)
          if (s.run_id.empty() || s.run_id == event.run_id)
            s.queue->push(text);
      },
      [=](subscribe_atom, const std::string& run_id, const std::shared_ptr<event_queue>& queue) {
        auto& st = self->state;
        // The state goes first and in the hub's order, so the subscriber misses no event and sees none twice.
        if (run_id.empty()) {
          for (const auto& [id, history] : st.runs)
            queue->push(std::make_shared<const std::string>(dump_json(history.state(false))));
        } else if (const auto found = st.runs.find(run_id); found != st.runs.end()) {
          queue->push(std::make_shared<const std::string>(dump_json(found->second.state(true))));
        }
        std::erase_if(st.subscribers, [](const subscriber& s) { return s.queue->closed(); });
        st.subscribers.push_back({run_id, queue});
      },
      [=](caf::get_atom, const std::string& run_id) -> std::string {
        const auto found = self->state.runs.find(run_id);
        return found == self->state.runs.end() ? "null" : dump_json(found->second.state(true));
      },
  };
}

} // namespace

caf::actor spawn_progress_hub(caf::actor_system& system, progress_hub_options options) {
  return system.spawn(progress_hub, options);
}

} // namespace tailor

// The run coordinator's state and the bookkeeping its files share (internal to run_coordinator*.cpp).
#pragma once

#include "actors/interfaces.hpp"
#include "actors/run.hpp"
#include "io/data/run_data.hpp"
#include "io/loop/failure_window.hpp"
#include "io/store/run_records.hpp"
#include "io/teacher/teacher_factory.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

// A namespace of its own, not tailor's: these names belong to the coordinator's files and no one else's.
namespace tailor::coordination {

using clock_type = std::chrono::steady_clock;

// What a round has produced so far. Its teacher work (round 1's chains of thought, or an exam and the
// requests its mistakes lead to) may start while the round before is still training, in continuous mode.
struct round_tally {
  round_record record;
  // Draws the round's questions (teacher, exam, evaluation); seeded from (seed, round) when the round's
  // teacher work starts, so that a resumed run draws what the uninterrupted one would have.
  std::mt19937_64 rng;
  std::uint64_t exam_answers_expected = 0; // answers the round's exam pass will grade
  std::uint64_t exam_answers_graded = 0;
  bool exam_done = false;
  // Teacher requests sent for the round and not answered. It may dip below 0 for a moment: the collector's
  // notice of the requests it sent and the teacher client's answers to them come from two actors, in no set
  // order.
  std::int64_t outstanding = 0;
  bool training = false;         // the trainer has been told to train the round
  std::uint64_t checkpoints = 0; // published while the round trained (its end not counted)
  // Moving averages of the round's losses (the last ~20 steps weigh most).
  double loss = 0, triplet_loss = 0;
  std::uint64_t steps_seen = 0;
};

struct coordinator_state {
  run_spec spec;
  caf::actor listener;
  run_data data;
  std::shared_ptr<run_teacher> teacher;
  reflection_builder_actor builder;
  teacher_client_actor teacher_client;
  mistake_collector_actor collector;
  student_inference_actor student;
  gpu_trainer_actor trainer;
  std::unique_ptr<metrics_log> metrics;
  clock_type::time_point started = clock_type::now();

  std::vector<round_record> rounds; // finished rounds (from the journal on resume)
  // By round: the round in training and, in continuous mode, the one being evaluated and the next one, whose
  // exam runs while this one finishes.
  std::map<std::uint32_t, round_tally> tallies;
  std::uint32_t round = 0; // the round being trained
  std::uint64_t teacher_done = 0, teacher_tokens = 0;
  // Requests that failed after all their tries (each one counted once per failure, also when asked again).
  std::uint64_t teacher_failed = 0;
  double teacher_cost = 0;
  bool teacher_exhausted = false;
  // Set from the config once it is known; judges whether the teacher fails systematically.
  failure_window teacher_failures{1, 1.0};
  weights_snapshot newest;
  // The end of a round whose training is done but whose teacher work is still being answered.
  struct round_end {
    weights_snapshot snapshot;
    std::uint32_t round = 0;
  };
  std::optional<round_end> round_end_pending;
  run_phase phase = run_phase::preparing;
  bool final = false;
  clock_type::time_point last_event{};
  training_metrics last_metrics;
};

using coordinator_actor = caf::stateful_actor<coordinator_state>;

// The tally of the round being trained.
inline round_tally& current(coordinator_state& s) {
  return s.tallies[s.round];
}
inline const round_tally* current_if_any(const coordinator_state& s) {
  auto found = s.tallies.find(s.round);
  return found == s.tallies.end() ? nullptr : &found->second;
}

inline bool continuous(const coordinator_state& s) {
  return s.spec.config.mode == loop_mode::continuous;
}
inline bool tailored(const coordinator_state& s) {
  return s.spec.config.strategy == teacher_strategy::tailored;
}

// Sends the listener a progress event with `message`, and with (step, total) when `total` is not 0.
void report(coordinator_actor* self, std::string message, std::uint64_t step = 0, std::uint64_t total = 0);

// Progress that comes often (training steps, exam chunks): at most ten events a second.
bool due(const coordinator_state& s);

void write_results_file(coordinator_state& s, bool finished);

// Ends the run once (later calls do nothing): results.json, the final event, the actors stopped, quit.
void finish(coordinator_actor* self, run_phase phase, std::string message);
void fail(coordinator_actor* self, const std::string& message);

} // namespace tailor::coordination

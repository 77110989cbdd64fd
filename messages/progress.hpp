// What a run reports as it goes: one event per step, phase change or notable moment, for CLI and dashboard.
#pragma once

#include "messages/enum_names.hpp"

#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <string>

namespace tailor {

// Round mode walks through these in order, once per round; continuous mode sits in `pipeline`, where exam,
// feedback and training overlap. The last three are final.
enum class run_phase : std::uint8_t {
  queued,
  preparing,        // data, tokenizer, student, teacher
  chain_of_thought, // round 1: the teacher writes rationales for the training set
  training,
  exam,              // the student samples answers to the training questions
  tailored_feedback, // the teacher answers the student's mistakes
  evaluating,        // greedy decoding on the test set
  checkpointing,
  pipeline,
  finished,
  failed,
  cancelled
};

template <>
struct enum_names<run_phase> {
  static constexpr std::array<std::string_view, 12> values = {
      "queued",     "preparing",     "chain_of_thought", "training", "exam",   "tailored_feedback",
      "evaluating", "checkpointing", "pipeline",         "finished", "failed", "cancelled"};
};

inline bool is_final(run_phase phase) {
  return phase == run_phase::finished || phase == run_phase::failed || phase == run_phase::cancelled;
}

struct progress_event {
  std::string run_id;
  run_phase phase = run_phase::queued;
  std::uint32_t round = 0;
  std::uint64_t step = 0;
  std::uint64_t total_steps = 0; // of the current phase; 0 when unknown
  double lm_loss = 0;
  double triplet_loss = 0;
  double accuracy = -1;       // test accuracy of the last evaluation in [0, 1]; negative before the first one
  std::uint64_t mistakes = 0; // distinct mistakes of the last exam
  std::uint32_t teacher_in_flight = 0;
  std::uint64_t teacher_done = 0;
  std::uint64_t teacher_failed = 0; // requests that failed after all their tries (each asked again once later)
  std::uint64_t teacher_tokens = 0;
  double teacher_cost_usd = 0;
  std::string message; // for people: "round 2: 312 mistakes on 1000 questions"; the error text when failed
  std::int64_t timestamp_ms = 0; // Unix epoch, milliseconds

  friend bool operator==(const progress_event&, const progress_event&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, progress_event& x) {
  return f(caf::meta::type_name("progress_event"), x.run_id, x.phase, x.round, x.step, x.total_steps,
           x.lm_loss, x.triplet_loss, x.accuracy, x.mistakes, x.teacher_in_flight, x.teacher_done,
           x.teacher_failed, x.teacher_tokens, x.teacher_cost_usd, x.message, x.timestamp_ms);
}

} // namespace tailor

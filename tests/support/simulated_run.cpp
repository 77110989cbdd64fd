// The simulated run (tests/support/simulated_run.hpp): a timer-driven walk through the phases of round mode.
#include "tests/support/simulated_run.hpp"

#include "sharing/device_scheduler.hpp"
#include "io/store/progress_json.hpp"
#include "io/store/evaluation_records.hpp"
#include "io/store/mistake_records.hpp"
#include "io/store/run_records.hpp"
#include "messages/atoms.hpp"

#include <caf/all.hpp>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>

// A turn on the device travels from the scheduler's thread to the run as a message; local only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<tailor::device_lease>)

namespace tailor {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using turn_atom = caf::atom_constant<caf::atom("turn")>;

struct sim_state {
  run_spec spec;
  caf::actor listener;
  simulated_run_options options;
  std::uint32_t round = 1;       // the round being trained
  std::uint64_t step = 0;        // within the round
  std::uint64_t total_steps = 0; // over the run, for the loss curve
  std::vector<round_record> rounds;
  progress_event last;
  device_lease turn; // with the daemon's device turns: held from the grant to the next tick
  static inline const char* name = "simulated_run";
};

using sim_actor = caf::stateful_actor<sim_state>;

std::filesystem::path dir_of(const sim_state& st) {
  return st.spec.config.output_dir;
}

// The config's steps for the round, as the loop takes them; the options' count when the config fixes none.
std::uint64_t steps_of_round(const sim_state& st) {
  const auto fixed = fixed_steps_of_round(st.spec.config, st.round);
  return fixed > 0 ? fixed : st.options.steps_per_round;
}

void emit(sim_actor* self, run_phase phase, std::string message = {}) {
  auto& st = self->state;
  progress_event& e = st.last;
  e.run_id = st.spec.run_id;
  e.phase = phase;
  e.round = st.round;
  e.step = st.step;
  e.total_steps = phase == run_phase::training ? steps_of_round(st) : 0;
  e.timestamp_ms = unix_time_ms();
  e.message = std::move(message);
  if (st.options.stamp_send_time)
    e.message = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  if (st.listener)
    self->send(st.listener, progress_atom::value, e);
}

// The loop's own journal (io/store/run_records.hpp): a resumed simulated run starts after its last round.
status read_rounds(sim_state& st) {
  auto rounds = read_journal(dir_of(st) / "journal.jsonl");
  if (!rounds)
    return rounds.error();
  st.rounds = std::move(rounds.value());
  for (const round_record& r : st.rounds) {
    st.round = r.round + 1;
    st.total_steps += r.steps;
    st.last.accuracy = r.accuracy;
    st.last.mistakes = r.mistakes;
    st.last.teacher_done = r.teacher_requests;
    st.last.teacher_tokens = r.teacher_tokens;
    st.last.teacher_cost_usd = r.teacher_cost_usd;
  }
  return ok_status();
}

void save_results(const sim_state& st, bool finished) {
  [[maybe_unused]] auto written = write_results(dir_of(st) / "results.json", st.spec.run_id, "simulated",
                                                "tailored", finished, st.rounds);
}

// The files a round of the loop leaves for the dashboard and `tailor compare`, made up: per-question
// evaluations (round 1 the same for every arm of a seed, as in the loop; later ones drawn per arm), the round's
// mistakes with the teacher's corrections (none in the ablation) and its exam's per-question outcomes.
status write_round_files(const sim_state& st, std::uint32_t round, double accuracy) {
  const auto& c = st.spec.config;
  const bool tailored = c.strategy == teacher_strategy::tailored;
  std::mt19937_64 rng{c.seed * 1000003 + round * 7919 + (round > 1 && !tailored ? 1 : 0)};
  constexpr int questions = 20;
  std::vector<int> order(questions);
  for (int i = 0; i < questions; ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<graded_answer> answers(questions);
  const long right = std::lround(accuracy * questions);
  for (int i = 0; i < questions; ++i) {
    auto& a = answers[order[i]];
    a.example_id = "test-" + std::to_string(order[i] + 1);
    a.correct = i < right;
    a.extracted_answer = a.correct ? "12" : "13";
    a.reasoning.text = "3 * 4 = " + a.extracted_answer + ".";
  }
  if (auto written = write_evaluation(dir_of(st), round, answers); !written)
    return written;
  if (round == 1)
    return ok_status();
  if (auto cleared = clear_mistakes(dir_of(st), round); !cleared) // a round done again after a kill
    return cleared;
  std::vector<exam_outcome> exam;
  for (int i = 1; i <= 6; ++i) {
    const auto id = "train-" + std::to_string(i);
    exam.push_back({id, 4, (i + round) % 2 == 0 ? 4u : 2u});
    if (i > 4)
      continue;
    example problem{.id = id, .task = task_kind::arith, .question = "What is " + std::to_string(i) + " * 4 + 1?",
                    .answer = std::to_string(i * 4 + 1), .gold_rationale = ""};
    graded_answer wrong;
    wrong.example_id = id;
    wrong.reasoning.text = std::to_string(i) + " * 4 = " + std::to_string(i * 4 + 2) + ". Plus 1 is " +
                           std::to_string(i * 4 + 3) + ".";
    wrong.extracted_answer = std::to_string(i * 4 + 3);
    auto record = unasked_mistake_of(problem, wrong);
    if (tailored) {
      record.teacher_asked = true;
      record.feedback = "The student multiplied wrong: " + std::to_string(i) + " * 4 is " + std::to_string(i * 4) + ".";
      record.corrected_rationale = std::to_string(i) + " * 4 = " + std::to_string(i * 4) + ". Plus 1 is " +
                                   std::to_string(i * 4 + 1) + ".";
      record.teacher_tokens = 180;
    }
    if (auto appended = append_mistake(dir_of(st), round, record); !appended)
      return appended;
  }
  return write_exam_outcomes(dir_of(st), round, exam);
}

void tick_after_interval(sim_actor* self) {
  const auto interval = self->state.options.step_interval;
  if (interval.count() <= 0)
    self->send(self, tick_atom::value);
  else
    self->delayed_send(self, interval, tick_atom::value);
}

// The next tick after one interval; with device turns (the daemon's), an interval on the device, as the
// loop's training steps take it.
void schedule(sim_actor* self) {
  const auto& devices = self->state.spec.devices;
  if (!devices)
    return tick_after_interval(self);
  devices->slots_of(self->state.spec.config.device)
      ->acquire_async([run = caf::actor_cast<caf::actor>(self)](device_lease turn) {
        caf::anon_send(run, turn_atom::value, std::make_shared<device_lease>(std::move(turn)));
      });
}

void tick(sim_actor* self) {
  auto& st = self->state;
  if (st.round > st.spec.config.rounds) {
    st.round = st.spec.config.rounds;
    save_results(st, true);
    emit(self, run_phase::finished, "finished " + std::to_string(st.spec.config.rounds) + " rounds");
    return self->quit();
  }
  if (st.step < steps_of_round(st)) {
    ++st.step;
    ++st.total_steps;
    progress_event& e = st.last;
    e.lm_loss = 2.5 / (1.0 + 0.05 * static_cast<double>(st.total_steps)) + 0.05 * std::sin(st.total_steps);
    e.triplet_loss = st.round > 1 ? 0.6 / (1.0 + 0.02 * static_cast<double>(st.total_steps)) : 0.0;
    e.teacher_in_flight = st.step % 4;
    e.teacher_done += 1;
    e.teacher_tokens += 250;
    e.teacher_cost_usd += 250 * 0.6e-6;
    emit(self, run_phase::training);
    return schedule(self);
  }
  // End of a round: an evaluation, a checkpoint (the journal line), then the next round.
  const std::uint32_t rounds = std::max<std::uint32_t>(st.spec.config.rounds, 1);
  // The ablation lags the method after round 1, so that a simulated compare has a difference to find.
  const double lag = st.round > 1 && st.spec.config.strategy != teacher_strategy::tailored ? 0.1 : 0.0;
  st.last.accuracy = std::min(0.95, 0.2 + 0.6 * static_cast<double>(st.round) / rounds) - lag;
  st.last.mistakes = static_cast<std::uint64_t>((1.0 - st.last.accuracy) * 200);
  st.last.teacher_in_flight = 0;
  emit(self, run_phase::evaluating, "round " + std::to_string(st.round) + " evaluated");
  round_record record;
  record.round = st.round;
  record.accuracy = st.last.accuracy;
  record.mistakes = st.last.mistakes;
  record.teacher_requests = st.last.teacher_done;
  record.teacher_tokens = st.last.teacher_tokens;
  record.teacher_cost_usd = st.last.teacher_cost_usd;
  record.loss = st.last.lm_loss;
  record.triplet_loss = st.last.triplet_loss;
  record.steps = st.step;
  if (auto written = write_round_files(st, st.round, st.last.accuracy); !written) {
    emit(self, run_phase::failed, written.error().message);
    return self->quit();
  }
  if (auto appended = append_journal(dir_of(st) / "journal.jsonl", record); !appended) {
    emit(self, run_phase::failed, appended.error().message);
    return self->quit();
  }
  st.rounds.push_back(record);
  save_results(st, false); // results so far, as the loop keeps them
  emit(self, run_phase::checkpointing, "round " + std::to_string(st.round) + " checkpointed");
  ++st.round;
  st.step = 0;
  schedule(self);
}

caf::behavior simulated_run(sim_actor* self, run_spec spec, caf::actor listener,
                            simulated_run_options options) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.listener = std::move(listener);
  st.options = options;
  std::error_code ec;
  std::filesystem::create_directories(dir_of(st), ec);
  if (ec) {
    emit(self, run_phase::failed, "cannot create " + dir_of(st).string() + ": " + ec.message());
    self->quit();
    return {};
  }
  if (auto read = read_rounds(st); !read) {
    emit(self, run_phase::failed, read.error().message);
    self->quit();
    return {};
  }
  emit(self, run_phase::preparing,
       st.rounds.empty() ? "simulated run" : "resuming after round " + std::to_string(st.round - 1));
  schedule(self);
  return {
      [=](turn_atom, const std::shared_ptr<device_lease>& turn) {
        self->state.turn = std::move(*turn);
        tick_after_interval(self);
      },
      [=](tick_atom) {
        self->state.turn.release();
        tick(self);
      },
      [=](stop_atom) {
        save_results(self->state, false);
        emit(self, run_phase::cancelled, "cancelled in round " + std::to_string(self->state.round));
        self->quit();
      },
  };
}

} // namespace

caf::actor spawn_simulated_run(caf::actor_system& system, run_spec spec, caf::actor listener,
                               simulated_run_options options) {
  return system.spawn(simulated_run, std::move(spec), std::move(listener), options);
}

} // namespace tailor

// run_coordinator: owns one run. Prepares data, teacher and student, spawns and monitors the loop's five
// actors, drives round mode (barriers) or continuous mode (pipeline), and writes the run directory.
#include "actors/gpu_trainer.hpp"
#include "actors/interfaces.hpp"
#include "actors/mistake_collector.hpp"
#include "actors/reflection_builder.hpp"
#include "actors/run.hpp"
#include "actors/student_inference.hpp"
#include "actors/teacher_client.hpp"
#include "io/run_data.hpp"
#include "io/run_records.hpp"
#include "io/teacher_factory.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <optional>
#include <random>

namespace tailor {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

// What a round has produced so far. Its teacher work (round 1's chains of thought, or an exam and the requests
// its mistakes lead to) may start while the round before is still training, in continuous mode.
struct round_tally {
  round_record record;
  // Draws the round's questions (teacher, exam, evaluation); seeded from (seed, round) when the round's teacher
  // work starts, so that a resumed run draws what the uninterrupted one would have.
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
  std::uint32_t round = 0;      // the round being trained
  std::uint64_t teacher_done = 0, teacher_tokens = 0;
  double teacher_cost = 0;
  bool teacher_exhausted = false;
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
round_tally& current(coordinator_state& s) {
  return s.tallies[s.round];
}
const round_tally* current_if_any(const coordinator_state& s) {
  auto found = s.tallies.find(s.round);
  return found == s.tallies.end() ? nullptr : &found->second;
}

// The message an actor of the run failed with: its own text when it gave one, else CAF's rendering.
std::string error_text(caf::actor_system& system, const caf::error& error) {
  const auto& context = error.context();
  if (context.match_elements<std::string>())
    return context.get_as<std::string>(0);
  return system.render(error);
}

bool continuous(const coordinator_state& s) {
  return s.spec.config.mode == loop_mode::continuous;
}
bool tailored(const coordinator_state& s) {
  return s.spec.config.strategy == teacher_strategy::tailored;
}

// Whether round `round` trains from the moment it opens, while its teacher work goes on: round 1 in continuous
// mode (its first pass waits for each batch's answers anyway), and the later rounds of continuous mode when the
// config does not have them wait for their corrections. Otherwise a round trains once its teacher work is
// answered, as in round mode.
bool trains_at_open(const coordinator_state& s, std::uint32_t round) {
  return continuous(s) && (round == 1 || !s.spec.config.wait_for_corrections);
}

// Round 1, which learns from the teacher's rationales alone, may train for its own number of steps.
std::uint64_t steps_of_round(const run_config& c, std::uint32_t round, std::size_t positives) {
  if (const auto fixed = fixed_steps_of_round(c, round); fixed > 0)
    return fixed;
  const auto batch = std::max<std::uint32_t>(1, c.optimizer.batch_size);
  return std::max<std::uint64_t>(1, c.epochs_per_round * ((positives + batch - 1) / batch));
}

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
  e.teacher_tokens = s.teacher_tokens;
  e.teacher_cost_usd = s.teacher_cost;
  e.message = std::move(message);
  e.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return e;
}

void report(coordinator_actor* self, std::string message, std::uint64_t step = 0, std::uint64_t total = 0) {
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

// Progress that comes often (training steps, exam chunks): at most ten events a second.
bool due(const coordinator_state& s) {
  return clock_type::now() - s.last_event > std::chrono::milliseconds{100};
}

void write_results_file(coordinator_state& s, bool finished) {
  write_results(fs::path{s.spec.config.output_dir} / "results.json", s.spec.run_id,
                std::string{enum_names<loop_mode>::values[static_cast<int>(s.spec.config.mode)]},
                std::string{enum_names<teacher_strategy>::values[static_cast<int>(s.spec.config.strategy)]},
                finished, s.rounds);
}

void stop_actors(coordinator_actor* self, caf::exit_reason reason) {
  auto& s = self->state;
  if (s.teacher)
    s.teacher->backend().cancel_all();
  for (const auto& a : {caf::actor_cast<caf::actor>(s.builder), caf::actor_cast<caf::actor>(s.teacher_client),
                        caf::actor_cast<caf::actor>(s.collector), caf::actor_cast<caf::actor>(s.student),
                        caf::actor_cast<caf::actor>(s.trainer)})
    if (a)
      self->send_exit(a, reason);
}

void finish(coordinator_actor* self, run_phase phase, std::string message) {
  auto& s = self->state;
  if (s.final)
    return;
  s.final = true;
  s.phase = phase;
  write_results_file(s, phase == run_phase::finished);
  report(self, std::move(message));
  stop_actors(self, phase == run_phase::finished ? caf::exit_reason::normal : caf::exit_reason::user_shutdown);
  self->quit();
}

void fail(coordinator_actor* self, const std::string& message) {
  finish(self, run_phase::failed, message);
}

std::vector<example> sample_questions(std::mt19937_64& rng, const std::vector<example>& pool, std::uint32_t count) {
  std::vector<example> out = pool;
  std::shuffle(out.begin(), out.end(), rng);
  if (count > 0 && count < out.size())
    out.resize(count);
  return out;
}

void send_chain_of_thought(coordinator_actor* self, round_tally& tally, const std::vector<example>& questions,
                           std::uint32_t samples) {
  auto& s = self->state;
  for (const auto& q : questions) {
    self->send(s.teacher_client, teach_atom::value,
               chain_of_thought_request(q, samples, s.spec.config.teacher.sampling, tally.record.round));
    ++tally.outstanding;
    ++tally.record.teacher_requests;
  }
}

// How often round 1's batches are batches of its pass over the first rationales: each one (the pass first), or,
// spread, evenly over the round's steps.
std::uint32_t first_pass_every(const run_config& c, std::size_t asked, std::size_t train_size) {
  if (!c.reflection.spread_first_pass)
    return 1;
  const auto batch = std::max<std::uint32_t>(1, c.optimizer.batch_size);
  const auto pass_batches = std::max<std::uint64_t>(1, (asked + batch - 1) / batch);
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(1, steps_of_round(c, 1, train_size) / pass_batches));
}

// The round's teacher work is answered: round 1's chains of thought, or a later round's exam and the requests
// it led to (feedback on mistakes, or the ablation's random questions).
bool teacher_work_done(const coordinator_state& s, std::uint32_t round) {
  auto found = s.tallies.find(round);
  return found != s.tallies.end() && found->second.outstanding <= 0 && (round == 1 || found->second.exam_done);
}

void start_exam_pass(coordinator_actor* self, round_tally& tally) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  const auto round = tally.record.round;
  auto questions = sample_questions(tally.rng, s.data.train, c.exam.questions);
  tally.exam_answers_expected += questions.size() * std::max<std::uint32_t>(1, c.exam.samples);
  tally.record.exam_questions += questions.size();
  // The ablation's teacher work: random questions, asked one wherever the method would ask about a mistake
  // (sent before the exam, so the collector has them before its first graded batch).
  if (!tailored(s))
    self->send(s.collector, stand_in_atom::value, round,
               sample_questions(tally.rng, s.data.train, c.teacher.requests_per_round));
  // The pass's sampling is seeded from (seed, round), not from a count of passes this process started: a run
  // resumed after round k samples round k+1's exam as the uninterrupted run did, so its mistakes, and the
  // feedback requests they make, are the ones already paid for and cached (round k+1's exam was the k-th pass).
  self->send(s.student, exam_atom::value, std::move(questions), c.seed * 1000003 + (round - 1), round);
}

// The teacher work of round `round`: chain of thought for round 1; then an exam on the newest weights, whose
// mistakes go to the teacher, or, for the ablation, random questions in their place. The ablation sits the
// same exam so that its teacher answers arrive when the method's would: in continuous mode, answers that came
// earlier would be trained on for more steps, and later ones closer to the round's evaluation.
void start_teacher_work(coordinator_actor* self, std::uint32_t round) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  auto& tally = s.tallies[round];
  tally = {};
  tally.record.round = round;
  std::seed_seq round_seed{static_cast<std::uint32_t>(c.seed), static_cast<std::uint32_t>(c.seed >> 32), round};
  tally.rng.seed(round_seed);
  if (round > 1) {
    start_exam_pass(self, tally);
    report(self, "round " + std::to_string(round) + ": exam on " + std::to_string(tally.record.exam_questions) +
                     " training questions");
    return;
  }
  auto questions = sample_questions(tally.rng, s.data.train, c.teacher.initial_questions);
  std::vector<std::string> asked;
  for (const auto& q : questions)
    asked.push_back(q.id);
  const auto every = first_pass_every(c, asked.size(), s.data.train.size());
  // Sent before the requests: the builder knows the order before the first answer reaches it.
  self->send(s.builder, first_pass_atom::value, std::move(asked), every);
  send_chain_of_thought(self, tally, questions, c.teacher.chain_of_thought_samples);
  report(self, "round 1: the teacher writes rationales for " + std::to_string(questions.size()) + " questions");
}

// Continuous mode: the next round's exam starts once the trainer is within `exam_lead_checkpoints` of the
// round's end, so that the exam, the teacher and the round's last steps overlap. Its mistakes and answers
// wait in the reflection builder until the next round trains; the exam loads each newer checkpoint as it
// comes, so its weights lag the trainer's by at most the lead (itself at most `max_staleness`). With no lead
// the exam starts when the round ends, at the open of the next one.
void maybe_start_next_exam(coordinator_actor* self) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  const auto* tally = current_if_any(s);
  if (!continuous(s) || c.exam_lead_checkpoints == 0 || !tally || s.round >= c.rounds ||
      s.tallies.contains(s.round + 1))
    return;
  const auto every = c.checkpoint_every_steps;
  const std::uint64_t before_end = every == 0 || tally->record.steps == 0 ? 0 : (tally->record.steps - 1) / every;
  if (tally->checkpoints + c.exam_lead_checkpoints < before_end + 1)
    return;
  start_teacher_work(self, s.round + 1);
}

void start_training(coordinator_actor* self) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  s.phase = continuous(s) ? run_phase::pipeline : run_phase::training;
  current(s).training = true;
  const double lr = s.round > 1 && c.optimizer.later_rounds_learning_rate > 0 ? c.optimizer.later_rounds_learning_rate
                                                                              : c.optimizer.learning_rate;
  const auto steps = steps_of_round(c, s.round, s.data.train.size());
  current(s).record.steps = steps;
  self->send(s.trainer, train_atom::value, s.round, steps, lr,
             continuous(s) ? std::uint64_t{c.checkpoint_every_steps} : std::uint64_t{0});
  report(self, "round " + std::to_string(s.round) + ": training " + std::to_string(steps) + " steps", 0, steps);
  maybe_start_next_exam(self);
}

// A round that waits for its teacher work (every round of round mode; continuous mode's later rounds unless
// told otherwise) starts training once the round's exam and teacher requests are all answered.
void maybe_start_round_training(coordinator_actor* self) {
  auto& s = self->state;
  const auto* tally = current_if_any(s);
  if (!tally || tally->training || trains_at_open(s, s.round) || !teacher_work_done(s, s.round))
    return;
  start_training(self);
}

// Round `round` becomes the one in training. It trains at once, on what the pools hold, while its teacher work
// (perhaps started during the round before) goes on, or once that work is answered (see trains_at_open).
void open_round(coordinator_actor* self, std::uint32_t round) {
  auto& s = self->state;
  s.round = round;
  if (!continuous(s))
    s.phase = round == 1 ? run_phase::chain_of_thought : run_phase::exam;
  if (!s.tallies.contains(round))
    start_teacher_work(self, round);
  if (trains_at_open(s, round))
    return start_training(self);
  if (continuous(s) && !teacher_work_done(s, round))
    report(self, "round " + std::to_string(round) + ": training starts once the exam is graded and the teacher "
                                                     "has answered");
  maybe_start_round_training(self);
}

void close_round(coordinator_actor* self, std::uint32_t round, double accuracy, std::uint64_t version) {
  auto& s = self->state;
  auto node = s.tallies.extract(round);
  if (node.empty())
    return fail(self, "round " + std::to_string(round) + " was evaluated twice");
  const auto& tally = node.mapped();
  auto r = tally.record;
  r.accuracy = accuracy;
  r.weights_version = version;
  r.loss = tally.loss;
  r.triplet_loss = tally.triplet_loss;
  r.wall_seconds = std::chrono::duration<double>(clock_type::now() - s.started).count();
  if (auto appended = append_journal(fs::path{s.spec.config.output_dir} / "journal.jsonl", r); !appended)
    return fail(self, appended.error().message);
  s.rounds.push_back(r);
  write_results_file(s, false);
  char text[160];
  std::snprintf(text, sizeof text, "round %u: held-out accuracy %.1f%%, %llu mistakes, %llu teacher requests",
                r.round, 100.0 * accuracy, static_cast<unsigned long long>(r.mistakes),
                static_cast<unsigned long long>(r.teacher_requests));
  report(self, text);
  if (r.round >= s.spec.config.rounds)
    return finish(self, run_phase::finished, "finished: " + std::to_string(s.rounds.size()) + " rounds");
  if (!continuous(s))
    open_round(self, r.round + 1);
}

// A round ends once its training steps are done and its teacher work is answered, so that the pools saved with
// its checkpoint hold every answer it paid for. Round mode trains only after the answers; in continuous mode
// the trainer waits here when the exam and the teacher are slower than its steps (a fast GPU), instead of
// running into the next round before that round's data exists.
void maybe_end_round(coordinator_actor* self) {
  auto& s = self->state;
  if (!s.round_end_pending || !teacher_work_done(s, s.round_end_pending->round))
    return;
  auto [snapshot, round] = *s.round_end_pending;
  s.round_end_pending.reset();
  self->request(s.builder, caf::infinite, checkpoint_atom::value, snapshot.checkpoint_dir)
      .then([self, snapshot, round](bool saved) {
        auto& s = self->state;
        if (!saved)
          return fail(self, "cannot save the pools with " + snapshot.checkpoint_dir);
        s.tallies[round].record.checkpoint = snapshot.checkpoint_dir;
        s.phase = continuous(s) ? run_phase::pipeline : run_phase::evaluating;
        auto questions = sample_questions(s.tallies[round].rng, s.data.test, s.spec.config.exam.eval_questions);
        report(self, "round " + std::to_string(round) + ": trained; evaluating on " +
                         std::to_string(questions.size()) + " held-out questions");
        self->send(s.student, eval_atom::value, std::move(questions), snapshot, round);
        // Continuous mode trains on while the round is evaluated.
        if (continuous(s) && round < s.spec.config.rounds)
          open_round(self, round + 1);
      });
}

caf::behavior run_coordinator(coordinator_actor* self, run_spec spec, caf::actor listener) {
  auto& s = self->state;
  s.spec = std::move(spec);
  s.listener = std::move(listener);
  self->set_down_handler([self](const caf::down_msg& down) {
    if (self->state.final)
      return;
    fail(self, down.reason ? error_text(self->system(), down.reason) : "an actor of the run stopped unexpectedly");
  });
  self->set_exit_handler([self](const caf::exit_msg& exit) {
    if (exit.reason)
      finish(self, run_phase::cancelled, "cancelled");
  });
  self->send(self, prepare_atom::value);
  return {
      [self](prepare_atom) {
        auto& s = self->state;
        report(self, "preparing data, teacher and student");
        auto data = prepare_run_data(s.spec.config);
        if (!data)
          return fail(self, data.error().message);
        s.data = std::move(data.value());
        auto teacher = make_run_teacher(s.spec.config, s.data.train_files, s.spec.teacher_gate);
        if (!teacher)
          return fail(self, teacher.error().message);
        s.teacher = std::move(teacher.value());
        auto journal = read_journal(fs::path{s.spec.config.output_dir} / "journal.jsonl");
        if (!journal)
          return fail(self, journal.error().message);
        s.rounds = std::move(journal.value());
        std::uint64_t journaled_steps = 0;
        for (const auto& r : s.rounds)
          journaled_steps += r.steps;
        s.metrics =
            std::make_unique<metrics_log>(fs::path{s.spec.config.output_dir} / "metrics.jsonl", journaled_steps);
        const auto& c = s.spec.config;
        auto self_handle = caf::actor_cast<caf::actor>(self);
        s.builder = spawn_reflection_builder(
            self->system(), s.data.index,
            {.pools = {.max_positives = c.reflection.max_positives,
                       .max_negatives = c.reflection.max_negatives,
                       .triplets = tailored(s) && c.loss.lambda > 0,
                       .demos = c.prompts.demos},
             .fresh_share = c.reflection.fresh_share,
             .seed = c.seed});
        s.teacher_client = spawn_teacher_client(self->system(), s.teacher, s.builder, self_handle);
        s.collector = spawn_mistake_collector(self->system(), s.data.index,
                                              {.max_negatives = c.reflection.max_negatives,
                                               .tailored = tailored(s),
                                               .requests_per_pass = c.teacher.requests_per_round,
                                               .feedback_samples = c.teacher.tailored_feedback_samples,
                                               .order = c.teacher.mistake_order,
                                               .sampling = c.teacher.sampling,
                                               .ask_after_pass = !continuous(s)},
                                              s.builder, s.teacher_client, self_handle);
        s.student = spawn_student_inference(self->system(), c, s.collector, self_handle, s.spec.devices);
        s.trainer = spawn_gpu_trainer(self->system(), c, s.data.index, s.builder, self_handle, s.spec.devices);
        for (const auto& a : {caf::actor_cast<caf::actor>(s.builder), caf::actor_cast<caf::actor>(s.teacher_client),
                              caf::actor_cast<caf::actor>(s.collector), caf::actor_cast<caf::actor>(s.student),
                              caf::actor_cast<caf::actor>(s.trainer)})
          self->monitor(a);
        if (!s.rounds.empty() && s.rounds.back().round >= c.rounds)
          return finish(self, run_phase::finished, "finished earlier: " + std::to_string(s.rounds.size()) + " rounds");
        const std::string resume_dir = s.rounds.empty() ? "" : s.rounds.back().checkpoint;
        self->request(s.trainer, caf::infinite, prepare_atom::value, resume_dir)
            .then(
                [self, resume_dir](const weights_snapshot& v0) {
                  auto& s = self->state;
                  s.newest = v0;
                  self->send(s.student, snapshot_atom::value, v0);
                  if (resume_dir.empty())
                    return open_round(self, 1);
                  self->request(s.builder, caf::infinite, resume_atom::value, resume_dir)
                      .then([self](bool restored) {
                        auto& s = self->state;
                        if (!restored)
                          return fail(self, "resume: the pools saved with " + s.rounds.back().checkpoint +
                                                " cannot be read");
                        report(self, "resumed after round " + std::to_string(s.rounds.back().round));
                        open_round(self, s.rounds.back().round + 1);
                      });
                },
                [self](const caf::error& error) { fail(self, error_text(self->system(), error)); });
      },
      [self](answered_atom, const teacher_reply& reply) {
        auto& s = self->state;
        auto found = s.tallies.find(reply.round);
        auto& tally = found == s.tallies.end() ? current(s) : found->second;
        --tally.outstanding;
        ++s.teacher_done;
        const auto tokens = reply.usage.prompt_tokens + reply.usage.completion_tokens;
        s.teacher_tokens += tokens;
        s.teacher_cost += reply.usage.cost_usd;
        auto& record = tally.record;
        record.teacher_tokens += tokens;
        record.teacher_cost_usd += reply.usage.cost_usd;
        record.teacher_rationales += reply.rationales.size();
        if (!reply.ok()) {
          if (reply.error.find("budget") == std::string::npos)
            return fail(self, "teacher: " + reply.error);
          if (!s.teacher_exhausted)
            report(self, "teacher: " + reply.error + "; training goes on with what it has");
          s.teacher_exhausted = true;
        }
        if (due(s))
          report(self, "teacher answered " + std::to_string(s.teacher_done) + " requests");
        maybe_start_round_training(self);
        maybe_end_round(self);
      },
      [self](graded_atom, std::uint32_t round, std::uint64_t answered, std::uint64_t wrong, std::uint64_t mistakes,
             std::uint64_t requests) {
        auto& s = self->state;
        auto found = s.tallies.find(round);
        if (found == s.tallies.end())
          return fail(self, "an exam of round " + std::to_string(round) + " was graded, which has no exam running");
        auto& tally = found->second;
        tally.exam_answers_graded += answered;
        tally.record.wrong_answers += wrong;
        tally.record.mistakes += mistakes;
        tally.record.teacher_requests += requests;
        tally.outstanding += static_cast<std::int64_t>(requests);
        if (tally.exam_done || tally.exam_answers_graded < tally.exam_answers_expected)
          return;
        tally.exam_done = true;
        if (!continuous(s))
          s.phase = tailored(s) ? run_phase::tailored_feedback : run_phase::chain_of_thought;
        report(self, "round " + std::to_string(round) + ": " + std::to_string(tally.record.mistakes) +
                         " mistakes; " + std::to_string(std::max<std::int64_t>(0, tally.outstanding)) +
                         " teacher answers pending");
        maybe_start_round_training(self);
        maybe_end_round(self);
      },
      [self](exam_atom, std::uint32_t, std::uint64_t questions, std::uint64_t) {
        if (due(self->state))
          report(self, "exam: " + std::to_string(questions) + " more questions answered");
      },
      [self](metrics_atom, const training_metrics& m) {
        auto& s = self->state;
        s.last_metrics = m;
        const auto elapsed = std::chrono::duration<double>(clock_type::now() - s.started).count();
        s.metrics->append(m, elapsed);
        auto& t = current(s);
        const double keep = t.steps_seen == 0 ? 0.0 : 0.95;
        t.loss = keep * t.loss + (1 - keep) * m.total_loss;
        t.triplet_loss = keep * t.triplet_loss + (1 - keep) * m.triplet_loss;
        ++t.steps_seen;
        if (due(s))
          report(self, "round " + std::to_string(s.round) + ": training", t.steps_seen, t.record.steps);
      },
      [self](snapshot_atom, const weights_snapshot& snapshot, std::uint32_t round, bool round_end) {
        auto& s = self->state;
        s.newest = snapshot;
        self->send(s.student, snapshot_atom::value, snapshot);
        if (!round_end) {
          ++s.tallies[round].checkpoints;
          return maybe_start_next_exam(self);
        }
        s.round_end_pending = coordinator_state::round_end{snapshot, round};
        maybe_end_round(self);
      },
      [self](eval_atom, std::uint32_t round, double accuracy, std::uint64_t version) {
        close_round(self, round, accuracy, version);
      },
      [self](stop_atom) { finish(self, run_phase::cancelled, "cancelled"); },
  };
}

} // namespace

caf::actor spawn_run(caf::actor_system& system, run_spec spec, caf::actor listener) {
  return system.spawn(run_coordinator, std::move(spec), std::move(listener));
}

} // namespace tailor

// The coordinator's rounds, in the order they live: teacher work, training, round end, evaluation, close.
#include "actors/run_coordinator_rounds.hpp"

#include "io/store/mistake_records.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace tailor::coordination {
namespace {

namespace fs = std::filesystem;

// Whether round `round` trains from the moment it opens, while its teacher work goes on: round 1 in
// continuous mode (its first pass waits for each batch's answers anyway), and the later rounds of continuous
// mode when the config does not have them wait for their corrections. Otherwise a round trains once its
// teacher work is answered, as in round mode.
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

std::vector<example> sample_questions(std::mt19937_64& rng, const std::vector<example>& pool,
                                      std::uint32_t count) {
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

// How often round 1's batches are batches of its pass over the first rationales: each one (the pass first),
// or, spread, evenly over the round's steps.
std::uint32_t first_pass_every(const run_config& c, std::size_t asked, std::size_t train_size) {
  if (!c.reflection.spread_first_pass)
    return 1;
  const auto batch = std::max<std::uint32_t>(1, c.optimizer.batch_size);
  const auto pass_batches = std::max<std::uint64_t>(1, (asked + batch - 1) / batch);
  return static_cast<std::uint32_t>(
      std::max<std::uint64_t>(1, steps_of_round(c, 1, train_size) / pass_batches));
}

// The round's teacher work is answered: round 1's chains of thought, or a later round's exam and the requests
// it led to (feedback on mistakes, or the ablation's random questions).
bool teacher_work_done(const coordinator_state& s, std::uint32_t round) {
  auto found = s.tallies.find(round);
  return found != s.tallies.end() && found->second.outstanding <= 0 &&
         (round == 1 || found->second.exam_done);
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
  // feedback requests they make, are the ones already paid for and cached (round k+1's exam was the k-th
  // pass).
  self->send(s.student, exam_atom::value, std::move(questions), c.seed * 1000003 + (round - 1), round);
}

} // namespace

void start_teacher_work(coordinator_actor* self, std::uint32_t round) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  auto& tally = s.tallies[round];
  tally = {};
  tally.record.round = round;
  std::seed_seq round_seed{static_cast<std::uint32_t>(c.seed), static_cast<std::uint32_t>(c.seed >> 32),
                           round};
  tally.rng.seed(round_seed);
  // A round begun again after a resume records its mistakes again, as it asks the teacher about them again.
  if (!c.output_dir.empty())
    if (auto cleared = clear_mistakes(c.output_dir, round); !cleared)
      return fail(self, cleared.error().message);
  if (round > 1) {
    start_exam_pass(self, tally);
    report(self, "round " + std::to_string(round) + ": exam on " +
                     std::to_string(tally.record.exam_questions) + " training questions");
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
  report(self,
         "round 1: the teacher writes rationales for " + std::to_string(questions.size()) + " questions");
}

void maybe_start_next_exam(coordinator_actor* self) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  const auto* tally = current_if_any(s);
  if (!continuous(s) || c.exam_lead_checkpoints == 0 || !tally || s.round >= c.rounds ||
      s.tallies.contains(s.round + 1))
    return;
  const auto every = c.checkpoint_every_steps;
  const std::uint64_t before_end =
      every == 0 || tally->record.steps == 0 ? 0 : (tally->record.steps - 1) / every;
  if (tally->checkpoints + c.exam_lead_checkpoints < before_end + 1)
    return;
  start_teacher_work(self, s.round + 1);
}

void start_training(coordinator_actor* self) {
  auto& s = self->state;
  const auto& c = s.spec.config;
  s.phase = continuous(s) ? run_phase::pipeline : run_phase::training;
  current(s).training = true;
  const double lr = s.round > 1 && c.optimizer.later_rounds_learning_rate > 0
                        ? c.optimizer.later_rounds_learning_rate
                        : c.optimizer.learning_rate;
  const auto steps = steps_of_round(c, s.round, s.data.train.size());
  current(s).record.steps = steps;
  self->send(s.trainer, train_atom::value, s.round, steps, lr,
             continuous(s) ? std::uint64_t{c.checkpoint_every_steps} : std::uint64_t{0});
  report(self, "round " + std::to_string(s.round) + ": training " + std::to_string(steps) + " steps", 0,
         steps);
  maybe_start_next_exam(self);
}

void maybe_start_round_training(coordinator_actor* self) {
  auto& s = self->state;
  const auto* tally = current_if_any(s);
  if (!tally || tally->training || trains_at_open(s, s.round) || !teacher_work_done(s, s.round))
    return;
  start_training(self);
}

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
    report(self, "round " + std::to_string(round) +
                     ": training starts once the exam is graded and the teacher has answered");
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
  char text[256];
  int length = std::snprintf(text, sizeof text,
                             "round %u: held-out accuracy %.1f%%, %llu mistakes, %llu teacher requests", r.round,
                             100.0 * accuracy, static_cast<unsigned long long>(r.mistakes),
                             static_cast<unsigned long long>(r.teacher_requests));
  // A share of kept replies that falls says that a prompt or a teacher model does not fit the task.
  if (r.teacher_replies > 0 && length > 0 && static_cast<std::size_t>(length) < sizeof text)
    length += std::snprintf(text + length, sizeof text - length, "; teacher replies kept: %.0f%%",
                            100.0 * static_cast<double>(r.teacher_replies_kept) /
                                static_cast<double>(r.teacher_replies));
  if (r.teacher_failed > 0 && length > 0 && static_cast<std::size_t>(length) < sizeof text)
    std::snprintf(text + length, sizeof text - length, "; %llu failed",
                  static_cast<unsigned long long>(r.teacher_failed));
  report(self, text);
  if (r.round >= s.spec.config.rounds)
    return finish(self, run_phase::finished, "finished: " + std::to_string(s.rounds.size()) + " rounds");
  if (!continuous(s))
    open_round(self, r.round + 1);
}

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
        auto questions =
            sample_questions(s.tallies[round].rng, s.data.test, s.spec.config.exam.eval_questions);
        report(self, "round " + std::to_string(round) + ": trained; evaluating on " +
                         std::to_string(questions.size()) + " held-out questions");
        self->send(s.student, eval_atom::value, std::move(questions), snapshot, round);
        // Continuous mode trains on while the round is evaluated.
        if (continuous(s) && round < s.spec.config.rounds)
          open_round(self, round + 1);
      });
}

} // namespace tailor::coordination

// run_coordinator: owns one run. Prepares data, teacher and student, spawns and monitors the loop's five
// actors, drives round mode (barriers) or continuous mode (pipeline), and writes the run directory.
// Here its behaviour (what each message does); its rounds' life cycle is in run_coordinator_rounds.cpp.
#include "actors/gpu_trainer.hpp"
#include "actors/mistake_collector.hpp"
#include "actors/reflection_builder.hpp"
#include "actors/run.hpp"
#include "actors/run_coordinator_rounds.hpp"
#include "actors/run_coordinator_state.hpp"
#include "actors/shared_ranks.hpp"
#include "actors/student_inference.hpp"
#include "actors/teacher_client.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <string>

namespace tailor {
namespace coordination {
namespace {

namespace fs = std::filesystem;

// The message an actor of the run failed with: its own text when it gave one, else CAF's rendering.
std::string error_text(caf::actor_system& system, const caf::error& error) {
  const auto& context = error.context();
  if (context.match_elements<std::string>())
    return context.get_as<std::string>(0);
  return system.render(error);
}

// What to check when the endpoint refuses every request alike.
std::string fatal_teacher_hint(const std::string& error) {
  if (error.find("HTTP 401") != std::string::npos || error.find("HTTP 403") != std::string::npos)
    return " (check the API key in the variable teacher.api_key_env names, and the account's access)";
  if (error.find("HTTP 404") != std::string::npos)
    return " (check teacher.base_url and teacher.model)";
  return "";
}

// Counts one request that failed after all its tries; false when that makes the failures systematic and
// the run has stopped.
bool count_teacher_failure(coordinator_actor* self, const teacher_reply& reply) {
  auto& s = self->state;
  ++s.teacher_failed;
  if (!s.teacher_failures.add(true))
    return true;
  const auto& t = s.spec.config.teacher;
  fail(self, "teacher: " + std::to_string(s.teacher_failures.failed()) + " of the last " +
                 std::to_string(s.teacher_failures.seen()) +
                 " requests failed after all their tries, more than teacher.max_failed_share (" +
                 std::to_string(static_cast<int>(t.max_failed_share * 100 + 0.5)) +
                 "%) allows; the last: " + reply.error +
                 ". The endpoint fails more than a bad hour explains: check it, then run the same command "
                 "again to resume (answers so far are cached; raise teacher.max_failed_share to bear more)");
  return false;
}

caf::behavior run_coordinator(coordinator_actor* self, run_spec spec, caf::actor listener) {
  auto& s = self->state;
  s.spec = std::move(spec);
  s.listener = std::move(listener);
  self->set_down_handler([self](const caf::down_msg& down) {
    if (self->state.final)
      return;
    fail(self,
         down.reason ? error_text(self->system(), down.reason) : "an actor of the run stopped unexpectedly");
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
        s.metrics = std::make_unique<metrics_log>(fs::path{s.spec.config.output_dir} / "metrics.jsonl",
                                                  journaled_steps);
        const auto& c = s.spec.config;
        auto self_handle = caf::actor_cast<caf::actor>(self);
        s.builder = spawn_reflection_builder(self->system(), s.data.index,
                                             {.pools = {.max_positives = c.reflection.max_positives,
                                                        .max_negatives = c.reflection.max_negatives,
                                                        .triplets = tailored(s) && c.loss.lambda > 0,
                                                        .demos = c.prompts.demos},
                                              .fresh_share = c.reflection.fresh_share,
                                              .seed = c.seed});
        s.teacher_failures = failure_window{c.teacher.failure_window, c.teacher.max_failed_share};
        s.teacher_client = spawn_teacher_client(self->system(), s.teacher, s.builder, self_handle,
                                                std::chrono::milliseconds{c.teacher.failed_request_retry_ms},
                                                c.output_dir);
        s.collector = spawn_mistake_collector(self->system(), s.data.index,
                                              {.max_negatives = c.reflection.max_negatives,
                                               .tailored = tailored(s),
                                               .requests_per_pass = c.teacher.requests_per_round,
                                               .feedback_samples = c.teacher.tailored_feedback_samples,
                                               .order = c.teacher.mistake_order,
                                               .sampling = c.teacher.sampling,
                                               .ask_after_pass = !continuous(s),
                                               .output_dir = c.output_dir},
                                              s.builder, s.teacher_client, self_handle);
        // The trainer starts the data-parallel ranks (nproc > 1); the exam shares them.
        auto ranks = std::make_shared<shared_ranks>();
        s.student = spawn_student_inference(self->system(), c, s.collector, self_handle, s.spec.devices, ranks);
        s.trainer = spawn_gpu_trainer(self->system(), c, s.data.index, s.builder, self_handle, s.spec.devices,
                                      ranks);
        for (const auto& a :
             {caf::actor_cast<caf::actor>(s.builder), caf::actor_cast<caf::actor>(s.teacher_client),
              caf::actor_cast<caf::actor>(s.collector), caf::actor_cast<caf::actor>(s.student),
              caf::actor_cast<caf::actor>(s.trainer)})
          self->monitor(a);
        if (!s.rounds.empty() && s.rounds.back().round >= c.rounds)
          return finish(self, run_phase::finished,
                        "finished earlier: " + std::to_string(s.rounds.size()) + " rounds");
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
        record.teacher_replies += reply.replies_read;
        record.teacher_replies_kept += reply.replies_kept;
        auto& spend = record.teachers[reply.teacher];
        ++(reply.ok() ? spend.requests : spend.failed);
        spend.tokens += tokens;
        spend.cost_usd += reply.usage.cost_usd;
        switch (reply.failure) {
        case teacher_failure::none:
          s.teacher_failures.add(false);
          break;
        case teacher_failure::budget:
          if (!s.teacher_exhausted)
            report(self, "teacher: " + reply.error + "; training goes on with what it has");
          s.teacher_exhausted = true;
          break;
        case teacher_failure::transient:
        case teacher_failure::rejected:
          ++record.teacher_failed;
          if (!count_teacher_failure(self, reply))
            return;
          report(self, "teacher: the request about " + reply.example_id + " failed (" + reply.error +
                           "); the round goes on without it");
          break;
        case teacher_failure::fatal:
        case teacher_failure::cancelled:
          return fail(self, "teacher: " + reply.error + fatal_teacher_hint(reply.error));
        }
        if (due(s))
          report(self, "teacher answered " + std::to_string(s.teacher_done) + " requests");
        maybe_start_round_training(self);
        maybe_end_round(self);
      },
      [self](retrying_atom, const teacher_reply& reply) {
        auto found = self->state.tallies.find(reply.round);
        auto& record = (found == self->state.tallies.end() ? current(self->state) : found->second).record;
        ++record.teacher_failed;
        ++record.teachers[reply.teacher].failed;
        if (!count_teacher_failure(self, reply))
          return;
        report(self, "teacher: the request about " + reply.example_id + " failed (" + reply.error +
                         "); asking again later");
      },
      [self](graded_atom, std::uint32_t round, std::uint64_t answered, std::uint64_t wrong,
             std::uint64_t mistakes, std::uint64_t requests) {
        auto& s = self->state;
        auto found = s.tallies.find(round);
        if (found == s.tallies.end())
          return fail(self,
                      "an exam of round " + std::to_string(round) + " was graded, which has no exam running");
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
} // namespace coordination

caf::actor spawn_run(caf::actor_system& system, run_spec spec, caf::actor listener) {
  return system.spawn(coordination::run_coordinator, std::move(spec), std::move(listener));
}

} // namespace tailor

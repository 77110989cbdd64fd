#include "actors/mistake_collector.hpp"

#include "io/loop/feedback_picker.hpp"
#include "io/loop/reflection_pools.hpp"
#include "io/store/mistake_records.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

namespace tailor {
namespace {

struct collector_state {
  example_index problems;
  mistake_collector_options options;
  reflection_builder_actor builder;
  teacher_client_actor teacher;
  caf::actor coordinator;
  std::unordered_map<std::string, std::vector<std::string>> seen; // wrong rationales kept per question
  std::unordered_map<std::uint32_t, feedback_picker> pickers;      // per exam pass
  std::unordered_map<std::uint32_t, std::deque<example>> stand_ins; // the ablation's, per exam pass
  std::unordered_map<std::uint32_t, std::vector<graded_answer>> held; // picked, not asked yet (ask_after_pass)
  std::unordered_map<std::uint32_t, std::vector<exam_outcome>> outcomes; // per exam pass, in order asked
  std::unordered_map<std::uint32_t, std::unordered_map<std::string, std::size_t>> outcome_at; // id -> index
};

using collector_pointer = mistake_collector_actor::stateful_pointer<collector_state>;

// A problem writing the run's records stops the collector, and the coordinator, which monitors it, the run.
bool recorded(collector_pointer self, const status& written) {
  if (!written)
    self->quit(caf::make_error(caf::sec::runtime_error, "mistake_collector: " + written.error().message));
  return written.ok();
}

void count_outcomes(collector_state& s, const std::vector<graded_answer>& answers, std::uint32_t pass) {
  auto& outcomes = s.outcomes[pass];
  auto& at = s.outcome_at[pass];
  for (const auto& answer : answers) {
    auto [found, fresh] = at.try_emplace(answer.example_id, outcomes.size());
    if (fresh)
      outcomes.push_back({answer.example_id});
    ++outcomes[found->second].answers;
    outcomes[found->second].right += answer.correct ? 1 : 0;
  }
}

// `pass` is the round whose exam graded the answer: the reply is that round's training data.
void ask_for_feedback(collector_state& s, const graded_answer& answer, std::uint32_t pass) {
  caf::anon_send(s.teacher, teach_atom::value,
                 tailored_feedback_request(s.problems->at(answer.example_id), answer.reasoning,
                                           answer.extracted_answer, answer.weights_version,
                                           s.options.feedback_samples, s.options.sampling, pass));
}

// The ablation's request where the method would send `ask_for_feedback`: rationales for a random question.
bool ask_about_stand_in(collector_state& s, std::uint32_t pass) {
  auto& waiting = s.stand_ins[pass];
  if (waiting.empty())
    return false;
  caf::anon_send(s.teacher, teach_atom::value,
                 chain_of_thought_request(std::move(waiting.front()), s.options.feedback_samples,
                                          s.options.sampling, pass));
  waiting.pop_front();
  return true;
}

mistake_collector_actor::behavior_type
mistake_collector(collector_pointer self, example_index problems,
                  mistake_collector_options options, reflection_builder_actor builder,
                  teacher_client_actor teacher, caf::actor coordinator) {
  auto& s = self->state;
  s.problems = std::move(problems);
  s.options = options;
  s.builder = std::move(builder);
  s.teacher = std::move(teacher);
  s.coordinator = std::move(coordinator);
  return {
      [self](graded_atom, const std::vector<graded_answer>& answers, std::uint32_t pass, bool pass_over) {
        auto& s = self->state;
        std::uint64_t wrong = 0, fresh = 0;
        std::unordered_set<std::string> answered_right;
        std::vector<graded_answer> mistakes; // the first new wrong rationale of each question
        std::unordered_set<std::string> in_mistakes;
        for (const auto& answer : answers) {
          if (answer.correct) {
            answered_right.insert(answer.example_id);
            continue;
          }
          ++wrong;
          if (!s.problems->contains(answer.example_id))
            continue;
          auto text = collapse_whitespace(answer.reasoning.text);
          if (text.empty())
            continue;
          // A wrong rationale seen before was answered before: the teacher would say the same again.
          auto& kept = s.seen[answer.example_id];
          if (std::find(kept.begin(), kept.end(), text) != kept.end())
            continue;
          kept.push_back(text);
          ++fresh;
          if (kept.size() <= s.options.max_negatives)
            self->send(s.builder, negative_atom::value, answer.example_id, text, pass);
          if (in_mistakes.insert(answer.example_id).second)
            mistakes.push_back(answer);
        }
        auto& picker = s.pickers.try_emplace(pass, s.options.requests_per_pass, s.options.order).first->second;
        auto now = picker.take(mistakes, answered_right);
        if (s.options.ask_after_pass) {
          auto& held = s.held[pass];
          held.insert(held.end(), now.begin(), now.end());
          now.clear();
          if (pass_over) {
            now = std::move(held);
            s.held.erase(pass);
          }
        }
        if (pass_over) {
          auto rest = picker.finish();
          now.insert(now.end(), rest.begin(), rest.end());
        }
        std::uint64_t requests = 0;
        const bool keeps_records = !s.options.output_dir.empty();
        for (const auto& m : now) {
          if (s.options.tailored) {
            ask_for_feedback(s, m, pass);
          } else {
            if (!ask_about_stand_in(s, pass))
              break;
            // The teacher client records the method's mistakes with their answers; the ablation's own go
            // unanswered, and only here is the mistake at hand.
            if (keeps_records &&
                !recorded(self, append_mistake(s.options.output_dir, pass,
                                               unasked_mistake_of(s.problems->at(m.example_id), m))))
              return;
          }
          ++requests;
        }
        if (keeps_records)
          count_outcomes(s, answers, pass);
        if (pass_over) {
          s.pickers.erase(pass);
          s.stand_ins.erase(pass);
          if (keeps_records && !recorded(self, write_exam_outcomes(s.options.output_dir, pass, s.outcomes[pass])))
            return;
          s.outcomes.erase(pass);
          s.outcome_at.erase(pass);
        }
        caf::anon_send(s.coordinator, graded_atom::value, pass, static_cast<std::uint64_t>(answers.size()), wrong,
                       fresh, requests);
      },
      [self](stand_in_atom, std::uint32_t pass, const std::vector<example>& questions) {
        auto& waiting = self->state.stand_ins[pass];
        waiting.insert(waiting.end(), questions.begin(), questions.end());
      },
  };
}

} // namespace

mistake_collector_actor spawn_mistake_collector(caf::actor_system& system, example_index problems,
                                                mistake_collector_options options,
                                                reflection_builder_actor builder,
                                                teacher_client_actor teacher, caf::actor coordinator) {
  return system.spawn(mistake_collector, std::move(problems), options, std::move(builder), std::move(teacher),
                      std::move(coordinator));
}

} // namespace tailor

// The conversation with the teacher: what we ask it for, and what comes back (rationales, usage, cost).
#pragma once

#include "messages/example.hpp"
#include "messages/grading.hpp"
#include "messages/rationale.hpp"

#include <caf/meta/type_name.hpp>
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tailor {

// Sampling settings of a chat completion; part of the teacher cache's key.
struct sampling_params {
  double temperature = 0.7; // > 0 so that several samples of one question differ (positives need that)
  double top_p = 1.0;
  std::uint32_t max_tokens = 512;

  friend bool operator==(const sampling_params&, const sampling_params&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sampling_params& x) {
  return f(caf::meta::type_name("sampling_params"), x.temperature, x.top_p, x.max_tokens);
}

// chain_of_thought: "solve this step by step" (round 1); tailored_feedback: "here is the student's wrong
// attempt and the right answer; say where it went wrong and write a correct rationale" (rounds 2+).
enum class teacher_request_kind : std::uint8_t { chain_of_thought, tailored_feedback };

template <>
struct enum_names<teacher_request_kind> {
  static constexpr std::array<std::string_view, 2> values = {"chain_of_thought", "tailored_feedback"};
};

struct teacher_request {
  // The whole example rather than its id: the client builds the prompt from the question and checks replies
  // against gold without needing the dataset (it may run on another node).
  example problem;
  teacher_request_kind kind = teacher_request_kind::chain_of_thought;
  // Meaningful only when kind == tailored_feedback. `kind` is the flag: CAF 0.17 cannot serialize
  // std::optional, so an empty mistake travels with chain-of-thought requests.
  mistake student_mistake;
  std::uint32_t samples = 1; // n: rationales wanted in one completion call
  sampling_params sampling;
  // The round whose training the answer is for: 1 for the first chain of thought, r for the mistakes of
  // round r's exam (or the ablation's questions in their place). Not part of the prompt or the cache key.
  std::uint32_t round = 1;

  friend bool operator==(const teacher_request&, const teacher_request&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, teacher_request& x) {
  return f(caf::meta::type_name("teacher_request"), x.problem, x.kind, x.student_mistake, x.samples,
           x.sampling, x.round);
}

// "Solve this step by step": round 1's requests, and the ablation's for its random questions later.
inline teacher_request chain_of_thought_request(example problem, std::uint32_t samples, sampling_params sampling,
                                                std::uint32_t round) {
  teacher_request request;
  request.problem = std::move(problem);
  request.kind = teacher_request_kind::chain_of_thought;
  request.samples = std::max<std::uint32_t>(1, samples);
  request.sampling = sampling;
  request.round = round;
  return request;
}

// "Here is the student's wrong attempt": a mistake of round `round`'s exam sent back for tailored feedback.
inline teacher_request tailored_feedback_request(example problem, rationale wrong_rationale,
                                                 std::string extracted_answer, std::uint64_t weights_version,
                                                 std::uint32_t samples, sampling_params sampling,
                                                 std::uint32_t round) {
  teacher_request request;
  request.kind = teacher_request_kind::tailored_feedback;
  request.student_mistake = {.example_id = problem.id,
                             .question = problem.question,
                             .gold_answer = problem.answer,
                             .wrong_rationale = std::move(wrong_rationale),
                             .extracted_answer = std::move(extracted_answer),
                             .weights_version = weights_version};
  request.problem = std::move(problem);
  request.samples = std::max<std::uint32_t>(1, samples);
  request.sampling = sampling;
  request.round = round;
  return request;
}

struct token_usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  double cost_usd = 0; // at the run's configured prices; 0 for cache hits, which cost nothing again

  friend bool operator==(const token_usage&, const token_usage&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_usage& x) {
  return f(caf::meta::type_name("token_usage"), x.prompt_tokens, x.completion_tokens, x.cost_usd);
}

// Why a teacher request failed, which decides what the run does next: a `transient` one (its tries ran out
// on 429s, 5xx, timeouts or garbled bodies) is asked again later and then skipped; a `rejected` one (a 4xx
// about this request alone) is skipped; `budget` ends the asking; `fatal` (a wrong key, an unknown model or
// URL, a cache that cannot store) and `cancelled` end the run.
enum class teacher_failure : std::uint8_t { none, transient, rejected, budget, fatal, cancelled };

template <>
struct enum_names<teacher_failure> {
  static constexpr std::array<std::string_view, 6> values = {"none",   "transient", "rejected",
                                                             "budget", "fatal",     "cancelled"};
};

struct teacher_reply {
  std::string example_id;
  teacher_request_kind kind = teacher_request_kind::chain_of_thought; // echoed from the request
  std::vector<rationale> rationales; // source teacher or teacher_tailored; empty on failure
  token_usage usage;
  bool from_cache = false;
  std::string error; // empty on success; else what failed, e.g. "budget of 5.00 USD spent" or "HTTP 429"
  teacher_failure failure = teacher_failure::none; // set with `error`
  // Choices the teacher returned, and how many of them were answer-correct (before repeats are dropped): a
  // share that falls says a prompt or a model does not fit the task.
  std::uint32_t replies_read = 0;
  std::uint32_t replies_kept = 0;
  std::string teacher; // which of the run's teachers answered (or failed last): "teacher" or a name of `teachers`
  std::uint32_t round = 1; // echoed from the request
  // Of the student's answer a tailored feedback corrects (the exam's snapshot); 0 for a chain of thought.
  std::uint64_t weights_version = 0;
  // A tailored feedback's "Feedback:" section (where the student went wrong), of the first answer-correct
  // choice; empty for a chain of thought or when no choice had one. For the run's mistake records.
  std::string feedback;

  bool ok() const { return error.empty(); }

  friend bool operator==(const teacher_reply&, const teacher_reply&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, teacher_reply& x) {
  return f(caf::meta::type_name("teacher_reply"), x.example_id, x.kind, x.rationales, x.usage, x.from_cache,
           x.error, x.failure, x.replies_read, x.replies_kept, x.teacher, x.round, x.weights_version, x.feedback);
}

} // namespace tailor

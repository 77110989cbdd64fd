#include "io/teacher/teacher_exchange.hpp"

namespace tailor {
namespace {

teacher_failure failure_of(problem_cause cause) {
  switch (cause) {
  case problem_cause::transient:
    return teacher_failure::transient;
  case problem_cause::rejected:
    return teacher_failure::rejected;
  case problem_cause::budget:
    return teacher_failure::budget;
  case problem_cause::cancelled:
    return teacher_failure::cancelled;
  case problem_cause::fatal:
    break;
  }
  return teacher_failure::fatal;
}

} // namespace

chat_request to_chat_request(const teacher_request& request, const teacher_exchange_options& options) {
  teacher_request_options sampling{.model = options.model,
                                   .temperature = request.sampling.temperature,
                                   .max_tokens = static_cast<int>(request.sampling.max_tokens),
                                   .samples = static_cast<int>(std::max<std::uint32_t>(1, request.samples))};
  auto chat = request.kind == teacher_request_kind::tailored_feedback
                  ? feedback_request(request.problem, request.student_mistake.wrong_rationale.text, sampling,
                                     options.templates)
                  : cot_request(request.problem, sampling, options.templates);
  chat.top_p = request.sampling.top_p;
  return chat;
}

teacher_reply to_teacher_reply(const teacher_request& request, const result<chat_response>& answer,
                                       const teacher_exchange_options& options) {
  teacher_reply reply;
  reply.example_id = request.problem.id;
  reply.kind = request.kind;
  reply.round = request.round;
  if (request.kind == teacher_request_kind::tailored_feedback)
    reply.weights_version = request.student_mistake.weights_version;
  if (!answer) {
    reply.error = answer.error().message;
    reply.failure = failure_of(answer.error().cause);
    return reply;
  }
  const auto& response = answer.value();
  reply.usage.prompt_tokens = static_cast<std::uint64_t>(std::max<std::int64_t>(0, response.usage.prompt_tokens));
  reply.usage.completion_tokens =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, response.usage.completion_tokens));
  reply.usage.cost_usd = options.prices.cost_usd(response.usage);
  reply.from_cache = response.usage.prompt_tokens == 0 && response.usage.completion_tokens == 0;
  const auto source = request.kind == teacher_request_kind::tailored_feedback ? rationale_source::teacher_tailored
                                                                              : rationale_source::teacher;
  reply.replies_read = static_cast<std::uint32_t>(response.choices.size());
  for (const auto& choice : response.choices) {
    const auto parsed = parse_teacher_reply(choice, request.problem.task, request.problem.question);
    if (!is_answer_correct(parsed, request.problem))
      continue;
    ++reply.replies_kept;
    if (request.kind == teacher_request_kind::tailored_feedback && reply.feedback.empty())
      reply.feedback = parsed.feedback;
  }
  for (auto& text : kept_rationales(response, request.problem))
    reply.rationales.push_back({.text = std::move(text), .source = source, .tokens = 0});
  return reply;
}

} // namespace tailor

// Between the loop's teacher messages and a chat endpoint: a teacher_request becomes a chat request, and
// the endpoint's answer becomes a teacher_reply holding only the answer-correct rationales.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"
#include "io/teacher/teacher_budget.hpp"
#include "io/teacher/teacher_prompts.hpp"
#include "messages/teacher.hpp"

namespace tailor {

struct teacher_exchange_options {
  std::string model;         // sent as the request's model
  prompt_templates templates = default_prompt_templates();
  teacher_prices prices;     // to price what each reply cost
};

// A chain-of-thought request or, for tailored feedback, one showing the student's wrong rationale.
chat_request to_chat_request(const teacher_request& request, const teacher_exchange_options& options);

// The reply the loop sees: answer-correct rationales (source teacher, or teacher_tailored for feedback),
// usage and cost. A failed request becomes a reply with `error` set and no rationales. Usage of zero tokens
// means every sample came from the answer cache.
teacher_reply to_teacher_reply(const teacher_request& request, const result<chat_response>& answer,
                                       const teacher_exchange_options& options);

} // namespace tailor

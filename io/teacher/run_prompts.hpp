// A run config's `prompts` section as the teacher's prompt templates.
#pragma once

#include "io/common/result.hpp"
#include "io/teacher/teacher_prompts.hpp"
#include "messages/run_config.hpp"

#include <string>
#include <vector>

namespace tailor {

// The teacher's prompt texts of a run: the built-in ones where `prompts` leaves a text empty. A problem
// names the key at fault: "prompts.cot_user: lacks {question}".
result<prompt_templates> prompt_templates_of(const prompt_config& prompts);

// Each text `prompts` sets, checked on its own, so that every faulty one is named (as above).
std::vector<std::string> prompt_problems(const prompt_config& prompts);

} // namespace tailor

// A conservative count of the tokens a text costs on the teacher, without the teacher's tokenizer.
#pragma once

#include "io/teacher/chat.hpp"

#include <cstdint>
#include <string_view>

namespace tailor {

// Errs high for English and math text on OpenAI-style BPE tokenizers, whose tokens are about four letters of
// English and up to three digits: a run of ASCII letters counts ceil(length / 4) tokens, each group of up to
// three consecutive digits one, a newline one, other whitespace none, and every other character (a UTF-8 code
// point: punctuation, symbols, letters outside ASCII) one. One function so that a real tokenizer can take its
// place.
std::uint64_t estimated_tokens(std::string_view text);

// What the chat format adds around each message's role and content (OpenAI's counts 3 or 4 a message).
inline constexpr std::uint64_t tokens_per_chat_message = 4;

// The prompt tokens of `request`: each message's role and content, and its overhead.
std::uint64_t estimated_prompt_tokens(const chat_request& request);

} // namespace tailor

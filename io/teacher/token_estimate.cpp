// A conservative count of the tokens a text costs on the teacher (io/teacher/token_estimate.hpp).
#include "io/teacher/token_estimate.hpp"

namespace tailor {
namespace {

bool is_letter(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
// The bytes after the first of one UTF-8 code point: they belong to the character already counted.
bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// The end of the run of characters from `begin` that `belongs` accepts.
template <class Predicate>
std::size_t run_end(std::string_view text, std::size_t begin, Predicate belongs) {
  auto end = begin;
  while (end < text.size() && belongs(static_cast<unsigned char>(text[end])))
    ++end;
  return end;
}

} // namespace

std::uint64_t estimated_tokens(std::string_view text) {
  std::uint64_t tokens = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_letter(c)) {
      const auto end = run_end(text, i, is_letter);
      tokens += (end - i + 3) / 4;
      i = end;
    } else if (is_digit(c)) {
      const auto end = run_end(text, i, is_digit);
      tokens += (end - i + 2) / 3;
      i = end;
    } else if (is_space(c)) {
      ++i;
    } else {
      ++tokens; // a newline, or any other character
      i = run_end(text, i + 1, is_continuation);
    }
  }
  return tokens;
}

std::uint64_t estimated_prompt_tokens(const chat_request& request) {
  std::uint64_t tokens = 0;
  for (const auto& message : request.messages)
    tokens += tokens_per_chat_message + estimated_tokens(message.role) + estimated_tokens(message.content);
  return tokens;
}

} // namespace tailor

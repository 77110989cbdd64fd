// PCRE2 behind tailor's regex interface: compiled once, JIT-compiled when the platform allows, matched per
// thread.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizers/pcre2_regex.hpp"

#include "tokenizers/unicode.hpp"

#include <pcre2.h>

namespace tailor::tokenizers {

struct pcre2_regex::compiled {
  pcre2_code* code = nullptr;
  ~compiled() { pcre2_code_free(code); }
};

namespace {

// Per-thread match state: a match data block with one pair (all a search needs) and a JIT stack large enough
// for long runs of letters or spaces (the 32 KiB default overflows on them).
struct thread_match_state {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  thread_match_state() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~thread_match_state() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(data);
  }
};

thread_match_state& match_state() {
  thread_local thread_match_state state;
  return state;
}

} // namespace

result<pcre2_regex> pcre2_regex::compile(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    return problem{"regex `" + std::string{pattern} + "` does not compile at offset " +
                   std::to_string(offset) + ": " + reinterpret_cast<const char*>(message)};
  }
  pcre2_jit_compile(code,
                    PCRE2_JIT_COMPLETE); // without JIT support, pcre2_match interprets: slower, same matches
  auto shared = std::make_shared<compiled>();
  shared->code = code;
  return pcre2_regex{std::move(shared), std::string{pattern}};
}

std::vector<match_span> pcre2_regex::find_all(std::string_view subject) const {
  std::vector<match_span> matches;
  auto& state = match_state();
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  std::size_t start = 0;
  while (start <= subject.size()) {
    int found =
        pcre2_match(code_->code, text, subject.size(), start, PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (found == PCRE2_ERROR_JIT_STACKLIMIT)
      found = pcre2_match(code_->code, text, subject.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                          state.data, state.context);
    if (found < 0)
      break;
    const PCRE2_SIZE* span = pcre2_get_ovector_pointer(state.data);
    if (span[1] > span[0]) {
      matches.emplace_back(span[0], span[1]);
      start = span[1];
    } else if (span[0] < subject.size()) {
      start = span[0] + utf8_length(static_cast<unsigned char>(subject[span[0]]));
    } else {
      break;
    }
  }
  return matches;
}

std::vector<match_span> text_pattern::find_all(std::string_view subject) const {
  if (regex_)
    return regex_->find_all(subject);
  std::vector<match_span> matches;
  if (literal_.empty())
    return matches;
  for (auto at = subject.find(literal_); at != std::string_view::npos;
       at = subject.find(literal_, at + literal_.size()))
    matches.emplace_back(at, at + literal_.size());
  return matches;
}

std::string text_pattern::replace_all(std::string_view subject, std::string_view content) const {
  std::string out;
  std::size_t kept = 0;
  for (auto [start, end] : find_all(subject)) {
    out.append(subject.substr(kept, start - kept));
    out.append(content);
    kept = end;
  }
  out.append(subject.substr(kept));
  return out;
}

} // namespace tailor::tokenizers

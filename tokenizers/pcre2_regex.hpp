// A compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) and the match search tokenizers
// need.
#pragma once

#include "io/common/result.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tailor::tokenizers {

// Matching spans [start, end) in bytes.
using match_span = std::pair<std::size_t, std::size_t>;

class pcre2_regex {
public:
  // `\p{L}`, `\s`, `\w` with Unicode meanings, as Oniguruma (which Hugging Face tokenizers uses) gives them.
  static result<pcre2_regex> compile(std::string_view pattern);

  // Every non-empty, non-overlapping match from left to right. `subject` must be valid UTF-8. Thread-safe.
  std::vector<match_span> find_all(std::string_view subject) const;
  const std::string& pattern() const { return pattern_; }

private:
  struct compiled;
  pcre2_regex(std::shared_ptr<const compiled> code, std::string pattern)
      : code_(std::move(code)), pattern_(std::move(pattern)) {}
  std::shared_ptr<const compiled> code_;
  std::string pattern_;
};

// A pattern that is either a literal string or a regex, as tokenizer.json's `{"String": ...}`/`{"Regex":
// ...}`.
class text_pattern {
public:
  static text_pattern literal(std::string text) { return text_pattern{std::move(text), nullptr}; }
  static text_pattern regex(pcre2_regex compiled) {
    return text_pattern{{}, std::make_shared<pcre2_regex>(std::move(compiled))};
  }
  std::vector<match_span> find_all(std::string_view subject) const;
  // Each match replaced by `content`.
  std::string replace_all(std::string_view subject, std::string_view content) const;

private:
  text_pattern(std::string text, std::shared_ptr<pcre2_regex> compiled)
      : literal_(std::move(text)), regex_(std::move(compiled)) {}
  std::string literal_;
  std::shared_ptr<pcre2_regex> regex_;
};

} // namespace tailor::tokenizers

// Added-token extraction as HF does it: leftmost-longest matches, then single_word/lstrip/rstrip per token.
#include "tokenizers/added_tokens.hpp"

#include "tokenizers/normalizer.hpp"
#include "tokenizers/unicode.hpp"

namespace tailor::tokenizers {
namespace {

// The character before `end` (valid UTF-8).
char32_t last_character(std::string_view text, std::size_t end) {
  std::size_t start = end - 1, length = 0;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
    --start;
  return code_point_at(text, start, length);
}

// Start of the whitespace run that ends at `end` (HF's `\s*$` on the text before a token).
std::size_t whitespace_run_before(std::string_view text, std::size_t end) {
  while (end > 0) {
    std::size_t start = end - 1, length = 0;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
      --start;
    if (!is_whitespace(code_point_at(text, start, length)))
      break;
    end = start;
  }
  return end;
}

// End of the whitespace run that starts at `start` (HF's `^\s*` on the text after a token).
std::size_t whitespace_run_after(std::string_view text, std::size_t start) {
  for (std::size_t length = 0; start < text.size() && is_whitespace(code_point_at(text, start, length));
       start += length) {
  }
  return start;
}

} // namespace

void added_vocabulary::trie::insert(std::string_view pattern, int token) {
  if (pattern.empty())
    return;
  first_bytes[static_cast<unsigned char>(pattern[0])] = true;
  int at = 0;
  for (unsigned char byte : pattern) {
    int next = -1;
    for (auto [b, child] : nodes[static_cast<std::size_t>(at)].children)
      if (b == byte)
        next = child;
    if (next < 0) {
      next = static_cast<int>(nodes.size());
      nodes[static_cast<std::size_t>(at)].children.emplace_back(byte, next);
      nodes.emplace_back();
    }
    at = next;
  }
  // The first token given a pattern keeps it, as HF's matcher reports the first of equal patterns.
  if (nodes[static_cast<std::size_t>(at)].token < 0)
    nodes[static_cast<std::size_t>(at)].token = token;
}

std::pair<std::size_t, int> added_vocabulary::trie::longest_at(std::string_view text, std::size_t at) const {
  std::pair<std::size_t, int> best{0, -1};
  int node = 0;
  for (std::size_t i = at; i < text.size(); ++i) {
    int next = -1;
    for (auto [b, child] : nodes[static_cast<std::size_t>(node)].children)
      if (b == static_cast<unsigned char>(text[i]))
        next = child;
    if (next < 0)
      break;
    node = next;
    if (nodes[static_cast<std::size_t>(node)].token >= 0)
      best = {i + 1 - at, nodes[static_cast<std::size_t>(node)].token};
  }
  return best;
}

added_vocabulary::added_vocabulary(std::vector<added_token> tokens, const normalizer* normalize)
    : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const auto& token = tokens_[i];
    if (!token.normalized) {
      original_.insert(token.content, static_cast<int>(i));
      continue;
    }
    std::string pattern = token.content;
    if (normalize != nullptr)
      normalize->normalize(pattern);
    normalized_.insert(pattern, static_cast<int>(i));
  }
}

// HF's AddedVocabulary::find_matches over one segment, then the pieces between the matches.
void added_vocabulary::split_with(const trie& matcher, const text_segment& segment,
                                  std::vector<text_segment>& out) const {
  const std::string_view text = segment.text;
  const auto emit = [&](std::size_t start, std::size_t end, int id) {
    if (end > start)
      out.push_back({std::string{text.substr(start, end - start)}, id, segment.at_start && start == 0});
  };
  std::size_t kept = 0; // end of the last accepted token
  std::size_t at = 0;
  while (!matcher.empty() && at < text.size()) {
    if (!matcher.first_bytes[static_cast<unsigned char>(text[at])]) {
      ++at;
      continue;
    }
    auto [length, index] = matcher.longest_at(text, at);
    if (index < 0) {
      ++at;
      continue;
    }
    std::size_t start = at, stop = at + length;
    at = stop; // the matcher moves past every match it reports, kept or not
    const auto& token = tokens_[static_cast<std::size_t>(index)];
    if (token.single_word) {
      const bool space_before = start == 0 || !is_word_character(last_character(text, start));
      std::size_t ignored = 0;
      const bool space_after = stop == text.size() || !is_word_character(code_point_at(text, stop, ignored));
      if (!space_before || !space_after)
        continue;
    }
    if (token.lstrip)
      start = std::max(whitespace_run_before(text, start), kept);
    if (token.rstrip)
      stop = whitespace_run_after(text, stop);
    if (kept < start)
      emit(kept, start, -1);
    emit(start, stop, token.id);
    kept = stop;
    at = std::max(at, stop);
  }
  emit(kept, text.size(), -1);
}

std::vector<text_segment> added_vocabulary::split(std::string_view text, const normalizer* normalize) const {
  std::vector<text_segment> first;
  split_with(original_, {std::string{text}, -1, true}, first);
  std::vector<text_segment> out;
  out.reserve(first.size());
  for (auto& segment : first) {
    if (segment.id >= 0) {
      out.push_back(std::move(segment));
      continue;
    }
    if (normalize != nullptr)
      normalize->normalize(segment.text);
    split_with(normalized_, segment, out);
  }
  return out;
}

} // namespace tailor::tokenizers

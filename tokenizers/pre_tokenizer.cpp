// The pre-tokenizers of Hugging Face tokenizers that the supported families use, with HF's split semantics.
#include "tokenizers/pre_tokenizer.hpp"

#include "tokenizers/byte_level.hpp"
#include "tokenizers/unicode.hpp"

#include <functional>

namespace tailor::tokenizers {
namespace {

// What happens to a match (HF's SplitDelimiterBehavior).
enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct span {
  std::size_t start, end;
  bool flag; // a match before the behavior is applied; "remove it" after
};

// The whole text as alternating non-matches and matches, as HF's Pattern::find_matches returns it.
std::vector<span> cover(std::size_t length, const std::vector<match_span>& matches) {
  std::vector<span> spans;
  if (length == 0)
    return {{0, 0, false}};
  std::size_t previous = 0;
  for (auto [start, end] : matches) {
    if (previous != start)
      spans.push_back({previous, start, false});
    spans.push_back({start, end, true});
    previous = end;
  }
  if (previous != length)
    spans.push_back({previous, length, false});
  return spans;
}

std::vector<span> apply_behavior(std::vector<span> matches, split_behavior behavior) {
  std::vector<span> out;
  bool previous_match = false;
  switch (behavior) {
  case split_behavior::removed:
    return matches;
  case split_behavior::isolated:
    for (auto& s : matches)
      s.flag = false;
    return matches;
  case split_behavior::contiguous:
    for (const auto& s : matches) {
      if (s.flag == previous_match && !out.empty())
        out.back().end = s.end;
      else
        out.push_back({s.start, s.end, false});
      previous_match = s.flag;
    }
    return out;
  case split_behavior::merged_with_previous:
    for (const auto& s : matches) {
      if (s.flag && !previous_match && !out.empty())
        out.back().end = s.end;
      else
        out.push_back({s.start, s.end, false});
      previous_match = s.flag;
    }
    return out;
  case split_behavior::merged_with_next:
    for (auto s = matches.rbegin(); s != matches.rend(); ++s) {
      if (s->flag && !previous_match && !out.empty())
        out.back().start = s->start;
      else
        out.push_back({s->start, s->end, false});
      previous_match = s->flag;
    }
    return {out.rbegin(), out.rend()};
  }
  return out;
}

void split_piece(const pre_token& piece, const std::vector<match_span>& matches, bool invert,
                 split_behavior behavior, std::vector<pre_token>& out) {
  auto spans = cover(piece.text.size(), matches);
  if (invert)
    for (auto& s : spans)
      s.flag = !s.flag;
  for (const auto& s : apply_behavior(std::move(spans), behavior))
    if (!s.flag && s.end > s.start)
      out.push_back({piece.text.substr(s.start, s.end - s.start), piece.at_start && s.start == 0});
}

// Each character for which `matches` holds is a match of its own (HF's Pattern for Fn(char) -> bool).
std::vector<match_span> character_matches(std::string_view text,
                                          const std::function<bool(char32_t)>& matches) {
  std::vector<match_span> found;
  for (std::size_t at = 0, length = 0; at < text.size(); at += length)
    if (matches(code_point_at(text, at, length)))
      found.emplace_back(at, at + length);
  return found;
}

split_behavior parse_behavior(const json& spec, const std::string& path) {
  const auto name = string_field(spec, "behavior", path);
  if (name == "Removed")
    return split_behavior::removed;
  if (name == "Isolated")
    return split_behavior::isolated;
  if (name == "MergedWithPrevious")
    return split_behavior::merged_with_previous;
  if (name == "MergedWithNext")
    return split_behavior::merged_with_next;
  if (name == "Contiguous")
    return split_behavior::contiguous;
  refuse(child(path, "behavior"), "`" + name +
                                      "` is not one of Removed, Isolated, MergedWithPrevious, "
                                      "MergedWithNext, Contiguous");
}

class sequence_pre_tokenizer final : public pre_tokenizer {
public:
  explicit sequence_pre_tokenizer(std::vector<std::unique_ptr<pre_tokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<pre_token>& pieces) const override {
    for (const auto& step : steps_)
      step->pre_tokenize(pieces);
  }

private:
  std::vector<std::unique_ptr<pre_tokenizer>> steps_;
};

class split_pre_tokenizer final : public pre_tokenizer {
public:
  split_pre_tokenizer(text_pattern pattern, split_behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<pre_token>& pieces) const override {
    std::vector<pre_token> out;
    out.reserve(pieces.size() * 4);
    for (const auto& piece : pieces)
      split_piece(piece, pattern_.find_all(piece.text), invert_, behavior_, out);
    pieces.swap(out);
  }

private:
  text_pattern pattern_;
  split_behavior behavior_;
  bool invert_;
};

// Splits on characters (Digits, WhitespaceSplit).
class character_pre_tokenizer final : public pre_tokenizer {
public:
  character_pre_tokenizer(std::function<bool(char32_t)> matches, split_behavior behavior)
      : matches_(std::move(matches)), behavior_(behavior) {}
  void pre_tokenize(std::vector<pre_token>& pieces) const override {
    std::vector<pre_token> out;
    for (const auto& piece : pieces)
      split_piece(piece, character_matches(piece.text, matches_), false, behavior_, out);
    pieces.swap(out);
  }

private:
  std::function<bool(char32_t)> matches_;
  split_behavior behavior_;
};

const pcre2_regex& gpt2_regex() {
  static const pcre2_regex compiled = pcre2_regex::compile(gpt2_split_pattern).value();
  return compiled;
}

// A space before the first word (when asked), GPT-2's split (when asked), then every byte as its character.
class byte_level_pre_tokenizer final : public pre_tokenizer {
public:
  byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void pre_tokenize(std::vector<pre_token>& pieces) const override {
    std::vector<pre_token> split;
    split.reserve(pieces.size() * 4);
    for (auto& piece : pieces) {
      if (add_prefix_space_ && (piece.text.empty() || piece.text[0] != ' '))
        piece.text = " " + piece.text;
      if (use_regex_)
        split_piece(piece, gpt2_regex().find_all(piece.text), false, split_behavior::isolated, split);
      else if (!piece.text.empty())
        split.push_back(std::move(piece));
    }
    for (auto& piece : split)
      piece.text = bytes_to_byte_level(piece.text);
    pieces.swap(split);
  }

private:
  bool add_prefix_space_, use_regex_;
};

enum class prepend_scheme { always, first, never };

// Spaces become the replacement character (SentencePiece's "▁"), one is prepended, and the text is split
// before each replacement character when `split` is set.
class metaspace_pre_tokenizer final : public pre_tokenizer {
public:
  metaspace_pre_tokenizer(std::string replacement, prepend_scheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {
    std::size_t length = 0;
    replacement_character_ = code_point_at(replacement_, 0, length);
  }
  void pre_tokenize(std::vector<pre_token>& pieces) const override {
    std::vector<pre_token> out;
    const auto space = text_pattern::literal(" ");
    for (auto& piece : pieces) {
      piece.text = space.replace_all(piece.text, replacement_);
      const bool starts_with_replacement = piece.text.starts_with(replacement_);
      if (!starts_with_replacement &&
          (scheme_ == prepend_scheme::always || (scheme_ == prepend_scheme::first && piece.at_start)))
        piece.text.insert(0, replacement_);
      if (split_)
        split_piece(piece,
                    character_matches(piece.text, [this](char32_t c) { return c == replacement_character_; }),
                    false, split_behavior::merged_with_next, out);
      else if (!piece.text.empty())
        out.push_back(std::move(piece));
    }
    pieces.swap(out);
  }

private:
  std::string replacement_;
  char32_t replacement_character_ = 0;
  prepend_scheme scheme_;
  bool split_;
};

std::unique_ptr<pre_tokenizer> parse_metaspace(const json& spec, const std::string& path) {
  auto replacement = string_field(spec, "replacement", path);
  if (replacement.empty())
    refuse(child(path, "replacement"), "is empty");
  auto scheme =
      bool_field(spec, "add_prefix_space", path, true) ? prepend_scheme::always : prepend_scheme::never;
  if (spec.contains("prepend_scheme")) {
    const auto name = string_field(spec, "prepend_scheme", path);
    if (name == "always")
      scheme = prepend_scheme::always;
    else if (name == "first")
      scheme = prepend_scheme::first;
    else if (name == "never")
      scheme = prepend_scheme::never;
    else
      refuse(child(path, "prepend_scheme"), "`" + name + "` is not one of always, first, never");
  }
  return std::make_unique<metaspace_pre_tokenizer>(std::move(replacement), scheme,
                                                   bool_field(spec, "split", path, true));
}

constexpr const char* supported_pre_tokenizers = "Sequence, Split, ByteLevel, Digits, Metaspace, Whitespace, "
                                                 "WhitespaceSplit";

} // namespace

std::unique_ptr<pre_tokenizer> parse_pre_tokenizer(const json& spec, const std::string& path) {
  if (spec.is_null())
    return nullptr;
  const auto type = type_field(spec, path);
  if (type == "Sequence")
    return std::make_unique<sequence_pre_tokenizer>(
        parse_steps(spec, "pretokenizers", path, parse_pre_tokenizer));
  if (type == "Split")
    return std::make_unique<split_pre_tokenizer>(pattern_field(spec, "pattern", path),
                                                 parse_behavior(spec, path),
                                                 bool_field(spec, "invert", path, false));
  if (type == "ByteLevel")
    return std::make_unique<byte_level_pre_tokenizer>(bool_field(spec, "add_prefix_space", path, true),
                                                      bool_field(spec, "use_regex", path, true));
  if (type == "Digits")
    return std::make_unique<character_pre_tokenizer>(
        is_numeric, bool_field(spec, "individual_digits", path, false) ? split_behavior::isolated
                                                                       : split_behavior::contiguous);
  if (type == "Metaspace")
    return parse_metaspace(spec, path);
  if (type == "Whitespace") // HF: the matches of \w+|[^\w\s]+ kept, the rest removed
    return std::make_unique<split_pre_tokenizer>(
        text_pattern::regex(pcre2_regex::compile(R"(\w+|[^\w\s]+)").value()), split_behavior::removed, true);
  if (type == "WhitespaceSplit")
    return std::make_unique<character_pre_tokenizer>(is_whitespace, split_behavior::removed);
  unsupported_type(path, type, supported_pre_tokenizers);
}

} // namespace tailor::tokenizers

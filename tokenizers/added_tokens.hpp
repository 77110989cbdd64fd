// tokenizer.json's `added_tokens`: found in the text before anything else runs, each one token, never split.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::tokenizers {

class normalizer;

struct added_token {
  int id = -1;
  std::string content;
  bool single_word = false; // only where no word character touches it on either side
  bool lstrip = false;      // takes the whitespace before it
  bool rstrip = false;      // takes the whitespace after it
  bool normalized = true;   // matched in the normalized text (else in the original text, before normalizing)
  bool special = false;     // dropped by decode(skip_special)
};

// A piece of the text: an added token (`id` >= 0) or text for the rest of the pipeline (`id` == -1).
struct text_segment {
  std::string text;
  int id = -1;
  bool at_start = false; // begins the original text
};

class added_vocabulary {
public:
  added_vocabulary() = default;
  // Tokens with `normalized` are looked for in their normalized form, as HF builds its second matcher.
  added_vocabulary(std::vector<added_token> tokens, const normalizer* normalize);

  // HF's AddedVocabulary::extract_and_normalize: split on the non-normalized tokens, normalize what is left,
  // then split that on the normalized tokens. Empty pieces are dropped.
  std::vector<text_segment> split(std::string_view text, const normalizer* normalize) const;

  const std::vector<added_token>& tokens() const { return tokens_; }

private:
  // A byte trie over the patterns of one matcher; a node's `token` indexes tokens_ when a pattern ends there.
  struct trie {
    struct node {
      std::vector<std::pair<unsigned char, int>> children;
      int token = -1;
    };
    std::vector<node> nodes{1};
    bool first_bytes[256] = {};
    void insert(std::string_view pattern, int token);
    // The longest pattern starting at `at`: its length and token, or token -1.
    std::pair<std::size_t, int> longest_at(std::string_view text, std::size_t at) const;
    bool empty() const { return nodes.size() == 1; }
  };

  void split_with(const trie& matcher, const text_segment& segment, std::vector<text_segment>& out) const;

  std::vector<added_token> tokens_;
  trie original_, normalized_;
};

} // namespace tailor::tokenizers

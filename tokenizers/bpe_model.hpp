// The BPE model of tokenizer.json: a vocabulary and ranked merges that turn one pre-tokenized word into ids.
#pragma once

#include "io/common/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tailor::tokenizers {

struct bpe_options {
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  // Unknown characters as their UTF-8 bytes, tokens `<0xXX>` (SentencePiece-style BPE, Llama-2).
  bool byte_fallback = false;
  // A word that is itself in the vocabulary is one token, whatever the merges would make of it (Llama-3).
  bool ignore_merges = false;
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using vocabulary = std::unordered_map<std::string, int, string_hash, std::equal_to<>>;

class bpe_model {
public:
  // `merges` in rank order. Fails naming the merge when one of its tokens, or what it makes, is not in
  // `vocab`.
  static result<bpe_model> create(vocabulary vocab,
                                  const std::vector<std::pair<std::string, std::string>>& merges,
                                  bpe_options options);

  bpe_model(bpe_model&&) noexcept;
  bpe_model& operator=(bpe_model&&) noexcept;
  ~bpe_model();

  // Appends the ids of `word` (as HF's BPE::tokenize; characters with no token and no fallback are dropped).
  // Thread-safe: the word cache is shared behind a lock.
  void tokenize(std::string_view word, std::vector<int>& ids) const;

  int token_to_id(std::string_view token) const; // -1 when absent
  const std::string* id_to_token(int id) const;  // nullptr when absent
  int unk_id() const { return unk_id_; }
  // Highest id + 1.
  int id_limit() const { return static_cast<int>(tokens_.size()); }
  // Number of tokens (HF's vocabulary size, which is where added tokens' ids start).
  int vocab_count() const { return static_cast<int>(vocab_.size()); }

private:
  struct word_cache;
  bpe_model() = default;
  void merge_word(std::string_view word, std::vector<int>& ids) const;

  vocabulary vocab_;
  std::vector<std::string> tokens_;                               // id -> token ("" for unused ids)
  std::vector<bool> has_token_;                                   // ids that exist
  std::unordered_map<std::uint64_t, std::pair<int, int>> merges_; // (left, right) -> (rank, merged id)
  bpe_options options_;
  int unk_id_ = -1;
  std::unique_ptr<word_cache> cache_;
};

} // namespace tailor::tokenizers

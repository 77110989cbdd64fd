// The student's tokenizer: SentencePiece (`tokenizer.model`) or Hugging Face `tokenizer.json` behind one
// interface.
#pragma once

#include "io/common/result.hpp"

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::tokenizers {

// SentencePiece models keep their own ids (those tailor trains: unk 0, bos 1, eos 2). tokenizer.json ones
// take their specials from tokenizer_config.json and generation_config.json beside it when present, else from
// the post-processor's template.
class tokenizer {
public:
  // A checkpoint directory: tokenizer.json (with tokenizer_config.json and generation_config.json when
  // there), else tokenizer.model (generation_config.json adding stop ids); an error naming `dir` when neither
  // is there.
  static result<tokenizer> load_dir(const std::filesystem::path& dir);
  // One file of either kind, told apart by its name (*.json) or its first byte ('{'). A tokenizer.json picks
  // up the two config files beside it, as load_dir does.
  static result<tokenizer> load(const std::filesystem::path& file);
  static result<tokenizer> from_serialized(std::string serialized_model); // SentencePiece bytes

  tokenizer(tokenizer&&) noexcept;
  tokenizer& operator=(tokenizer&&) noexcept;
  ~tokenizer();

  // Without specials this is HF's encode(text, add_special_tokens=False). `add_bos` puts the template's
  // leading specials first (Llama-3's <|begin_of_text|>; nothing for Qwen, which has no BOS); `add_eos`
  // appends its trailing ones, or EOS when the template has none. SentencePiece: BOS / EOS as LlamaTokenizer
  // adds them.
  std::vector<int> encode(std::string_view text, bool add_bos = false, bool add_eos = false) const;
  // `skip_special` drops special tokens as HF's skip_special_tokens=True does.
  std::string decode(std::span<const int> ids, bool skip_special = true) const;

  int vocab_size() const; // highest id + 1, added tokens included
  int bos_id() const;     // -1 when there is none
  int eos_id() const;
  int unk_id() const; // -1 when there is none
  // tokenizer_config.json's pad token when it is set and is not EOS; otherwise EOS (LLaMA has no pad token),
  // which is safe because padding positions are masked out of the loss and never read.
  int pad_id() const;
  // EOS, then every id of generation_config.json's eos_token_id, each once: generation ends on any of them.
  std::vector<int> stop_ids() const;
  std::string kind() const; // "sentencepiece", "byte-level BPE" or "BPE" (SentencePiece-style tokenizer.json)
  const std::map<int, std::string>& special_tokens() const; // id -> text
  // File name -> bytes of the files as loaded, for a checkpoint writer to copy beside the weights unchanged.
  const std::map<std::string, std::string>& files() const;

  // SentencePiece only: the model's bytes (empty for tokenizer.json) and writing them to `tokenizer.model`.
  const std::string& serialized() const;
  status save(const std::filesystem::path& model_file) const;

  struct state; // what was loaded; defined in tokenizer.cpp

private:
  explicit tokenizer(std::unique_ptr<state> loaded);
  std::unique_ptr<state> state_;
};

struct tokenizer_training_options {
  int vocab_size = 384;
  std::string model_type = "bpe"; // bpe | unigram
  // Digits as single tokens: arithmetic is learned digit by digit, and numbers never merge into rare pieces.
  bool split_digits = true;
  float character_coverage = 1.0f;
  // Unknown characters as UTF-8 bytes (LLaMA does this) costs 256 pieces: too many for a tiny vocabulary.
  bool byte_fallback = false;
  std::size_t max_sentences = 200000;
  // Text as it is (no NFKC, no whitespace collapsing) with "\n" a piece of its own: the student's format
  // needs its newlines ("\nAnswer:", the blank line that ends an answer), which SentencePiece's default
  // normalization turns into spaces.
  bool keep_newlines = true;
};

// Trains a SentencePiece tokenizer on `corpus` (one text per element) in memory.
result<tokenizer> train_tokenizer(const std::vector<std::string>& corpus,
                                  const tokenizer_training_options& options = {});

} // namespace tailor::tokenizers

// The student's tokenizer: a SentencePiece model (LLaMA's `tokenizer.model`), loaded or trained from a corpus.
#pragma once

#include "io/common/result.hpp"

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tailor::gpu {

// Ids follow LLaMA's convention (unk 0, bos 1, eos 2) for models this class trains; loaded models keep theirs.
class tokenizer {
public:
  static result<tokenizer> load(const std::filesystem::path& model_file);
  static result<tokenizer> from_serialized(std::string serialized_model);

  tokenizer(tokenizer&&) noexcept;
  tokenizer& operator=(tokenizer&&) noexcept;
  ~tokenizer();

  // As Hugging Face's LlamaTokenizer: BOS first when asked, no EOS unless asked.
  std::vector<int> encode(std::string_view text, bool add_bos = false, bool add_eos = false) const;
  std::string decode(std::span<const int> ids) const;

  int vocab_size() const;
  int bos_id() const;
  int eos_id() const;
  int unk_id() const;
  // LLaMA models have no pad token; padding positions are masked, so EOS's id fills them.
  int pad_id() const;

  // The model file's bytes, to write `tokenizer.model` beside a checkpoint.
  const std::string& serialized() const;
  status save(const std::filesystem::path& model_file) const;

private:
  explicit tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor, std::string serialized);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string serialized_;
};

struct tokenizer_training_options {
  int vocab_size = 384;
  std::string model_type = "bpe";  // bpe | unigram
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

// Trains a tokenizer on `corpus` (one text per element) in memory.
result<tokenizer> train_tokenizer(const std::vector<std::string>& corpus,
                                  const tokenizer_training_options& options = {});

} // namespace tailor::gpu

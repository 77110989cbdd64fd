// A SentencePiece model (LLaMA's `tokenizer.model`), loaded from its bytes or trained from a corpus in
// memory.
#pragma once

#include "io/common/result.hpp"

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tailor::tokenizers {

struct tokenizer_training_options;

class sentencepiece_model {
public:
  static result<std::unique_ptr<sentencepiece_model>> from_serialized(std::string serialized_model);
  ~sentencepiece_model();

  std::vector<int> encode(std::string_view text) const;
  // With `skip_special`, control pieces (BOS, EOS, ...) are dropped as SentencePiece drops them; without,
  // they are written as their piece text.
  std::string decode(std::span<const int> ids, bool skip_special) const;

  int vocab_size() const;
  int bos_id() const; // -1 when the model has none
  int eos_id() const;
  int unk_id() const;
  int pad_id() const;
  std::map<int, std::string> special_tokens() const; // control and unknown pieces
  const std::string& serialized() const { return serialized_; }

private:
  sentencepiece_model(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor,
                      std::string serialized);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string serialized_;
};

// The serialized model SentencePiece trains on `corpus` (one text per element).
result<std::string> train_sentencepiece(const std::vector<std::string>& corpus,
                                        const tokenizer_training_options& options);

} // namespace tailor::tokenizers

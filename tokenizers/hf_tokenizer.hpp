// A Hugging Face tokenizer.json pipeline: added tokens, normalizer, pre-tokenizer, BPE, post-processor,
// decoder.
#pragma once

#include "io/common/result.hpp"
#include "tokenizers/added_tokens.hpp"
#include "tokenizers/bpe_model.hpp"
#include "tokenizers/post_processor.hpp"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace tailor::tokenizers {

class normalizer;
class pre_tokenizer;
class decoder;

class hf_tokenizer {
public:
  // `document` is tokenizer.json's text; errors start with `file` and name the JSON path, e.g.
  // "tokenizer.json: model.type `WordPiece` is not supported (tailor reads BPE)".
  static result<std::unique_ptr<hf_tokenizer>> parse(std::string_view document, const std::string& file);

  ~hf_tokenizer();

  // HF's encode(text, add_special_tokens=False). Invalid UTF-8 in `text` is read as U+FFFD. Thread-safe.
  std::vector<int> encode(std::string_view text) const;
  // HF's decode(ids, skip_special_tokens): ids with no token are left out.
  std::string decode(std::span<const int> ids, bool skip_special) const;

  int token_to_id(std::string_view token) const; // added tokens first, then the model; -1 when absent
  int id_limit() const { return id_limit_; }     // highest id + 1, added tokens included
  int unk_id() const { return model_->unk_id(); }
  const special_template& specials_template() const { return template_; }
  const std::vector<added_token>& added_tokens() const { return added_.tokens(); }
  // Whether bytes are mapped to characters (GPT-2's scheme) rather than spaces to "▁" (SentencePiece's).
  bool byte_level() const { return byte_level_; }

private:
  hf_tokenizer() = default;
  std::unique_ptr<bpe_model> model_;
  std::unique_ptr<normalizer> normalizer_;
  std::unique_ptr<pre_tokenizer> pre_tokenizer_;
  std::unique_ptr<decoder> decoder_;
  added_vocabulary added_;
  std::vector<const added_token*> added_by_id_; // id -> added token, nullptr elsewhere
  std::unordered_set<std::string> special_contents_;
  special_template template_;
  int id_limit_ = 0;
  bool byte_level_ = false;
};

} // namespace tailor::tokenizers

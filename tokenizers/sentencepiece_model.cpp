// SentencePiece behind tailor's tokenizer; the only file that includes SentencePiece's headers.
#include "tokenizers/sentencepiece_model.hpp"

#include "tokenizers/tokenizer.hpp"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unordered_map>

namespace tailor::tokenizers {
namespace {

// Feeds an in-memory corpus to the trainer, so training needs no temporary file.
class corpus_iterator : public sentencepiece::SentenceIterator {
public:
  explicit corpus_iterator(const std::vector<std::string>& corpus) : corpus_(corpus) {}
  bool done() const override { return index_ >= corpus_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return corpus_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

private:
  const std::vector<std::string>& corpus_;
  std::size_t index_ = 0;
};

} // namespace

sentencepiece_model::sentencepiece_model(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor,
                                         std::string serialized)
    : processor_(std::move(processor)), serialized_(std::move(serialized)) {}
sentencepiece_model::~sentencepiece_model() = default;

result<std::unique_ptr<sentencepiece_model>>
sentencepiece_model::from_serialized(std::string serialized_model) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (auto loaded = processor->LoadFromSerializedProto(serialized_model); !loaded.ok())
    return problem{"not a SentencePiece model: " + loaded.ToString()};
  return std::unique_ptr<sentencepiece_model>{
      new sentencepiece_model{std::move(processor), std::move(serialized_model)}};
}

std::vector<int> sentencepiece_model::encode(std::string_view text) const {
  std::vector<int> pieces;
  processor_->Encode({text.data(), text.size()}, &pieces).IgnoreError();
  return pieces;
}

std::string sentencepiece_model::decode(std::span<const int> ids, bool skip_special) const {
  std::string text;
  std::vector<int> run;
  const auto flush = [&] {
    std::string piece_text;
    processor_->Decode(run, &piece_text).IgnoreError();
    text += piece_text;
    run.clear();
  };
  for (int id : ids) {
    if (!skip_special && id >= 0 && id < vocab_size() && processor_->IsControl(id)) {
      flush();
      text += processor_->IdToPiece(id);
      continue;
    }
    run.push_back(id);
  }
  flush();
  return text;
}

int sentencepiece_model::vocab_size() const {
  return processor_->GetPieceSize();
}
int sentencepiece_model::bos_id() const {
  return processor_->bos_id();
}
int sentencepiece_model::eos_id() const {
  return processor_->eos_id();
}
int sentencepiece_model::unk_id() const {
  return processor_->unk_id();
}
int sentencepiece_model::pad_id() const {
  return processor_->pad_id();
}

std::map<int, std::string> sentencepiece_model::special_tokens() const {
  std::map<int, std::string> specials;
  for (int id = 0; id < vocab_size(); ++id)
    if (processor_->IsControl(id) || processor_->IsUnknown(id))
      specials.emplace(id, processor_->IdToPiece(id));
  return specials;
}

result<std::string> train_sentencepiece(const std::vector<std::string>& corpus,
                                        const tokenizer_training_options& options) {
  if (corpus.empty())
    return problem{"cannot train a tokenizer on an empty corpus"};
  std::unordered_map<std::string, std::string> arguments{
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", options.model_type},
      {"split_digits", options.split_digits ? "true" : "false"},
      {"character_coverage", std::to_string(options.character_coverage)},
      {"input_sentence_size", std::to_string(options.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"minloglevel", "2"},
  };
  if (options.keep_newlines) {
    arguments["normalization_rule_name"] = "identity";
    arguments["remove_extra_whitespaces"] = "false";
    arguments["user_defined_symbols"] = std::string(1, '\n');
  }
  corpus_iterator sentences{corpus};
  std::string serialized;
  if (auto trained = sentencepiece::SentencePieceTrainer::Train(arguments, &sentences, &serialized);
      !trained.ok())
    return problem{"tokenizer training failed: " + trained.ToString()};
  return serialized;
}

} // namespace tailor::tokenizers

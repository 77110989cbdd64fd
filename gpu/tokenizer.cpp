// SentencePiece behind tailor's tokenizer interface; the only file that includes SentencePiece's headers.
#include "gpu/tokenizer.hpp"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <unordered_map>

namespace tailor::gpu {
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

tokenizer::tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor, std::string serialized)
    : processor_(std::move(processor)), serialized_(std::move(serialized)) {}
tokenizer::tokenizer(tokenizer&&) noexcept = default;
tokenizer& tokenizer::operator=(tokenizer&&) noexcept = default;
tokenizer::~tokenizer() = default;

result<tokenizer> tokenizer::from_serialized(std::string serialized_model) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (auto loaded = processor->LoadFromSerializedProto(serialized_model); !loaded.ok())
    return problem{"not a SentencePiece model: " + loaded.ToString()};
  return tokenizer{std::move(processor), std::move(serialized_model)};
}

result<tokenizer> tokenizer::load(const std::filesystem::path& model_file) {
  std::ifstream in{model_file, std::ios::binary};
  if (!in)
    return problem{model_file.string() + ": cannot open the tokenizer model"};
  std::string bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  auto loaded = from_serialized(std::move(bytes));
  if (!loaded)
    return problem{model_file.string() + ": " + loaded.error().message};
  return loaded;
}

std::vector<int> tokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<int> ids;
  if (add_bos && bos_id() >= 0)
    ids.push_back(bos_id());
  std::vector<int> pieces;
  processor_->Encode({text.data(), text.size()}, &pieces).IgnoreError();
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_eos && eos_id() >= 0)
    ids.push_back(eos_id());
  return ids;
}

std::string tokenizer::decode(std::span<const int> ids) const {
  std::vector<int> pieces(ids.begin(), ids.end());
  std::string text;
  processor_->Decode(pieces, &text).IgnoreError();
  return text;
}

int tokenizer::vocab_size() const { return processor_->GetPieceSize(); }
int tokenizer::bos_id() const { return processor_->bos_id(); }
int tokenizer::eos_id() const { return processor_->eos_id(); }
int tokenizer::unk_id() const { return processor_->unk_id(); }
int tokenizer::pad_id() const { return processor_->pad_id() >= 0 ? processor_->pad_id() : eos_id(); }
const std::string& tokenizer::serialized() const { return serialized_; }

status tokenizer::save(const std::filesystem::path& model_file) const {
  std::ofstream out{model_file, std::ios::binary | std::ios::trunc};
  out.write(serialized_.data(), static_cast<std::streamsize>(serialized_.size()));
  out.close();
  if (!out)
    return problem{model_file.string() + ": cannot write the tokenizer model"};
  return ok_status();
}

result<tokenizer> train_tokenizer(const std::vector<std::string>& corpus, const tokenizer_training_options& options) {
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
    arguments["user_defined_symbols"] = "\n";
  }
  corpus_iterator sentences{corpus};
  std::string serialized;
  if (auto trained = sentencepiece::SentencePieceTrainer::Train(arguments, &sentences, &serialized); !trained.ok())
    return problem{"tokenizer training failed: " + trained.ToString()};
  return tokenizer::from_serialized(std::move(serialized));
}

} // namespace tailor::gpu

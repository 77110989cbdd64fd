// tokenizer.json read into its pipeline, and HF's encode/decode over that pipeline.
#include "tokenizers/hf_tokenizer.hpp"

#include "tokenizers/decoder.hpp"
#include "tokenizers/json_fields.hpp"
#include "tokenizers/normalizer.hpp"
#include "tokenizers/pre_tokenizer.hpp"
#include "tokenizers/unicode.hpp"

#include <algorithm>

namespace tailor::tokenizers {
namespace {

// A merge is "left right" (one space) or, since tokenizers 0.20, a [left, right] pair.
std::pair<std::string, std::string> parse_merge(const json& merge, const std::string& path) {
  if (merge.is_string()) {
    const auto text = merge.get<std::string>();
    const auto space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
      refuse(path, "`" + text + "` is not two tokens separated by one space");
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
    return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  refuse(path, "is neither \"left right\" nor [left, right]");
}

bool set_and_not_empty(const json& model, const char* key) {
  auto found = model.find(key);
  return found != model.end() && !found->is_null() &&
         !(found->is_string() && found->get<std::string>().empty());
}

std::unique_ptr<bpe_model> parse_bpe(const json& model) {
  const std::string path = "model";
  // Files written before models carried their type are BPE when they have merges (HF reads them so too).
  const auto type = model.is_object() && !model.contains("type") && model.contains("merges")
                        ? std::string{"BPE"}
                        : type_field(model, path);
  if (type != "BPE")
    refuse(child(path, "type"), "`" + type + "` is not supported (tailor reads BPE)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (set_and_not_empty(model, key))
      refuse(child(path, key), "is set; tailor reads BPE without subword prefixes or suffixes");
  if (auto dropout = model.find("dropout"); dropout != model.end() && !dropout->is_null() &&
                                            !(dropout->is_number() && dropout->get<double>() == 0.0))
    refuse(child(path, "dropout"), "is set; tailor encodes deterministically (dropout null or 0)");

  vocabulary vocab;
  const auto& entries = required(model, "vocab", path);
  if (!entries.is_object())
    refuse(child(path, "vocab"), "is not an object of token: id");
  for (const auto& [token, id] : entries.items()) {
    if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > (1LL << 30))
      refuse(child(child(path, "vocab"), token), "is not a token id");
    vocab.emplace(token, id.get<int>());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  const auto& list = array_field(model, "merges", path);
  merges.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i)
    merges.push_back(parse_merge(list[i], element(child(path, "merges"), i)));

  bpe_options options;
  if (auto unk = model.find("unk_token"); unk != model.end() && unk->is_string())
    options.unk_token = unk->get<std::string>();
  options.fuse_unk = bool_field(model, "fuse_unk", path, false);
  options.byte_fallback = bool_field(model, "byte_fallback", path, false);
  options.ignore_merges = bool_field(model, "ignore_merges", path, false);
  auto created = bpe_model::create(std::move(vocab), merges, std::move(options));
  if (!created)
    throw tokenizer_json_error{created.error().message};
  return std::make_unique<bpe_model>(std::move(created.value()));
}

// HF reads added_tokens as calls to add_tokens, in order, and the ids they get are not the ones written: a
// token the model has keeps the model's id, any other takes the next id after the model's vocabulary
// (counted, not its highest id). A token listed twice keeps its first id and takes the later flags; it stays
// special if it was ever special.
std::vector<added_token> parse_added_tokens(const json& document, const bpe_model& model) {
  std::vector<added_token> tokens;
  auto found = document.find("added_tokens");
  if (found == document.end() || found->is_null())
    return tokens;
  if (!found->is_array())
    refuse("added_tokens", "is not a list");
  int next_id = model.vocab_count();
  for (std::size_t i = 0; i < found->size(); ++i) {
    const auto& entry = (*found)[i];
    const auto path = element("added_tokens", i);
    added_token token;
    token.content = string_field(entry, "content", path);
    token.single_word = bool_field(entry, "single_word", path, false);
    token.lstrip = bool_field(entry, "lstrip", path, false);
    token.rstrip = bool_field(entry, "rstrip", path, false);
    token.normalized = bool_field(entry, "normalized", path, true);
    token.special = bool_field(entry, "special", path, false);
    if (token.content.empty())
      continue; // HF ignores empty added tokens
    auto earlier = std::find_if(tokens.begin(), tokens.end(),
                                [&](const added_token& t) { return t.content == token.content; });
    if (earlier != tokens.end()) {
      token.id = earlier->id;
      token.special = token.special || earlier->special;
      *earlier = std::move(token);
      continue;
    }
    token.id = model.token_to_id(token.content);
    if (token.id < 0)
      token.id = next_id++;
    tokens.push_back(std::move(token));
  }
  return tokens;
}

bool is_type(const json& spec, const char* type) {
  if (!spec.is_object())
    return false;
  if (spec.value("type", "") == type)
    return true;
  for (const char* list : {"pretokenizers", "decoders"})
    if (auto found = spec.find(list); found != spec.end() && found->is_array())
      for (const auto& step : *found)
        if (is_type(step, type))
          return true;
  return false;
}

const json& section(const json& document, const char* key) {
  static const json null_section;
  auto found = document.find(key);
  return found == document.end() ? null_section : *found;
}

} // namespace

hf_tokenizer::~hf_tokenizer() = default;

result<std::unique_ptr<hf_tokenizer>> hf_tokenizer::parse(std::string_view document_text,
                                                          const std::string& file) {
  json document;
  try {
    document = json::parse(document_text);
  } catch (const json::parse_error& error) {
    return problem{file + ": invalid JSON: " + error.what()};
  }
  if (!document.is_object())
    return problem{file + ": is not a JSON object"};
  std::unique_ptr<hf_tokenizer> out{new hf_tokenizer};
  try {
    if (!document.contains("model"))
      refuse("model", "is missing");
    out->model_ = parse_bpe(document["model"]);
    out->normalizer_ = parse_normalizer(section(document, "normalizer"), "normalizer");
    out->pre_tokenizer_ = parse_pre_tokenizer(section(document, "pre_tokenizer"), "pre_tokenizer");
    out->decoder_ = parse_decoder(section(document, "decoder"), "decoder");
    out->added_ = added_vocabulary{parse_added_tokens(document, *out->model_), out->normalizer_.get()};
    out->template_ = parse_post_processor(section(document, "post_processor"), "post_processor",
                                          [&](const std::string& token) { return out->token_to_id(token); });
  } catch (const tokenizer_json_error& error) {
    return problem{file + ": " + error.what()};
  } catch (const json::exception& error) { // a field of an unexpected JSON type deep inside a component
    return problem{file + ": " + error.what()};
  }
  out->id_limit_ = out->model_->id_limit();
  for (const auto& token : out->added_.tokens())
    out->id_limit_ = std::max(out->id_limit_, token.id + 1);
  out->added_by_id_.assign(static_cast<std::size_t>(out->id_limit_), nullptr);
  for (const auto& token : out->added_.tokens()) {
    out->added_by_id_[static_cast<std::size_t>(token.id)] = &token;
    if (token.special)
      out->special_contents_.insert(token.content);
  }
  const auto check_ids = [&](const std::vector<int>& ids) {
    for (int id : ids)
      if (id < 0 || id >= out->id_limit_)
        return false;
    return true;
  };
  if (!check_ids(out->template_.leading) || !check_ids(out->template_.trailing))
    return problem{file + ": post_processor adds an id that is not a token"};
  out->byte_level_ = is_type(section(document, "pre_tokenizer"), "ByteLevel") ||
                     is_type(section(document, "decoder"), "ByteLevel");
  return out;
}

int hf_tokenizer::token_to_id(std::string_view token) const {
  for (const auto& added : added_.tokens())
    if (added.content == token)
      return added.id;
  return model_->token_to_id(token);
}

std::vector<int> hf_tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 4);
  const std::string valid = is_valid_utf8(text) ? std::string{text} : utf8_lossy(text);
  std::vector<pre_token> pieces;
  for (auto& segment : added_.split(valid, normalizer_.get())) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    pieces.clear();
    pieces.push_back({std::move(segment.text), segment.at_start});
    if (pre_tokenizer_)
      pre_tokenizer_->pre_tokenize(pieces);
    for (const auto& piece : pieces)
      model_->tokenize(piece.text, ids);
  }
  return ids;
}

std::string hf_tokenizer::decode(std::span<const int> ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int id : ids) {
    const std::string* token = nullptr;
    if (id >= 0 && id < static_cast<int>(added_by_id_.size()) && added_by_id_[static_cast<std::size_t>(id)])
      token = &added_by_id_[static_cast<std::size_t>(id)]->content;
    else
      token = model_->id_to_token(id);
    if (token == nullptr || (skip_special && special_contents_.contains(*token)))
      continue;
    tokens.push_back(*token);
  }
  if (!decoder_) {
    std::string joined;
    for (std::size_t i = 0; i < tokens.size(); ++i)
      joined += (i ? " " : "") + tokens[i];
    return joined;
  }
  decoder_->decode_chain(tokens);
  std::string text;
  for (const auto& token : tokens)
    text += token;
  return text;
}

} // namespace tailor::tokenizers

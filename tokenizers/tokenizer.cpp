// The tokenizer facade: finds the files, loads the right kind, and settles the special ids from the configs.
#include "tokenizers/tokenizer.hpp"

#include "tokenizers/hf_tokenizer.hpp"
#include "tokenizers/sentencepiece_model.hpp"
#include "tokenizers/tokenizer_config.hpp"

#include <algorithm>
#include <fstream>
#include <optional>

namespace fs = std::filesystem;

namespace tailor::tokenizers {

struct tokenizer::state {
  std::unique_ptr<sentencepiece_model> sentencepiece;
  std::unique_ptr<hf_tokenizer> hf;
  int vocab = 0, bos = -1, eos = -1, unk = -1, pad = -1;
  std::vector<int> leading, trailing, stops;
  std::map<int, std::string> specials;
  std::map<std::string, std::string> files;
  std::string kind;
  std::string no_serialized_model; // what serialized() returns for tokenizer.json
};

namespace {

result<std::string> read_bytes(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return problem{file.string() + ": cannot open the tokenizer file"};
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// Reads `dir/name` into `files` and `config` when it exists.
status read_config(const fs::path& dir, const char* name, std::map<std::string, std::string>& files,
                   special_token_config& config) {
  const auto path = dir / name;
  if (!fs::is_regular_file(path))
    return ok_status();
  auto bytes = read_bytes(path);
  if (!bytes)
    return bytes.error();
  auto read = std::string_view{name} == "tokenizer_config.json"
                  ? read_tokenizer_config(*bytes, path.string(), config)
                  : read_generation_config(*bytes, path.string(), config);
  if (!read)
    return read;
  files.emplace(name, std::move(bytes.value()));
  return ok_status();
}

void add_stops(tokenizer::state& s, const std::vector<int>& more) {
  if (s.eos >= 0)
    s.stops.push_back(s.eos);
  for (int id : more)
    if (std::find(s.stops.begin(), s.stops.end(), id) == s.stops.end())
      s.stops.push_back(id);
}

status check_ids(const special_token_config& config, int vocab, const fs::path& dir) {
  const auto bad = [&](int id) { return id < 0 || id >= vocab; };
  const auto file = (dir / "generation_config.json").string();
  for (int id : config.eos_token_ids)
    if (bad(id))
      return problem{file + ": eos_token_id " + std::to_string(id) + " is not below the vocabulary size " +
                     std::to_string(vocab)};
  for (auto [name, id] :
       {std::pair{"bos_token_id", config.bos_token_id}, std::pair{"pad_token_id", config.pad_token_id}})
    if (id && bad(*id))
      return problem{file + ": " + name + " " + std::to_string(*id) + " is not below the vocabulary size " +
                     std::to_string(vocab)};
  return ok_status();
}

result<std::unique_ptr<tokenizer::state>> sentencepiece_state(std::string bytes, const std::string& label) {
  auto model = sentencepiece_model::from_serialized(std::move(bytes));
  if (!model)
    return problem{label.empty() ? model.error().message : label + ": " + model.error().message};
  auto s = std::make_unique<tokenizer::state>();
  auto& m = *model.value();
  s->vocab = m.vocab_size();
  s->bos = m.bos_id();
  s->eos = m.eos_id();
  s->unk = m.unk_id();
  s->pad = m.pad_id() >= 0 ? m.pad_id() : s->eos;
  if (s->bos >= 0)
    s->leading = {s->bos};
  if (s->eos >= 0)
    s->trailing = {s->eos};
  s->specials = m.special_tokens();
  s->kind = "sentencepiece";
  s->files.emplace("tokenizer.model", m.serialized());
  s->sentencepiece = std::move(model.value());
  add_stops(*s, {});
  return s;
}

// The names EOS goes by in the families tailor reads, for a tokenizer.json with no config and no template.
constexpr const char* usual_eos_names[] = {"</s>", "<|endoftext|>", "<|end_of_text|>", "<|im_end|>", "<eos>"};

result<std::unique_ptr<tokenizer::state>> hf_state(const fs::path& file) {
  auto bytes = read_bytes(file);
  if (!bytes)
    return bytes.error();
  auto parsed = hf_tokenizer::parse(*bytes, file.string());
  if (!parsed)
    return parsed.error();
  auto s = std::make_unique<tokenizer::state>();
  s->files.emplace("tokenizer.json", std::move(bytes.value()));
  const auto dir = file.parent_path();
  special_token_config config;
  for (const char* name : {"tokenizer_config.json", "generation_config.json"})
    if (auto read = read_config(dir, name, s->files, config); !read)
      return read.error();
  auto& hf = *parsed.value();
  s->vocab = hf.id_limit();
  if (auto checked = check_ids(config, s->vocab, dir); !checked)
    return checked.error();

  const auto config_file = (dir / "tokenizer_config.json").string();
  const auto id_of = [&](const std::optional<std::string>& token, const char* field) -> result<int> {
    if (!token)
      return -1;
    if (int id = hf.token_to_id(*token); id >= 0)
      return id;
    return problem{config_file + ": " + field + " `" + *token + "` is not a token of " + file.string()};
  };
  auto bos = id_of(config.bos_token, "bos_token");
  auto eos = id_of(config.eos_token, "eos_token");
  auto pad = id_of(config.pad_token, "pad_token");
  auto unk = id_of(config.unk_token, "unk_token");
  for (const auto* resolved : {&bos, &eos, &pad, &unk})
    if (!*resolved)
      return resolved->error();

  s->leading = hf.specials_template().leading;
  s->trailing = hf.specials_template().trailing;
  for (const auto& token : hf.added_tokens())
    if (token.special)
      s->specials.emplace(token.id, token.content);

  s->bos = *bos >= 0             ? *bos
           : config.bos_token_id ? *config.bos_token_id
           : !s->leading.empty() ? s->leading.front()
                                 : -1;
  s->eos = *eos >= 0                       ? *eos
           : !config.eos_token_ids.empty() ? config.eos_token_ids.front()
           : !s->trailing.empty()          ? s->trailing.back()
                                           : -1;
  for (const char* name : usual_eos_names)
    if (int id = hf.token_to_id(name); s->eos < 0 && s->specials.contains(id))
      s->eos = id;
  s->unk = *unk >= 0 ? *unk : hf.unk_id();
  s->pad = *pad >= 0 && *pad != s->eos                             ? *pad
           : config.pad_token_id && *config.pad_token_id != s->eos ? *config.pad_token_id
                                                                   : s->eos;
  s->kind = hf.byte_level() ? "byte-level BPE" : "BPE";
  add_stops(*s, config.eos_token_ids);
  s->hf = std::move(parsed.value());
  return s;
}

bool looks_like_json(const fs::path& file, std::string_view bytes) {
  if (file.extension() == ".json")
    return true;
  auto first = bytes.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && bytes[first] == '{';
}

} // namespace

tokenizer::tokenizer(std::unique_ptr<state> loaded) : state_(std::move(loaded)) {}
tokenizer::tokenizer(tokenizer&&) noexcept = default;
tokenizer& tokenizer::operator=(tokenizer&&) noexcept = default;
tokenizer::~tokenizer() = default;

result<tokenizer> tokenizer::from_serialized(std::string serialized_model) {
  auto loaded = sentencepiece_state(std::move(serialized_model), "");
  if (!loaded)
    return loaded.error();
  return tokenizer{std::move(loaded.value())};
}

result<tokenizer> tokenizer::load(const fs::path& file) {
  auto bytes = read_bytes(file);
  if (!bytes)
    return bytes.error();
  auto loaded = looks_like_json(file, *bytes) ? hf_state(file)
                                              : sentencepiece_state(std::move(bytes.value()), file.string());
  if (!loaded)
    return loaded.error();
  return tokenizer{std::move(loaded.value())};
}

result<tokenizer> tokenizer::load_dir(const fs::path& dir) {
  if (!fs::is_directory(dir))
    return problem{dir.string() + ": no such directory"};
  if (fs::is_regular_file(dir / "tokenizer.json")) {
    auto loaded = hf_state(dir / "tokenizer.json");
    if (!loaded)
      return loaded.error();
    return tokenizer{std::move(loaded.value())};
  }
  if (!fs::is_regular_file(dir / "tokenizer.model"))
    return problem{dir.string() + ": no tokenizer.json and no tokenizer.model (tailor reads either)"};
  auto bytes = read_bytes(dir / "tokenizer.model");
  if (!bytes)
    return bytes.error();
  auto loaded = sentencepiece_state(std::move(bytes.value()), (dir / "tokenizer.model").string());
  if (!loaded)
    return loaded.error();
  auto& s = *loaded.value();
  special_token_config config;
  if (auto read = read_config(dir, "generation_config.json", s.files, config); !read)
    return read.error();
  if (auto checked = check_ids(config, s.vocab, dir); !checked)
    return checked.error();
  s.stops.clear();
  add_stops(s, config.eos_token_ids);
  return tokenizer{std::move(loaded.value())};
}

std::vector<int> tokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  const auto& s = *state_;
  std::vector<int> ids;
  if (add_bos)
    ids = s.leading;
  auto body = s.sentencepiece ? s.sentencepiece->encode(text) : s.hf->encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  if (add_eos && !s.trailing.empty())
    ids.insert(ids.end(), s.trailing.begin(), s.trailing.end());
  else if (add_eos && s.eos >= 0)
    ids.push_back(s.eos);
  return ids;
}

std::string tokenizer::decode(std::span<const int> ids, bool skip_special) const {
  return state_->sentencepiece ? state_->sentencepiece->decode(ids, skip_special)
                               : state_->hf->decode(ids, skip_special);
}

int tokenizer::vocab_size() const {
  return state_->vocab;
}
int tokenizer::bos_id() const {
  return state_->bos;
}
int tokenizer::eos_id() const {
  return state_->eos;
}
int tokenizer::unk_id() const {
  return state_->unk;
}
int tokenizer::pad_id() const {
  return state_->pad;
}
std::vector<int> tokenizer::stop_ids() const {
  return state_->stops;
}
std::string tokenizer::kind() const {
  return state_->kind;
}
const std::map<int, std::string>& tokenizer::special_tokens() const {
  return state_->specials;
}
const std::map<std::string, std::string>& tokenizer::files() const {
  return state_->files;
}

const std::string& tokenizer::serialized() const {
  return state_->sentencepiece ? state_->sentencepiece->serialized() : state_->no_serialized_model;
}

status tokenizer::save(const fs::path& model_file) const {
  if (!state_->sentencepiece)
    return problem{model_file.string() +
                   ": a tokenizer.json tokenizer has no tokenizer.model; copy files() instead"};
  std::ofstream out{model_file, std::ios::binary | std::ios::trunc};
  const auto& bytes = serialized();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out)
    return problem{model_file.string() + ": cannot write the tokenizer model"};
  return ok_status();
}

result<tokenizer> train_tokenizer(const std::vector<std::string>& corpus,
                                  const tokenizer_training_options& options) {
  auto trained = train_sentencepiece(corpus, options);
  if (!trained)
    return trained.error();
  return tokenizer::from_serialized(std::move(trained.value()));
}

} // namespace tailor::tokenizers

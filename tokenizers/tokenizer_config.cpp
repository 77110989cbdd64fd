// Reading special-token names and stop ids from transformers' config files, old and new layouts alike.
#include "tokenizers/tokenizer_config.hpp"

#include <nlohmann/json.hpp>

namespace tailor::tokenizers {
namespace {

using json = nlohmann::json;

result<json> parse_object(std::string_view document, const std::string& file) {
  auto parsed = json::parse(document, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return problem{file + ": invalid JSON"};
  if (!parsed.is_object())
    return problem{file + ": is not a JSON object"};
  return parsed;
}

// transformers writes a token as its text, or (older versions) as {"__type": "AddedToken", "content": ...}.
status read_token(const json& config, const char* key, const std::string& file,
                  std::optional<std::string>& out) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null())
    return ok_status();
  if (found->is_string()) {
    out = found->get<std::string>();
    return ok_status();
  }
  if (found->is_object() && found->contains("content") && (*found)["content"].is_string()) {
    out = (*found)["content"].get<std::string>();
    return ok_status();
  }
  return problem{file + ": " + key + " is neither a token text nor an object with \"content\""};
}

status read_id(const json& config, const char* key, const std::string& file, std::optional<int>& out) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null())
    return ok_status();
  if (!found->is_number_integer() || found->get<long long>() < 0)
    return problem{file + ": " + key + " is not a token id"};
  out = found->get<int>();
  return ok_status();
}

} // namespace

status read_tokenizer_config(std::string_view document, const std::string& file,
                             special_token_config& config) {
  auto parsed = parse_object(document, file);
  if (!parsed)
    return parsed.error();
  for (auto [key, slot] :
       {std::pair{"bos_token", &config.bos_token}, std::pair{"eos_token", &config.eos_token},
        std::pair{"pad_token", &config.pad_token}, std::pair{"unk_token", &config.unk_token}})
    if (auto read = read_token(*parsed, key, file, *slot); !read)
      return read;
  return ok_status();
}

status read_generation_config(std::string_view document, const std::string& file,
                              special_token_config& config) {
  auto parsed = parse_object(document, file);
  if (!parsed)
    return parsed.error();
  if (auto read = read_id(*parsed, "bos_token_id", file, config.bos_token_id); !read)
    return read;
  if (auto read = read_id(*parsed, "pad_token_id", file, config.pad_token_id); !read)
    return read;
  auto eos = parsed->find("eos_token_id");
  if (eos == parsed->end() || eos->is_null())
    return ok_status();
  const json ids = eos->is_array() ? *eos : json::array({*eos});
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].is_number_integer() || ids[i].get<long long>() < 0)
      return problem{file + ": eos_token_id" + (eos->is_array() ? "[" + std::to_string(i) + "]" : "") +
                     " is not a token id"};
    config.eos_token_ids.push_back(ids[i].get<int>());
  }
  return ok_status();
}

} // namespace tailor::tokenizers

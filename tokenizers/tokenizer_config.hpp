// The special tokens transformers keeps beside tokenizer.json: tokenizer_config.json and
// generation_config.json.
#pragma once

#include "io/common/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::tokenizers {

struct special_token_config {
  // Token texts from tokenizer_config.json (a string, or an object with "content"); absent or null: unset.
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
  // Ids from generation_config.json; `eos_token_id` is one id or a list (Llama-3 stops on several).
  std::optional<int> bos_token_id, pad_token_id;
  std::vector<int> eos_token_ids;
};

// Each reads one file's text into `config`; errors name `file` and the field.
status read_tokenizer_config(std::string_view document, const std::string& file,
                             special_token_config& config);
status read_generation_config(std::string_view document, const std::string& file,
                              special_token_config& config);

} // namespace tailor::tokenizers

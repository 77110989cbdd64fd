// tokenizer.json's `post_processor`, read as what it adds around one sequence: leading and trailing special
// ids.
#pragma once

#include "tokenizers/json_fields.hpp"

#include <functional>
#include <string>
#include <vector>

namespace tailor::tokenizers {

struct special_template {
  std::vector<int> leading;  // before the text when special tokens are added (Llama-3's <|begin_of_text|>)
  std::vector<int> trailing; // after it
};

// TemplateProcessing (its `single` template), RobertaProcessing/BertProcessing (cls ... sep), ByteLevel
// (nothing) and Sequence of them; JSON null adds nothing. `id_of` resolves token names that carry no id.
special_template parse_post_processor(const json& spec, const std::string& path,
                                      const std::function<int(const std::string&)>& id_of);

} // namespace tailor::tokenizers

// tokenizer.json's `normalizer`: text rewritten before pre-tokenization (NFC for Qwen, Prepend/Replace for
// Llama-2).
#pragma once

#include "tokenizers/json_fields.hpp"

#include <memory>
#include <string>

namespace tailor::tokenizers {

class normalizer {
public:
  virtual ~normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// nullptr for a JSON null; throws tokenizer_json_error naming `path` for a type tailor does not implement.
std::unique_ptr<normalizer> parse_normalizer(const json& spec, const std::string& path);

} // namespace tailor::tokenizers

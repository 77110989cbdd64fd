// tokenizer.json's `decoder`: token strings back to text (byte-level for GPT-2-style BPE, ▁ and <0xXX> for
// Llama-2).
#pragma once

#include "tokenizers/json_fields.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tailor::tokenizers {

class decoder {
public:
  virtual ~decoder() = default;
  // HF's Decoder::decode_chain: tokens in, tokens out; the text is their concatenation.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// nullptr for a JSON null (HF then joins tokens with spaces); throws tokenizer_json_error naming `path` for
// a type tailor does not implement.
std::unique_ptr<decoder> parse_decoder(const json& spec, const std::string& path);

} // namespace tailor::tokenizers

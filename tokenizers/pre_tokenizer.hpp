// tokenizer.json's `pre_tokenizer`: a segment of text split into the words BPE sees, byte-mapped where asked.
#pragma once

#include "tokenizers/json_fields.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tailor::tokenizers {

struct pre_token {
  std::string text;
  // Whether the piece starts the original text (Metaspace's prepend_scheme "first" looks at it).
  bool at_start = false;
};

class pre_tokenizer {
public:
  virtual ~pre_tokenizer() = default;
  // Replaces `pieces` by their splits; empty pieces are dropped, as HF drops them.
  virtual void pre_tokenize(std::vector<pre_token>& pieces) const = 0;
};

// nullptr for a JSON null; throws tokenizer_json_error naming `path` for a type tailor does not implement.
std::unique_ptr<pre_tokenizer> parse_pre_tokenizer(const json& spec, const std::string& path);

} // namespace tailor::tokenizers

// The student's tokenizer, as gpu/ names it: tailor::tokenizers' SentencePiece / tokenizer.json facade.
#pragma once

#include "tokenizers/tokenizer.hpp"

namespace tailor::gpu {
using tokenizers::tokenizer;
using tokenizers::tokenizer_training_options;
using tokenizers::train_tokenizer;
} // namespace tailor::gpu

// Helpers of the model and loss tests: tiny configs, scratch directories, the Python reference, greedy
// decoding.
#pragma once

#include "gpu/llama_model.hpp"
#include "gpu_checkpoint_support.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>
#include <vector>

namespace tailor::model_test {

inline gpu::llama_config tiny_config(int kv_heads = 2, bool tied = false) {
  gpu::llama_config c;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 8;
  c.vocab_size = 64;
  c.max_position_embeddings = 128;
  c.tie_word_embeddings = tied;
  c.initializer_range = 0.2; // visible logits, so that comparisons mean something
  return c;
}

// Scratch directories are the checkpoint tests' (a fresh directory under the temp dir, removed at scope end).
using scratch = tailor::test::scratch_dir;

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs tests/parity/llama_reference.py with the project's Python; the test fails showing the script's stderr.
inline void run_reference(const std::string& arguments, const std::filesystem::path& log_dir) {
  const auto log = log_dir / "reference.stderr";
  const std::string command = std::string{"HF_HUB_DISABLE_PROGRESS_BARS=1 '"} + TAILOR_PYTHON + "' '" +
                              TAILOR_SOURCE_DIR + "/tests/parity/llama_reference.py' " + arguments + " 2> '" +
                              log.string() + "'";
  const int status = std::system(command.c_str());
  const int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  INFO("command: " << command << "\nexit status " << code << ", stderr:\n" << read_text(log));
  REQUIRE(code == 0);
}

inline torch::Tensor long_tensor(const std::vector<int64_t>& values) {
  return torch::tensor(values, torch::kLong);
}

// Greedy decoding of a left-padded batch of prompts with the key/value cache: prefill once, then one token
// per step. -> new tokens [B, steps].
inline torch::Tensor greedy_decode(gpu::llama_for_causal_lm& model,
                                   const std::vector<std::vector<int64_t>>& prompts, int steps) {
  torch::NoGradGuard no_grad;
  const auto batch = static_cast<int64_t>(prompts.size());
  int64_t width = 0;
  for (const auto& p : prompts)
    width = std::max<int64_t>(width, static_cast<int64_t>(p.size()));
  auto ids = torch::zeros({batch, width}, torch::kLong);
  auto valid = torch::zeros({batch, width}, torch::kBool);
  for (int64_t b = 0; b < batch; ++b) {
    const auto offset = width - static_cast<int64_t>(prompts[b].size());
    for (size_t i = 0; i < prompts[b].size(); ++i) {
      ids[b][offset + i] = prompts[b][i];
      valid[b][offset + i] = true;
    }
  }
  gpu::kv_cache cache;
  auto logits =
      model->forward(ids, gpu::positions_from_valid(valid), gpu::causal_padding_mask(valid, width), &cache)
          .logits;
  std::vector<torch::Tensor> produced;
  for (int step = 0; step < steps; ++step) {
    auto next = logits.select(1, -1).argmax(-1).unsqueeze(1); // [B, 1]
    produced.push_back(next);
    valid = torch::cat({valid, torch::ones({batch, 1}, torch::kBool)}, 1);
    auto position = valid.to(torch::kLong).sum(1, /*keepdim=*/true) - 1; // [B, 1]
    logits = model->forward(next, position, gpu::causal_padding_mask(valid, 1), &cache).logits;
  }
  return torch::cat(produced, 1);
}

} // namespace tailor::model_test

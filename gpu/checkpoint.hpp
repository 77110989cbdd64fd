// Checkpoint directories in Hugging Face's layout (+ LoRA adapters in PEFT's, optimizer and trainer state),
// written crash-safely.
#pragma once

#include "gpu/llama_model.hpp"
#include "gpu/model_config.hpp"
#include "gpu/tokenizer.hpp"
#include "io/common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

// ---- optimizer state ----

// AdamW's moments and step counts keyed by parameter name, not by position, so that they restore into a fresh
// optimizer over a freshly built model whatever order its parameters come in.
struct adamw_state {
  struct moments {
    std::int64_t step = 0;
    torch::Tensor exp_avg, exp_avg_sq, max_exp_avg_sq; // on the CPU; max_exp_avg_sq only with amsgrad
  };
  struct group {
    torch::optim::AdamWOptions options;
    std::vector<std::string> param_names;
  };
  std::map<std::string, moments> params;
  std::vector<group> groups;
};

using named_parameters = torch::OrderedDict<std::string, torch::Tensor>;

// The state of `optimizer`, whose parameters must all be among `parameters` (a module's named_parameters()).
result<adamw_state> capture_adamw_state(const torch::optim::AdamW& optimizer,
                                        const named_parameters& parameters);

// Puts `state` into `optimizer`: each group's hyperparameters (lr included, as the schedule left it) and each
// parameter's moments, moved to the parameter's device. The groups must hold the same parameter names.
status restore_adamw_state(torch::optim::AdamW& optimizer, const named_parameters& parameters,
                           const adamw_state& state);

// `optimizer.pt`: a torch pickle (Python's `torch.load` reads it) of {"state": {name: {...}},
// "param_groups"}.
status save_adamw_state(const std::filesystem::path& file, const adamw_state& state);
result<adamw_state> load_adamw_state(const std::filesystem::path& file);

// ---- checkpoints ----

// What a resumed run needs besides weights and optimizer: the step, and fields its owner adds (`extra`, a
// JSON object, e.g. round number or data position). Stored as `trainer_state.json`, the step as
// `global_step`.
struct trainer_state {
  std::int64_t step = 0;
  nlohmann::json extra = nlohmann::json::object();
};

struct checkpoint_options {
  torch::ScalarType weights_dtype =
      torch::kFloat; // kFloat keeps a resumed run exact; kBFloat16 halves the size
  std::size_t max_shard_bytes = std::size_t{5} << 30;
  // Called after each file lands in the staging directory; an error aborts the save there, as a crash would.
  std::function<status(const std::filesystem::path& written)> after_file = nullptr;
};

// Writes `config.json`, the base weights (HF names; `lm_head.weight` absent when tied; never the adapters),
// for a model with LoRA adapters `adapter_config.json` and `adapter_model.safetensors` as PEFT writes them
// (gpu/adapter_checkpoint.hpp; base_model_name_or_path is `dir`, absolute), the tokenizer's files
// (tokenizer.json with tokenizer_config.json and generation_config.json, or tokenizer.model) unchanged, and
// when given `optimizer.pt` (the moments of every parameter it trains, adapters included, by name) and
// `trainer_state.json`, into `<dir>.partial`, then swaps it in for `dir`. A crash at any point leaves `dir`
// holding either the previous checkpoint or the new one, complete.
status save_checkpoint(const std::filesystem::path& dir, const llama_for_causal_lm& model,
                       const tokenizer& tokenizer, const torch::optim::AdamW* optimizer = nullptr,
                       const std::optional<trainer_state>& trainer = std::nullopt,
                       const checkpoint_options& options = {});

struct loaded_checkpoint {
  llama_config config;
  llama_for_causal_lm model; // float32 on the requested device, whatever dtype the file stores; with its
                             // adapters (base frozen) when the directory holds adapter_config.json
  tailor::gpu::tokenizer tokenizer;
  std::optional<adamw_state> optimizer; // restore with restore_adamw_state() once an AdamW exists
  std::optional<trainer_state> trainer;
};

// Loads a checkpoint written by save_checkpoint() or a Hugging Face directory of a family tailor takes
// (gpu/model_families.hpp), with tokenizer.json or tokenizer.model; and the LoRA adapter beside the base when
// there is one (load_adapter()). Every expected tensor must be present with its shape; a missing, misshapen
// or unknown tensor is an error naming it and the file.
result<loaded_checkpoint> load_checkpoint(const std::filesystem::path& dir,
                                          torch::Device device = torch::kCPU);

} // namespace tailor::gpu

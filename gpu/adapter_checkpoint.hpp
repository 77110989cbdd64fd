// LoRA adapters in PEFT's file format (adapter_config.json + adapter_model.safetensors), and merging them.
#pragma once

#include "gpu/llama_model.hpp"
#include "io/common/result.hpp"

#include <filesystem>
#include <string>

namespace tailor::gpu {

// Writes the model's adapters into `dir` (created if needed) as PEFT saves a LoRA adapter:
// `adapter_model.safetensors` (float32, each tensor named `base_model.model.` + tailor's parameter name, as
// PEFT names them without the adapter's name) and then `adapter_config.json` (peft_type LORA, r, lora_alpha,
// lora_dropout, the sorted target_modules, ...), so that `PeftModel.from_pretrained(base, dir)` loads it.
// `base_model_name_or_path` is written as given. A model without adapters is an error.
status save_adapter(const std::filesystem::path& dir, const llama_for_causal_lm& model,
                    const std::string& base_model_name_or_path);

// Reads an adapter saved by save_adapter() or by PEFT into `model`: attaches adapters with the config's
// settings when the model has none (freezing the base, as attach_lora does), or checks that those it has are
// the config's, then loads every adapter tensor. Refused, naming the file and key or tensor: what tailor's
// adapters cannot compute (DoRA, rsLoRA, fan_in_fan_out, biases, rank/alpha patterns, modules_to_save,
// layers_to_transform, targets other than the decoder's projections), and a missing, misshapen or unknown
// tensor. Everything is checked before the model changes: a refused adapter leaves it as it was.
status load_adapter(const std::filesystem::path& dir, llama_for_causal_lm& model);

// A new model without adapters whose projections hold W + B A * alpha / r (computed in float32), every other
// weight copied, on the model's device: the same function as the model with its adapters, at the cost of the
// base alone. A model without adapters gives a plain copy.
result<llama_for_causal_lm> merged_model(const llama_for_causal_lm& model);

} // namespace tailor::gpu

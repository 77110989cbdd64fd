// PEFT's LoRA adapter files, written from and read into tailor's adapters; adapters merged into the base.
#include "gpu/adapter_checkpoint.hpp"

#include "gpu/lora.hpp"
#include "gpu/safetensors.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace tailor::gpu {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* config_file = "adapter_config.json";
constexpr const char* weights_file = "adapter_model.safetensors";
// PEFT's saved names: PeftModelForCausalLM.base_model (LoraModel).model (the transformers model), without the
// adapter's name that PEFT puts between lora_A and weight in memory.
constexpr std::string_view peft_prefix = "base_model.model.";

json number(double value) {
  // 16, as PEFT writes lora_alpha, rather than 16.0.
  return std::floor(value) == value && std::abs(value) < 1e15 ? json(static_cast<std::int64_t>(value))
                                                              : json(value);
}

std::string shape_text(c10::IntArrayRef shape) {
  return c10::str(shape);
}

// Reads the settings of a LoRA adapter_config.json, refusing what tailor's adapters do not compute.
result<lora_settings> read_adapter_config(const fs::path& file) {
  std::ifstream in{file};
  if (!in)
    return problem{file.string() + ": cannot be read"};
  const auto config = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object())
    return problem{file.string() + ": not a JSON object"};
  auto key_problem = [&](const std::string& key, const std::string& what) {
    return problem{file.string() + ": `" + key + "` " + what};
  };
  auto present = [&](const char* key) { return config.contains(key) && !config[key].is_null(); };

  if (!present("peft_type") || config["peft_type"] != "LORA")
    return key_problem("peft_type", "is " + (present("peft_type") ? config["peft_type"].dump() : "missing") +
                                        "; tailor reads LoRA adapters (\"LORA\") only");
  // What, when set, changes what the adapters compute: tailor's are one rank and alpha on every layer's
  // target projections, out = W x + B A x * alpha / r, and nothing else.
  const std::pair<const char*, const char*> unsupported[] = {
      {"use_dora", "DoRA's magnitude vectors"},
      {"use_rslora", "rsLoRA's alpha / sqrt(r) scaling"},
      {"fan_in_fan_out", "transposed (Conv1D) base weights"},
      {"lora_bias", "biases on lora_B"},
      {"use_qalora", "QALoRA's pooled inputs"},
      {"use_bdlora", "BD-LoRA's block-diagonal factors"},
      {"kasa_config", "KaSA's singular values"},
      {"monteclora_config", "MonteCLoRA's sampling"},
      {"arrow_config", "Arrow's routing between adapters"},
      {"alora_invocation_tokens", "aLoRA's invocation tokens"},
      {"layer_replication", "replicated layers"},
      {"rank_pattern", "ranks per module"},
      {"alpha_pattern", "alphas per module"},
      {"layers_to_transform", "adapters on some layers only"},
      {"exclude_modules", "excluded modules"},
      {"target_parameters", "adapters on bare parameters"},
      {"modules_to_save", "fully trained modules"},
      {"trainable_token_indices", "trainable token embeddings"}};
  for (const auto& [key, what] : unsupported) {
    if (!present(key))
      continue;
    const auto& value = config[key];
    const bool unset = value == false || ((value.is_object() || value.is_array()) && value.empty());
    if (!unset)
      return key_problem(key, "is " + value.dump() + ": tailor's adapters have no " + what);
  }
  if (present("bias") && config["bias"] != "none")
    return key_problem("bias",
                       "is " + config["bias"].dump() + ": tailor's adapters train no biases (\"none\" only)");

  lora_settings settings;
  if (!present("r") || !config["r"].is_number_integer() || config["r"].get<std::int64_t>() < 1)
    return key_problem("r", "must be a positive integer");
  settings.rank = config["r"].get<int>();
  settings.alpha = 8.0; // PEFT's default
  if (present("lora_alpha")) {
    if (!config["lora_alpha"].is_number() || !(config["lora_alpha"].get<double>() > 0.0))
      return key_problem("lora_alpha", "must be a positive number");
    settings.alpha = config["lora_alpha"].get<double>();
  }
  settings.dropout = 0.0;
  if (present("lora_dropout")) {
    const auto& dropout = config["lora_dropout"];
    if (!dropout.is_number() || !(dropout.get<double>() >= 0.0 && dropout.get<double>() < 1.0))
      return key_problem("lora_dropout", "must be a number in [0, 1)");
    settings.dropout = config["lora_dropout"].get<double>();
  }
  settings.targets.clear();
  const auto& modules = present("target_modules") ? config["target_modules"] : json{};
  if (modules.is_string()) {
    settings.targets.push_back(modules.get<std::string>());
  } else if (modules.is_array()) {
    for (const auto& name : modules) {
      if (!name.is_string())
        return key_problem("target_modules", "holds " + name.dump() + ", not a module name");
      settings.targets.push_back(name.get<std::string>());
    }
  } else {
    return key_problem("target_modules", "must name the projections, as a list or one name");
  }
  const auto& known = lora_target_names();
  for (const auto& target : settings.targets)
    if (std::find(known.begin(), known.end(), target) == known.end())
      return key_problem("target_modules",
                         "names `" + target +
                             "`, not a projection tailor adapts (q_proj, k_proj, v_proj, o_proj, "
                             "gate_proj, up_proj, down_proj)");
  if (auto valid = check_lora_settings(settings); !valid)
    return problem{file.string() + ": " + valid.error().message};
  return settings;
}

// The adapter tensors of `model` with `settings`, by tailor's name, with their shapes: A [r, in] and
// B [out, r] beside each target projection of each layer.
std::map<std::string, std::vector<std::int64_t>> adapter_shapes(const llama_for_causal_lm& model,
                                                                const lora_settings& settings) {
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& item : model->named_parameters()) {
    const auto& name = item.key();
    if (!name.starts_with("model.layers.") || is_lora_parameter(name))
      continue;
    for (const auto& target : settings.targets) {
      if (!name.ends_with("." + target + ".weight"))
        continue;
      const auto projection = name.substr(0, name.size() - std::string_view{".weight"}.size());
      const auto& weight = item.value();
      shapes[projection + ".lora_A.weight"] = {settings.rank, weight.size(1)};
      shapes[projection + ".lora_B.weight"] = {weight.size(0), settings.rank};
    }
  }
  return shapes;
}

std::string describe(const lora_settings& s) {
  std::string targets;
  for (const auto& t : s.targets)
    targets += (targets.empty() ? "" : ", ") + t;
  return "rank " + std::to_string(s.rank) + ", alpha " + c10::str(s.alpha) + " on " + targets;
}

// Adapters a model already has must be the file's, or its tensors would land in the wrong places.
status check_same_adapters(const llama_for_causal_lm& model, const lora_settings& file_settings,
                           const fs::path& file) {
  auto have = lora_of(model);
  auto want = file_settings;
  std::sort(have.targets.begin(), have.targets.end());
  std::sort(want.targets.begin(), want.targets.end());
  if (have.rank != want.rank || std::abs(have.alpha - want.alpha) > 1e-9 * want.alpha ||
      have.targets != want.targets)
    return problem{file.string() + ": the adapter has " + describe(want) + ", but the model already has " +
                   "adapters with " + describe(have)};
  return ok_status();
}

} // namespace

status save_adapter(const fs::path& dir, const llama_for_causal_lm& model,
                    const std::string& base_model_name_or_path) {
  const auto settings = lora_of(model);
  if (settings.rank == 0)
    return problem{dir.string() + ": the model has no LoRA adapters to save"};
  try {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error)
      return problem{dir.string() + ": cannot create: " + error.message()};
    named_tensors tensors;
    for (const auto& item : model->named_parameters())
      if (is_lora_parameter(item.key()))
        tensors.emplace_back(std::string{peft_prefix} + item.key(), item.value().detach());
    // The weights first: a directory with adapter_config.json always has the weights it describes.
    if (auto written = save_safetensors(dir / weights_file, tensors, torch::kFloat); !written)
      return written;

    auto targets = settings.targets;
    std::sort(targets.begin(), targets.end());
    const json config{{"peft_type", "LORA"},
                      {"task_type", "CAUSAL_LM"},
                      {"r", settings.rank},
                      {"lora_alpha", number(settings.alpha)},
                      {"lora_dropout", settings.dropout},
                      {"target_modules", targets},
                      {"bias", "none"},
                      {"fan_in_fan_out", false},
                      {"use_rslora", false},
                      {"use_dora", false},
                      {"lora_bias", false},
                      {"inference_mode", true},
                      {"init_lora_weights", true},
                      {"modules_to_save", nullptr},
                      {"layers_to_transform", nullptr},
                      {"layers_pattern", nullptr},
                      {"rank_pattern", json::object()},
                      {"alpha_pattern", json::object()},
                      {"revision", nullptr},
                      {"base_model_name_or_path", base_model_name_or_path}};
    return write_file_atomically(dir / config_file, config.dump(2) + "\n");
  } catch (const std::exception& e) {
    return problem{dir.string() + ": cannot save the adapter: " + e.what()};
  }
}

status load_adapter(const fs::path& dir, llama_for_causal_lm& model) {
  const auto config_path = dir / config_file, weights_path = dir / weights_file;
  try {
    auto settings = read_adapter_config(config_path);
    if (!settings)
      return settings.error();
    const bool attached = has_lora(model);
    if (attached)
      if (auto same = check_same_adapters(model, *settings, config_path); !same)
        return same;
    if (!fs::exists(weights_path))
      return problem{weights_path.string() + ": missing (tailor reads adapters saved as safetensors)"};
    auto stored = load_safetensors(weights_path);
    if (!stored)
      return stored.error();

    // Every tensor is checked against the model before the model changes.
    const auto shapes = adapter_shapes(model, *settings);
    std::map<std::string, const torch::Tensor*> by_name;
    for (const auto& [name, shape] : shapes) {
      const auto peft_name = std::string{peft_prefix} + name;
      auto found = stored->find(peft_name);
      if (found == stored->end())
        return problem{weights_path.string() + ": tensor `" + peft_name + "` is missing"};
      if (found->second.sizes() != c10::IntArrayRef{shape})
        return problem{weights_path.string() + ": tensor `" + peft_name + "` has shape " +
                       shape_text(found->second.sizes()) + ", expected " + shape_text(shape)};
      if (!found->second.is_floating_point())
        return problem{weights_path.string() + ": tensor `" + peft_name + "` is not floating-point"};
      by_name[name] = &found->second;
    }
    for (const auto& [peft_name, tensor] : *stored) {
      const bool ours =
          peft_name.starts_with(peft_prefix) && shapes.contains(peft_name.substr(peft_prefix.size()));
      if (!ours)
        return problem{
            weights_path.string() + ": tensor `" + peft_name + "` is not an adapter of this model's " +
            std::to_string(model->config().num_hidden_layers) + " layers with " + describe(*settings)};
    }

    if (!attached)
      if (auto done = attach_lora(model, *settings); !done)
        return problem{config_path.string() + ": " + done.error().message};
    torch::NoGradGuard no_grad;
    auto parameters = model->named_parameters();
    for (const auto& [name, tensor] : by_name)
      parameters[name].copy_(*tensor);
    return ok_status();
  } catch (const std::exception& e) {
    return problem{dir.string() + ": cannot load the adapter: " + e.what()};
  }
}

result<llama_for_causal_lm> merged_model(const llama_for_causal_lm& model) {
  try {
    const auto settings = lora_of(model);
    const double scaling = settings.rank > 0 ? settings.alpha / settings.rank : 0.0;
    // Building the layers draws their default weights; keep the caller's random stream as it was.
    auto generator = at::detail::getDefaultCPUGenerator();
    auto random_state = generator.get_state();
    llama_for_causal_lm merged{model->config(), /*draw_weights=*/false}; // every weight is set below
    generator.set_state(random_state);
    merged->to(model->parameters().front().device());

    const auto source = model->named_parameters();
    torch::NoGradGuard no_grad;
    for (auto& item : merged->named_parameters()) {
      const auto& name = item.key();
      const auto* base = source.find(name);
      if (base == nullptr)
        return problem{"merging the adapters: the model has no parameter `" + name + "`"};
      auto weight = base->to(torch::kFloat);
      const auto projection =
          name.ends_with(".weight") ? name.substr(0, name.size() - std::string_view{".weight"}.size()) : "";
      if (!projection.empty() && source.contains(projection + ".lora_A.weight")) {
        const auto A = source[projection + ".lora_A.weight"].to(torch::kFloat); // [r, in]
        const auto B = source[projection + ".lora_B.weight"].to(torch::kFloat); // [out, r]
        weight = weight + torch::matmul(B, A) * scaling;                        // [out, in]
      }
      item.value().copy_(weight);
    }
    merged->train(model->is_training());
    merged->model->set_activation_checkpointing(model->model->activation_checkpointing());
    return merged;
  } catch (const std::exception& e) {
    return problem{std::string{"merging the adapters failed: "} + e.what()};
  }
}

} // namespace tailor::gpu

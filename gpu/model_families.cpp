// The family table, the refusal list and each family's own config keys (biases, q/k norms, windows).
#include "gpu/model_families.hpp"

#include "gpu/config_fields.hpp"
#include "gpu/model_config.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace tailor::gpu {
namespace {

using namespace config_fields;
using nlohmann::json;

// What each family's transformers config class assumes (LlamaConfig, Qwen2Config, ... in transformers 5).
constexpr std::array<model_family, 4> families{{
    {.model_type = "llama",
     .architecture = "LlamaForCausalLM",
     .examples = "Llama 2, Llama 3.x, TinyLlama, SmolLM",
     .max_position_embeddings = 2048,
     .num_key_value_heads = 0,
     .head_dim = 0,
     .bos_token_id = 1,
     .eos_token_id = 2,
     .reads_attention_bias = true,
     .qkv_bias = false,
     .qk_norm = false,
     .windows = window_layout::none,
     .sliding_window = 0},
    {.model_type = "qwen2",
     .architecture = "Qwen2ForCausalLM",
     .examples = "Qwen2, Qwen2.5",
     .max_position_embeddings = 32768,
     .num_key_value_heads = 32,
     .head_dim = 0,
     .bos_token_id = -1,
     .eos_token_id = -1,
     .reads_attention_bias = false,
     .qkv_bias = true,
     .qk_norm = false,
     .windows = window_layout::per_layer,
     .sliding_window = 4096},
    {.model_type = "qwen3",
     .architecture = "Qwen3ForCausalLM",
     .examples = "Qwen3 dense",
     .max_position_embeddings = 32768,
     .num_key_value_heads = 32,
     .head_dim = 128,
     .bos_token_id = -1,
     .eos_token_id = -1,
     .reads_attention_bias = true,
     .qkv_bias = false,
     .qk_norm = true,
     .windows = window_layout::per_layer,
     .sliding_window = 4096},
    {.model_type = "mistral",
     .architecture = "MistralForCausalLM",
     .examples = "Mistral 7B",
     .max_position_embeddings = 131072,
     .num_key_value_heads = 8,
     .head_dim = 0,
     .bos_token_id = 1,
     .eos_token_id = 2,
     .reads_attention_bias = false,
     .qkv_bias = false,
     .qk_norm = false,
     .windows = window_layout::all_layers,
     .sliding_window = 4096},
}};

problem refused(const std::string& what) {
  return problem{what + "; tailor takes " + supported_families()};
}

// Keys whose values, when set, change the computation in ways no family tailor takes implements.
status refuse_unsupported(const json& config) {
  if (config.contains("text_config"))
    return refused(field("text_config") + " is set: a multimodal wrapper, not a causal language model");
  for (const char* key : {"num_experts", "num_local_experts", "n_routed_experts", "num_experts_per_tok",
                          "moe_intermediate_size"})
    if (present(config, key) && config.at(key) != 0)
      return refused(field(key) + " is " + config.at(key).dump() + ": mixtures of experts are not supported");
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (present(config, key))
      return refused(field(key) + " is " + config.at(key).dump() + ": logit softcapping is not supported");
  bool mrope = false;
  if (auto s = read(config, "use_mrope", mrope); !s)
    return s;
  if (mrope)
    return refused(field("use_mrope") + " is true: multimodal rotary positions are not supported");
  if (present(config, "quantization_config"))
    return refused(field("quantization_config") + " is set: quantized weights are not supported");
  for (const char* key : {"hidden_act", "hidden_activation"})
    if (present(config, key) && config.at(key) != "silu")
      return refused(field(key) + " is " + config.at(key).dump() + "; only \"silu\" (SwiGLU) is supported");
  bool mlp_bias = false;
  if (auto s = read(config, "mlp_bias", mlp_bias); !s)
    return s;
  if (mlp_bias)
    return refused(field("mlp_bias") + " is true: MLP biases are not supported");
  double dropout = 0;
  if (auto s = read(config, "attention_dropout", dropout); !s)
    return s;
  if (dropout != 0)
    return refused(field("attention_dropout") + " is " + std::to_string(dropout) +
                   ": tailor trains without dropout (it must be 0)");
  return ok_status();
}

const model_family* family_of_architecture(std::string_view architecture) {
  for (const auto& family : families)
    if (family.architecture == architecture)
      return &family;
  return nullptr;
}

// `layer_types` as a list of "full_attention" / "sliding_attention", one per layer.
result<std::vector<bool>> read_layer_types(const json& config, int layers) {
  const auto& types = config.at("layer_types");
  if (!types.is_array() || static_cast<int>(types.size()) != layers)
    return problem{field("layer_types") + " must list one attention type for each of the " +
                   std::to_string(layers) + " layers"};
  std::vector<bool> sliding;
  for (const auto& type : types) {
    if (type != "full_attention" && type != "sliding_attention")
      return refused(field("layer_types") + " names " + type.dump() +
                     "; tailor implements full_attention and sliding_attention");
    sliding.push_back(type == "sliding_attention");
  }
  return sliding;
}

// Qwen2/Qwen3: a window only with use_sliding_window; then layers from max_window_layers on slide, unless
// layer_types says which.
status read_per_layer_windows(const json& config, const model_family& family, llama_config& c) {
  bool use_window = false;
  int window = family.sliding_window, first_sliding = 28;
  for (const status& s :
       {read(config, "use_sliding_window", use_window), read(config, "sliding_window", window),
        read(config, "max_window_layers", first_sliding)})
    if (!s)
      return s;
  if (config.contains("sliding_window") && config.at("sliding_window").is_null())
    use_window = false;
  std::vector<bool> sliding;
  if (present(config, "layer_types")) {
    auto types = read_layer_types(config, c.num_hidden_layers);
    if (!types)
      return types.error();
    sliding = std::move(types.value());
  } else {
    for (int layer = 0; layer < c.num_hidden_layers; ++layer)
      sliding.push_back(use_window && layer >= first_sliding);
  }
  const bool any = std::find(sliding.begin(), sliding.end(), true) != sliding.end();
  if (any && !use_window)
    return refused(field("layer_types") +
                   " names sliding_attention layers but use_sliding_window is not true "
                   "with a sliding_window");
  if (any) {
    c.sliding_window = window;
    c.sliding_layers = std::move(sliding);
  }
  return ok_status();
}

status read_windows(const json& config, const model_family& family, llama_config& c) {
  if (family.windows == window_layout::per_layer)
    return read_per_layer_windows(config, family, c);
  if (present(config, "layer_types")) {
    auto types = read_layer_types(config, c.num_hidden_layers);
    if (!types)
      return types.error();
    if (std::find(types->begin(), types->end(), true) != types->end())
      return refused(field("layer_types") + " names sliding_attention layers, which " +
                     std::string{family.architecture} + " does not read");
  }
  if (family.windows == window_layout::all_layers) {
    c.sliding_window = config.contains("sliding_window") ? 0 : family.sliding_window;
    return read(config, "sliding_window", c.sliding_window);
  }
  return ok_status();
}

} // namespace

const model_family* find_family(std::string_view model_type) {
  for (const auto& family : families)
    if (family.model_type == model_type)
      return &family;
  return nullptr;
}

std::string supported_families() {
  std::string out;
  for (const auto& family : families) {
    if (!out.empty())
      out += &family == &families.back() ? " and " : ", ";
    out += std::string{family.model_type} + " (" + std::string{family.examples} + ")";
  }
  return out;
}

result<const model_family*> identify_family(const json& config) {
  if (auto s = refuse_unsupported(config); !s)
    return s.error();
  std::vector<std::string> architectures;
  if (present(config, "architectures")) {
    const auto& listed = config.at("architectures");
    if (!listed.is_array() ||
        !std::all_of(listed.begin(), listed.end(), [](auto& a) { return a.is_string(); }))
      return problem{field("architectures") + " must be a list of class names, got " + listed.dump()};
    for (const auto& name : listed)
      architectures.push_back(name.get<std::string>());
  }
  const model_family* family = nullptr;
  if (present(config, "model_type")) {
    const auto type = shown(config.at("model_type"));
    family = find_family(type);
    if (!family)
      return refused(field("model_type") + " is \"" + type + "\"");
  } else {
    family = architectures.empty() ? find_family("llama") : family_of_architecture(architectures.front());
  }
  for (const auto& name : architectures)
    if (!family || name != family->architecture)
      return refused(field("architectures") + " names " + name +
                     (name.ends_with("ForConditionalGeneration") ? ", a multimodal wrapper" : "") +
                     (family ? ", expected " + std::string{family->architecture} : std::string{}));
  return family;
}

status read_family_fields(const json& config, const model_family& family, llama_config& c) {
  c.model_type = std::string{family.model_type};
  c.qk_norm = family.qk_norm;
  c.attention_bias = family.qkv_bias;
  c.attention_output_bias = false;
  if (family.reads_attention_bias) {
    if (auto s = read(config, "attention_bias", c.attention_bias); !s)
      return s;
    c.attention_output_bias = c.attention_bias;
  }
  return read_windows(config, family, c);
}

status check_family_features(const llama_config& c) {
  const auto* family = find_family(c.model_type);
  if (!family)
    return refused(field("model_type") + " is \"" + c.model_type + "\"");
  const auto name = "model_type " + c.model_type;
  if (c.qk_norm != family->qk_norm)
    return problem{field("qk_norm") + ": " + name + (family->qk_norm ? " always has" : " has no") +
                   " RMSNorm of queries and keys"};
  const bool bias_ok = family->reads_attention_bias
                           ? c.attention_bias == c.attention_output_bias
                           : c.attention_bias == family->qkv_bias && !c.attention_output_bias;
  if (!bias_ok)
    return problem{field("attention_bias") + ": " + name + " cannot say these biases (q/k/v " +
                   (c.attention_bias ? "with" : "without") + ", o_proj " +
                   (c.attention_output_bias ? "with" : "without") + ")"};
  if (c.sliding_window < 0)
    return problem{field("sliding_window") + " must not be negative"};
  if (!c.sliding_layers.empty() && static_cast<int>(c.sliding_layers.size()) != c.num_hidden_layers)
    return problem{field("layer_types") + " must have one entry per layer"};
  const bool all_slide =
      std::all_of(c.sliding_layers.begin(), c.sliding_layers.end(), [](bool s) { return s; });
  if (c.sliding_window > 0 && family->windows == window_layout::none)
    return problem{field("sliding_window") + ": " + name + " has no sliding window"};
  if (c.sliding_window > 0 && family->windows == window_layout::all_layers && !all_slide)
    return problem{field("layer_types") + ": " + name + " slides the window in every layer or none"};
  return ok_status();
}

void write_family_fields(const llama_config& c, json& out) {
  const auto* family = find_family(c.model_type);
  if (!family)
    return; // check_family_features refuses such a config before anything is written
  out["architectures"] = json::array({family->architecture});
  out["model_type"] = family->model_type;
  out["head_dim"] = c.head_dim;
  if (family->model_type == "llama") {
    out["mlp_bias"] = false;
    out["pretraining_tp"] = 1;
  }
  if (family->reads_attention_bias)
    out["attention_bias"] = c.attention_bias;
  if (family->windows == window_layout::all_layers)
    out["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  if (family->windows != window_layout::per_layer)
    return;
  json types = json::array();
  int first_sliding = c.num_hidden_layers;
  for (int layer = c.num_hidden_layers - 1; layer >= 0; --layer)
    first_sliding = slides(c, layer) ? layer : first_sliding;
  for (int layer = 0; layer < c.num_hidden_layers; ++layer)
    types.push_back(slides(c, layer) ? "sliding_attention" : "full_attention");
  const bool any = first_sliding < c.num_hidden_layers;
  out["use_sliding_window"] = any;
  out["sliding_window"] = any ? json(c.sliding_window) : json(nullptr);
  if (!out.contains("max_window_layers") || any)
    out["max_window_layers"] = any ? first_sliding : c.num_hidden_layers;
  out["layer_types"] = types;
}

} // namespace tailor::gpu

// Parsing and checking Hugging Face LLaMA `config.json` files, and writing one that transformers loads.
#include "gpu/model_config.hpp"

#include <fstream>
#include <limits>
#include <string>

namespace tailor::gpu {
namespace {

using nlohmann::json;

std::string field(const char* name) {
  return std::string{"field `"} + name + "`";
}

// An integer JSON value that fits an int; anything else is a problem naming the field.
result<int> to_int(const json& value, const std::string& name) {
  if (!value.is_number_integer())
    return problem{field(name.c_str()) + " must be an integer, got " + value.dump()};
  const bool fits = value.is_number_unsigned()
                        ? value.get<unsigned long long>() <= std::numeric_limits<int>::max()
                        : value.get<long long>() >= std::numeric_limits<int>::min() &&
                              value.get<long long>() <= std::numeric_limits<int>::max();
  if (!fits)
    return problem{field(name.c_str()) + " is out of range: " + value.dump()};
  return static_cast<int>(value.get<long long>());
}

bool present(const json& config, const char* name) {
  auto it = config.find(name);
  return it != config.end() && !it->is_null();
}

// Each reader leaves `target` (its default) alone when the key is absent or null, and says what is wrong with
// a value of the wrong type.
status read(const json& config, const char* name, int& target) {
  if (!present(config, name))
    return ok_status();
  auto value = to_int(config.at(name), name);
  if (!value)
    return value.error();
  target = *value;
  return ok_status();
}

status read(const json& config, const char* name, double& target) {
  if (!present(config, name))
    return ok_status();
  if (!config.at(name).is_number())
    return problem{field(name) + " must be a number, got " + config.at(name).dump()};
  target = config.at(name).get<double>();
  return ok_status();
}

status read(const json& config, const char* name, bool& target) {
  if (!present(config, name))
    return ok_status();
  if (!config.at(name).is_boolean())
    return problem{field(name) + " must be true or false, got " + config.at(name).dump()};
  target = config.at(name).get<bool>();
  return ok_status();
}

status read_required(const json& config, const char* name, int& target) {
  if (!present(config, name))
    return problem{field(name) + " is missing"};
  return read(config, name, target);
}

// Token ids may be an integer, null (none: -1) or, in newer configs, a list whose first entry we take.
status read_token_id(const json& config, const char* name, int& target) {
  auto it = config.find(name);
  if (it == config.end())
    return ok_status();
  if (it->is_null()) {
    target = -1;
    return ok_status();
  }
  auto value = to_int(it->is_array() && !it->empty() ? it->front() : *it, name);
  if (!value)
    return value.error();
  target = *value;
  return ok_status();
}

// The keys whose values change the computation in ways tailor's model does not implement.
status check_unsupported(const json& config) {
  if (auto it = config.find("model_type"); it != config.end() && !it->is_null()) {
    const auto type = it->is_string() ? it->get<std::string>() : it->dump();
    if (type != "llama" && type != "mistral")
      return problem{field("model_type") + " is \"" + type +
                     "\"; only \"llama\" (and \"mistral\" without a sliding window) are supported"};
    if (type == "mistral")
      if (auto window = config.find("sliding_window"); window != config.end() && !window->is_null())
        return problem{field("sliding_window") + " is " + window->dump() +
                       "; sliding-window attention is not supported (it must be null)"};
  }
  if (auto it = config.find("hidden_act"); it != config.end() && !it->is_null() && *it != "silu")
    return problem{field("hidden_act") + " is " + it->dump() + "; only \"silu\" (SwiGLU) is supported"};
  if (auto it = config.find("rope_scaling"); it != config.end() && !it->is_null())
    return problem{field("rope_scaling") + " is set (" + it->dump() +
                   "); rope scaling is not supported, it must be null"};
  if (auto it = config.find("rope_parameters"); it != config.end() && !it->is_null()) {
    auto type = it->is_object() ? it->value("rope_type", json("default")) : json(nullptr);
    if (type != "default")
      return problem{field("rope_parameters") + " has rope_type " + type.dump() +
                     "; only \"default\" rotary positions are supported"};
  }
  for (const char* bias : {"attention_bias", "mlp_bias"}) {
    bool has_bias = false;
    if (auto s = read(config, bias, has_bias); !s)
      return s;
    if (has_bias)
      return problem{field(bias) + " is true; tailor's LLaMA has no biases"};
  }
  return ok_status();
}

} // namespace

status check_llama_config(const llama_config& c) {
  auto positive = [](int value, const char* name) -> status {
    if (value <= 0)
      return problem{field(name) + " must be positive, got " + std::to_string(value)};
    return ok_status();
  };
  for (auto [value, name] : {std::pair{c.hidden_size, "hidden_size"},
                             {c.intermediate_size, "intermediate_size"},
                             {c.num_hidden_layers, "num_hidden_layers"},
                             {c.num_attention_heads, "num_attention_heads"},
                             {c.num_key_value_heads, "num_key_value_heads"},
                             {c.head_dim, "head_dim"},
                             {c.vocab_size, "vocab_size"},
                             {c.max_position_embeddings, "max_position_embeddings"}})
    if (auto s = positive(value, name); !s)
      return s;
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    return problem{field("num_key_value_heads") + " (" + std::to_string(c.num_key_value_heads) +
                   ") must divide num_attention_heads (" + std::to_string(c.num_attention_heads) + ")"};
  // Rotary embeddings rotate pairs of channels.
  if (c.head_dim % 2 != 0)
    return problem{field("head_dim") + " must be even, got " + std::to_string(c.head_dim)};
  if (!(c.rope_theta > 0))
    return problem{field("rope_theta") + " must be positive, got " + std::to_string(c.rope_theta)};
  if (!(c.rms_norm_eps > 0))
    return problem{field("rms_norm_eps") + " must be positive, got " + std::to_string(c.rms_norm_eps)};
  if (!(c.initializer_range >= 0))
    return problem{field("initializer_range") + " must not be negative"};
  for (auto [value, name] : {std::pair{c.bos_token_id, "bos_token_id"},
                             {c.eos_token_id, "eos_token_id"},
                             {c.pad_token_id, "pad_token_id"}})
    if (value < -1 || value >= c.vocab_size)
      return problem{field(name) + " (" + std::to_string(value) + ") is not a token id below vocab_size (" +
                     std::to_string(c.vocab_size) + ")"};
  return ok_status();
}

namespace {

result<llama_config> parse_fields(const json& config) {
  if (!config.is_object())
    return problem{"a model config must be a JSON object"};
  if (auto s = check_unsupported(config); !s)
    return s.error();

  llama_config c;
  // Absent optional keys take transformers' LlamaConfig defaults.
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000.0;
  c.initializer_range = 0.02;
  c.tie_word_embeddings = false;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.pad_token_id = -1;
  // transformers 5 nests rope_theta in rope_parameters; older configs keep it at the top level.
  const auto& rope = present(config, "rope_parameters") ? config.at("rope_parameters") : json::object();
  for (const status& s :
       {read_required(config, "hidden_size", c.hidden_size),
        read_required(config, "intermediate_size", c.intermediate_size),
        read_required(config, "num_hidden_layers", c.num_hidden_layers),
        read_required(config, "num_attention_heads", c.num_attention_heads),
        read_required(config, "vocab_size", c.vocab_size),
        read(config, "max_position_embeddings", c.max_position_embeddings),
        read(config, "rope_theta", c.rope_theta), read(rope, "rope_theta", c.rope_theta),
        read(config, "rms_norm_eps", c.rms_norm_eps), read(config, "initializer_range", c.initializer_range),
        read(config, "tie_word_embeddings", c.tie_word_embeddings),
        read_token_id(config, "bos_token_id", c.bos_token_id),
        read_token_id(config, "eos_token_id", c.eos_token_id),
        read_token_id(config, "pad_token_id", c.pad_token_id)})
    if (!s)
      return s.error();

  c.num_key_value_heads = c.num_attention_heads;
  if (auto s = read(config, "num_key_value_heads", c.num_key_value_heads); !s)
    return s.error();
  if (present(config, "head_dim")) {
    if (auto s = read(config, "head_dim", c.head_dim); !s)
      return s.error();
  } else {
    if (c.num_attention_heads <= 0)
      return problem{field("num_attention_heads") + " must be positive"};
    if (c.hidden_size % c.num_attention_heads != 0)
      return problem{field("num_attention_heads") + " (" + std::to_string(c.num_attention_heads) +
                     ") must divide hidden_size (" + std::to_string(c.hidden_size) +
                     ") when head_dim is absent"};
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (auto s = check_llama_config(c); !s)
    return s.error();
  return c;
}

} // namespace

result<llama_config> parse_llama_config(const json& config) {
  try {
    return parse_fields(config);
  } catch (const std::exception& e) { // the checks above should leave nothing to throw; stay a value anyway
    return problem{std::string{"unreadable model config: "} + e.what()};
  }
}

result<llama_config> load_llama_config(const std::filesystem::path& config_json) {
  std::error_code ec;
  if (std::filesystem::is_directory(config_json, ec))
    return problem{config_json.string() + ": is a directory, expected the model's config.json"};
  std::ifstream in(config_json);
  if (!in)
    return problem{config_json.string() + ": cannot open the model config"};
  json parsed = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return problem{config_json.string() + ": not valid JSON"};
  auto config = parse_llama_config(parsed);
  if (!config)
    return problem{config_json.string() + ": " + config.error().message};
  return config;
}

json to_hf_config(const llama_config& c) {
  auto id_or_null = [](int id) { return id < 0 ? json(nullptr) : json(id); };
  return json{
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"mlp_bias", false},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rope_theta", c.rope_theta},
      {"rope_scaling", nullptr},
      {"rms_norm_eps", c.rms_norm_eps},
      {"initializer_range", c.initializer_range},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"bos_token_id", id_or_null(c.bos_token_id)},
      {"eos_token_id", id_or_null(c.eos_token_id)},
      {"pad_token_id", id_or_null(c.pad_token_id)},
      {"pretraining_tp", 1},
      {"use_cache", true},
      {"torch_dtype", "float32"},
  };
}

} // namespace tailor::gpu

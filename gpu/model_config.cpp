// Parsing and checking Hugging Face `config.json` files of the families tailor takes, and writing one that
// transformers loads as the same family.
#include "gpu/model_config.hpp"

#include "gpu/config_fields.hpp"

#include <fstream>
#include <string>

namespace tailor::gpu {
namespace {

using namespace config_fields;
using nlohmann::json;

// Heads and their width: absent keys take the family's defaults (Qwen3 has head_dim 128 whatever the hidden
// size); an explicit null means "derive it", as transformers reads it.
status read_heads(const json& config, const model_family& family, llama_config& c) {
  const bool kv_null = config.contains("num_key_value_heads") && config.at("num_key_value_heads").is_null();
  c.num_key_value_heads =
      family.num_key_value_heads > 0 && !kv_null ? family.num_key_value_heads : c.num_attention_heads;
  if (auto s = read(config, "num_key_value_heads", c.num_key_value_heads); !s)
    return s;
  if (present(config, "head_dim"))
    return read(config, "head_dim", c.head_dim);
  if (family.head_dim > 0 && !config.contains("head_dim")) {
    c.head_dim = family.head_dim;
    return ok_status();
  }
  if (c.num_attention_heads <= 0)
    return problem{field("num_attention_heads") + " must be positive"};
  if (c.hidden_size % c.num_attention_heads != 0)
    return problem{field("num_attention_heads") + " (" + std::to_string(c.num_attention_heads) +
                   ") must divide hidden_size (" + std::to_string(c.hidden_size) +
                   ") when head_dim is absent"};
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return ok_status();
}

result<llama_config> parse_fields(const json& config) {
  if (!config.is_object())
    return problem{"a model config must be a JSON object"};
  auto identified = identify_family(config);
  if (!identified)
    return identified.error();
  const model_family& family = **identified;

  llama_config c;
  // Absent optional keys take the defaults of the family's transformers config class.
  c.max_position_embeddings = family.max_position_embeddings;
  c.rms_norm_eps = 1e-6;
  c.initializer_range = 0.02;
  c.tie_word_embeddings = false;
  c.bos_token_id = family.bos_token_id;
  c.eos_token_id = family.eos_token_id;
  c.pad_token_id = -1;
  for (const status& s :
       {read_required(config, "hidden_size", c.hidden_size),
        read_required(config, "intermediate_size", c.intermediate_size),
        read_required(config, "num_hidden_layers", c.num_hidden_layers),
        read_required(config, "num_attention_heads", c.num_attention_heads),
        read_required(config, "vocab_size", c.vocab_size),
        read(config, "max_position_embeddings", c.max_position_embeddings),
        read(config, "rms_norm_eps", c.rms_norm_eps), read(config, "initializer_range", c.initializer_range),
        read(config, "tie_word_embeddings", c.tie_word_embeddings),
        read_token_id(config, "bos_token_id", c.bos_token_id),
        read_token_id(config, "eos_token_id", c.eos_token_id),
        read_token_id(config, "pad_token_id", c.pad_token_id)})
    if (!s)
      return s.error();
  if (auto s = read_heads(config, family, c); !s)
    return s.error();
  auto rope = read_rope_settings(config, c.max_position_embeddings);
  if (!rope)
    return rope.error();
  c.rope_theta = rope->theta;
  c.rope_scaling = rope->scaling;
  if (auto s = read_family_fields(config, family, c); !s)
    return s.error();
  c.source.json = config;
  if (auto s = check_llama_config(c); !s)
    return s.error();
  return c;
}

} // namespace

bool slides(const llama_config& c, int layer) {
  return c.sliding_window > 0 &&
         (c.sliding_layers.empty() || c.sliding_layers.at(static_cast<std::size_t>(layer)));
}

rope_settings rope_of(const llama_config& c) {
  return {c.rope_theta, c.rope_scaling};
}

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
  if (auto s = check_rope_settings(rope_of(c)); !s)
    return s;
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
  return check_family_features(c);
}

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
  json out = c.source.json.is_object() ? c.source.json : json::object();
  // Written below under the names transformers reads: the dtype as `torch_dtype`, the pretraining context of
  // a rope scaling inside the rope settings.
  for (const char* stale : {"dtype", "original_max_position_embeddings", "rope_type"})
    out.erase(stale);
  auto id_or_null = [](int id) { return id < 0 ? json(nullptr) : json(id); };
  // Llama-3 stops on several ids: a source list that starts with the eos id tailor uses stays as it was.
  auto eos = id_or_null(c.eos_token_id);
  if (auto it = out.find("eos_token_id");
      it != out.end() && it->is_array() && !it->empty() && it->front() == eos)
    eos = *it;
  const auto rope = rope_of(c);
  const json fields{
      {"hidden_act", "silu"},
      {"attention_dropout", 0.0},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rope_theta", c.rope_theta},
      {"rope_scaling", rope_scaling_json(rope)},
      {"rope_parameters", rope_parameters_json(rope)},
      {"rms_norm_eps", c.rms_norm_eps},
      {"initializer_range", c.initializer_range},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"bos_token_id", id_or_null(c.bos_token_id)},
      {"eos_token_id", eos},
      {"pad_token_id", id_or_null(c.pad_token_id)},
      {"use_cache", true},
      {"torch_dtype", "float32"},
  };
  for (const auto& [key, value] : fields.items())
    out[key] = value;
  write_family_fields(c, out);
  return out;
}

} // namespace tailor::gpu

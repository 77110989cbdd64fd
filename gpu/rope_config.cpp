// Reading and writing the rotary settings of `config.json` in both of transformers' layouts, so that no file
// silently falls back to theta 10000 and what tailor writes reads back the same in transformers 4 and 5.
#include "gpu/rope_config.hpp"

#include "gpu/config_fields.hpp"

#include <string>

namespace tailor::gpu {
namespace {

using namespace config_fields;
using nlohmann::json;

// transformers 5 nests rope_parameters by layer type for families whose layers differ ({"full_attention":
// {...}, "sliding_attention": {...}}). tailor's layers share one rotary table: take the nested object when
// every layer type has the same one.
result<json> single_layer_parameters(const json& parameters, std::string_view name) {
  const bool flat = parameters.empty() || parameters.contains("rope_type") || parameters.contains("type") ||
                    parameters.contains("rope_theta") || parameters.contains("factor");
  bool nested = !flat;
  for (const auto& [key, value] : parameters.items())
    nested = nested && (value.is_object() || value.is_null());
  if (!nested)
    return parameters;
  const json* first = nullptr;
  std::string layer_types;
  for (const auto& [key, value] : parameters.items()) {
    layer_types += (layer_types.empty() ? "" : ", ") + key;
    if (value.is_null())
      continue;
    if (first && *first != value)
      return problem{field(name) + " differs between layer types (" + layer_types +
                     "); tailor needs the same rotary positions in every layer"};
    first = first ? first : &value;
  }
  return first ? *first : json::object();
}

// llama3 and yarn stretch from the pretraining context: the object's value, else max_position_embeddings; a
// top-level `original_max_position_embeddings` wins over both, as in transformers.
status read_original_context(const json& config, const json& chosen, std::string_view name,
                             int max_position_embeddings, rope_scaling_config& scaling) {
  scaling.original_max_position_embeddings = max_position_embeddings;
  if (auto s =
          read(chosen, "original_max_position_embeddings", scaling.original_max_position_embeddings, name);
      !s)
    return s;
  return read(config, "original_max_position_embeddings", scaling.original_max_position_embeddings);
}

status read_yarn(const json& chosen, std::string_view name, rope_scaling_config& scaling) {
  double beta_fast = 0, beta_slow = 0; // transformers takes 0 and null as its defaults (`or 32`, `or 1`)
  for (const status& s :
       {read(chosen, "beta_fast", beta_fast, name), read(chosen, "beta_slow", beta_slow, name),
        read(chosen, "truncate", scaling.truncate, name)})
    if (!s)
      return s;
  scaling.beta_fast = beta_fast != 0 ? beta_fast : 32.0;
  scaling.beta_slow = beta_slow != 0 ? beta_slow : 1.0;
  for (auto [key, target] : {std::pair{"mscale", &scaling.mscale},
                             {"mscale_all_dim", &scaling.mscale_all_dim},
                             {"attention_factor", &scaling.attention_factor}}) {
    if (!present(chosen, key))
      continue;
    double value = 0;
    if (auto s = read(chosen, key, value, name); !s)
      return s;
    *target = value;
  }
  return ok_status();
}

status check_partial_rotary(const json& object, std::string_view prefix) {
  double factor = 1.0;
  if (auto s = read(object, "partial_rotary_factor", factor, prefix); !s)
    return s;
  if (factor != 1.0)
    return problem{field("partial_rotary_factor", prefix) + " is " + std::to_string(factor) +
                   "; tailor rotates every channel of a head (it must be 1)"};
  return ok_status();
}

} // namespace

std::string_view to_string(rope_scaling_type type) {
  switch (type) {
  case rope_scaling_type::none:
    return "default";
  case rope_scaling_type::linear:
    return "linear";
  case rope_scaling_type::llama3:
    return "llama3";
  case rope_scaling_type::yarn:
    return "yarn";
  }
  return "default";
}

result<rope_settings> read_rope_settings(const json& config, int max_position_embeddings) {
  std::string_view name;
  if (present(config, "rope_scaling"))
    name = "rope_scaling";
  else if (present(config, "rope_parameters"))
    name = "rope_parameters";
  json chosen = json::object();
  if (!name.empty()) {
    if (!config.at(name).is_object())
      return problem{field(name) + " must be an object, got " + config.at(name).dump()};
    auto single = single_layer_parameters(config.at(name), name);
    if (!single)
      return single.error();
    chosen = std::move(single.value());
  }

  rope_settings rope;
  for (const status& s :
       {read(config, "rope_theta", rope.theta), read(chosen, "rope_theta", rope.theta, name),
        check_partial_rotary(config, {}), check_partial_rotary(chosen, name)})
    if (!s)
      return s.error();

  std::string type = "default";
  const char* type_key = chosen.contains("rope_type") ? "rope_type" : "type";
  if (auto s = read(chosen, type_key, type, name); !s)
    return s.error();
  auto& scaling = rope.scaling;
  if (type == "default")
    return rope;
  if (type == "linear") {
    scaling.type = rope_scaling_type::linear;
    if (auto s = read_required(chosen, "factor", scaling.factor, name); !s)
      return s.error();
    return rope;
  }
  if (type == "llama3" || type == "yarn") {
    scaling.type = type == "llama3" ? rope_scaling_type::llama3 : rope_scaling_type::yarn;
    if (auto s = read_required(chosen, "factor", scaling.factor, name); !s)
      return s.error();
    if (auto s = read_original_context(config, chosen, name, max_position_embeddings, scaling); !s)
      return s.error();
    if (type == "yarn") {
      if (auto s = read_yarn(chosen, name, scaling); !s)
        return s.error();
      return rope;
    }
    for (const status& s : {read_required(chosen, "low_freq_factor", scaling.low_freq_factor, name),
                            read_required(chosen, "high_freq_factor", scaling.high_freq_factor, name)})
      if (!s)
        return s.error();
    return rope;
  }
  return problem{field(type_key, name) + " is \"" + type +
                 "\"; tailor implements the rope types default, linear, llama3 and yarn (not dynamic or "
                 "longrope, whose frequencies change with the batch)"};
}

status check_rope_settings(const rope_settings& rope) {
  if (!(rope.theta > 0))
    return problem{field("rope_theta") + " must be positive, got " + std::to_string(rope.theta)};
  const auto& s = rope.scaling;
  if (s.type == rope_scaling_type::none)
    return ok_status();
  const std::string object{"rope_parameters"};
  if (!(s.factor > 0))
    return problem{field("factor", object) + " must be positive, got " + std::to_string(s.factor)};
  if (s.original_max_position_embeddings < 0)
    return problem{field("original_max_position_embeddings", object) + " must not be negative"};
  if (s.type == rope_scaling_type::llama3 &&
      !(s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor))
    return problem{field("high_freq_factor", object) + " (" + std::to_string(s.high_freq_factor) +
                   ") must be greater than low_freq_factor (" + std::to_string(s.low_freq_factor) +
                   "), which must be positive"};
  if (s.type == rope_scaling_type::yarn && !(s.beta_fast > 0 && s.beta_slow > 0))
    return problem{field("beta_fast", object) + " and beta_slow must be positive"};
  return ok_status();
}

namespace {

json scaling_fields(const rope_settings& rope) {
  const auto& s = rope.scaling;
  json out{{"rope_type", to_string(s.type)}};
  if (s.type == rope_scaling_type::none)
    return out;
  out["factor"] = s.factor;
  if (s.type == rope_scaling_type::linear)
    return out;
  // 0 means "the model's context": a config built in code; files always name it (it was read or defaulted).
  if (s.original_max_position_embeddings > 0)
    out["original_max_position_embeddings"] = s.original_max_position_embeddings;
  if (s.type == rope_scaling_type::llama3) {
    out["low_freq_factor"] = s.low_freq_factor;
    out["high_freq_factor"] = s.high_freq_factor;
    return out;
  }
  out["beta_fast"] = s.beta_fast;
  out["beta_slow"] = s.beta_slow;
  out["truncate"] = s.truncate;
  for (auto [key, value] : {std::pair{"mscale", &s.mscale},
                            {"mscale_all_dim", &s.mscale_all_dim},
                            {"attention_factor", &s.attention_factor}})
    if (*value)
      out[key] = **value;
  return out;
}

} // namespace

json rope_parameters_json(const rope_settings& rope) {
  auto out = scaling_fields(rope);
  out["rope_theta"] = rope.theta;
  return out;
}

json rope_scaling_json(const rope_settings& rope) {
  if (rope.scaling.type == rope_scaling_type::none)
    return nullptr;
  return scaling_fields(rope);
}

} // namespace tailor::gpu

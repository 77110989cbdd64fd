// Rotary position settings as `config.json` gives them (`rope_parameters`, or the older `rope_theta` and
// `rope_scaling`): which scaling, its numbers, read and written the way transformers reads and writes them.
#pragma once

#include "io/common/result.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace tailor::gpu {

// transformers' rope types that tailor computes exactly. `dynamic` (frequencies that change with the length
// of each batch) and `longrope` are refused.
enum class rope_scaling_type : std::uint8_t { none, linear, llama3, yarn };
std::string_view to_string(rope_scaling_type type); // transformers' name: "default", "linear", ...

// How the rotary frequencies are stretched for a longer context than the model was trained on.
struct rope_scaling_config {
  rope_scaling_type type = rope_scaling_type::none;
  double factor = 1.0; // linear, llama3, yarn: how much longer the context becomes
  // llama3: wavelengths below original_max_position_embeddings / high_freq_factor stay, those above
  // original / low_freq_factor are divided by factor, and those between are interpolated.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position_embeddings =
      0; // llama3, yarn: the pretraining context; 0: max_position_embeddings
  // yarn's ramp between interpolated and extrapolated frequencies, and its scale of cos and sin.
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> mscale, mscale_all_dim, attention_factor;
  bool truncate = true;

  friend bool operator==(const rope_scaling_config&, const rope_scaling_config&) = default;
};

struct rope_settings {
  double theta = 10000.0;
  rope_scaling_config scaling;
};

// Reads theta and scaling from a whole `config.json` as transformers 5 does: `rope_scaling`, when set, takes
// the place of `rope_parameters`; theta is the chosen object's `rope_theta`, else the top-level `rope_theta`,
// else 10000. Per-layer-type `rope_parameters` are taken when every layer type has the same ones. Unknown
// rope types, `partial_rotary_factor` other than 1 and malformed values are errors naming the field.
result<rope_settings> read_rope_settings(const nlohmann::json& config, int max_position_embeddings);

// Checks the numbers (positive theta and factor, llama3's factors apart, ...); the message names the field.
status check_rope_settings(const rope_settings& rope);

// transformers 5's `rope_parameters` object: {"rope_type", "rope_theta", and the scaling's fields}.
nlohmann::json rope_parameters_json(const rope_settings& rope);

// The same for readers of transformers 4: the top-level `rope_scaling` (null without scaling).
nlohmann::json rope_scaling_json(const rope_settings& rope);

} // namespace tailor::gpu

// Rotary frequencies and tables, written as transformers' modeling_rope_utils.py computes them: the same
// float32 operations in the same order (Python's `a / tensor` is `tensor.reciprocal() * a`), so that the
// scaled tables equal transformers' to the bit and the logits follow.
#include "gpu/rope.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tailor::gpu {
namespace {

auto cpu_float() {
  return torch::TensorOptions().dtype(torch::kFloat).device(torch::kCPU);
}

// base^(2i / d) for i < d/2: the wavelengths (over 2 pi) of the unscaled rotation.
torch::Tensor base_powers(double theta, int64_t head_dim) {
  auto exponent = torch::arange(0, head_dim, 2, cpu_float()) / head_dim;
  return torch::pow(theta, exponent);
}

// `_compute_llama3_parameters`: long wavelengths are divided by the factor, short ones kept, and those
// between are interpolated smoothly.
torch::Tensor llama3_frequencies(const torch::Tensor& inv_freq, const rope_scaling_config& s,
                                 int original_context) {
  const double low_freq_wavelen = static_cast<double>(original_context) / s.low_freq_factor;
  const double high_freq_wavelen = static_cast<double>(original_context) / s.high_freq_factor;
  auto wavelen = inv_freq.reciprocal() * (2 * std::numbers::pi);
  auto scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  auto smooth_factor = (wavelen.reciprocal() * static_cast<int64_t>(original_context) - s.low_freq_factor) /
                       (s.high_freq_factor - s.low_freq_factor);
  auto smoothed = (1 - smooth_factor) * scaled / s.factor + smooth_factor * scaled;
  auto is_medium =
      wavelen.lt(high_freq_wavelen).logical_not().logical_and(wavelen.gt(low_freq_wavelen).logical_not());
  return torch::where(is_medium, smoothed, scaled);
}

double yarn_mscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// `_compute_yarn_parameters`: interpolated frequencies below a band of dimensions, extrapolated above it, a
// linear ramp across it; cos and sin scaled by the attention factor.
rotary_frequencies yarn_frequencies(double theta, int64_t dim, const rope_scaling_config& s,
                                    int original_context) {
  double attention_factor = 0;
  if (s.attention_factor)
    attention_factor = *s.attention_factor;
  else if (s.mscale.value_or(0) != 0 && s.mscale_all_dim.value_or(0) != 0)
    attention_factor = yarn_mscale(s.factor, *s.mscale) / yarn_mscale(s.factor, *s.mscale_all_dim);
  else
    attention_factor = yarn_mscale(s.factor, 1.0);

  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(original_context / (rotations * 2 * std::numbers::pi))) /
           (2 * std::log(theta));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high)
    high += 0.001; // transformers' guard against a zero-width ramp

  auto pos_freqs = base_powers(theta, dim);
  auto extrapolation = pos_freqs.reciprocal();
  auto interpolation = (pos_freqs * s.factor).reciprocal();
  auto ramp = ((torch::arange(dim / 2, cpu_float()) - low) / (high - low)).clamp(0, 1);
  auto extrapolation_factor = 1 - ramp;
  auto inv_freq = interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
  return {inv_freq, attention_factor};
}

} // namespace

rotary_frequencies rotary_inverse_frequencies(const rope_settings& rope, int64_t head_dim,
                                              int max_position_embeddings) {
  const auto& s = rope.scaling;
  const int original_context =
      s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings : max_position_embeddings;
  auto inv_freq = base_powers(rope.theta, head_dim).reciprocal(); // [hd/2]
  switch (s.type) {
  case rope_scaling_type::none:
    return {inv_freq, 1.0};
  case rope_scaling_type::linear:
    return {inv_freq / s.factor, 1.0};
  case rope_scaling_type::llama3:
    return {llama3_frequencies(inv_freq, s, original_context), 1.0};
  case rope_scaling_type::yarn:
    return yarn_frequencies(rope.theta, head_dim, s, original_context);
  }
  return {inv_freq, 1.0};
}

std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& position_ids,
                                                      const rotary_frequencies& frequencies) {
  auto inv_freq = frequencies.inv_freq.to(position_ids.device());
  auto freqs = position_ids.to(torch::kFloat).unsqueeze(-1) * inv_freq; // [B, T, hd/2]
  auto angles = torch::cat({freqs, freqs}, -1).unsqueeze(1);            // [B, 1, T, hd]
  auto cos = angles.cos();
  auto sin = angles.sin();
  if (frequencies.attention_scaling != 1.0) {
    cos = cos * frequencies.attention_scaling;
    sin = sin * frequencies.attention_scaling;
  }
  sin.narrow(-1, 0, sin.size(-1) / 2).neg_();
  return {cos, sin};
}

// rotate_half(x1, x2) = (-x2, x1): the halves swapped (a roll by half the width) with the sign that
// `signed_sin` carries.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& signed_sin) {
  return x * cos + x.roll(x.size(-1) / 2, -1) * signed_sin;
}

} // namespace tailor::gpu

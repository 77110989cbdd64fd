// What the safetensors reader and writer share: the dtype table and the weight files' names.
#pragma once

#include <bit>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <torch/torch.h>

// A namespace of its own: these are the safetensors files' details, not part of tailor::gpu's interface.
namespace tailor::gpu::safetensors_format {

// The format stores numbers little-endian; tensors are copied byte for byte.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

struct dtype_info {
  std::string_view name;
  torch::ScalarType type;
  std::size_t size;
};

inline constexpr dtype_info known_dtypes[] = {
    {"F64", torch::kDouble, 8},
    {"F32", torch::kFloat, 4},
    {"F16", torch::kHalf, 2},
    {"BF16", torch::kBFloat16, 2},
    {"F8_E4M3", torch::kFloat8_e4m3fn, 1},
    {"F8_E5M2", torch::kFloat8_e5m2, 1},
    {"I64", torch::kLong, 8},
    {"I32", torch::kInt, 4},
    {"I16", torch::kShort, 2},
    {"I8", torch::kChar, 1},
    {"U8", torch::kByte, 1},
    {"BOOL", torch::kBool, 1},
};

inline std::optional<dtype_info> dtype_named(std::string_view name) {
  for (const auto& info : known_dtypes)
    if (info.name == name)
      return info;
  return std::nullopt;
}

inline std::optional<dtype_info> dtype_of(torch::ScalarType type) {
  for (const auto& info : known_dtypes)
    if (info.type == type)
      return info;
  return std::nullopt;
}

inline const std::string index_name = "model.safetensors.index.json";
inline const std::string single_name = "model.safetensors";

} // namespace tailor::gpu::safetensors_format

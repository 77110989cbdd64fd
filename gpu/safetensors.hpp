// The safetensors format (Hugging Face): read and write named tensors, single file or sharded.
#pragma once

#include "io/common/atomic_file.hpp"

#include "io/common/result.hpp"

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <torch/torch.h>
#include <utility>
#include <vector>

namespace tailor::gpu {

using named_tensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Reads every tensor of one `.safetensors` file onto the CPU, in its stored dtype (F64, F32, F16, BF16,
// F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL). Any malformed file is a problem naming the file and what is
// wrong, never a crash.
result<std::map<std::string, torch::Tensor>> load_safetensors(const std::filesystem::path& file);

// The `__metadata__` strings of one file's header (empty when it has none), read without the tensor data.
result<std::map<std::string, std::string>> load_safetensors_metadata(const std::filesystem::path& file);

// Reads a model directory's weights: `model.safetensors.index.json` and its shards when present, else
// `model.safetensors`.
result<std::map<std::string, torch::Tensor>> load_safetensors_dir(const std::filesystem::path& dir);

// A stored tensor's dtype (the format's name: "BF16", ...) and shape, read from a header without the data.
struct stored_tensor {
  std::string dtype;
  std::vector<int64_t> shape;
};
// Every tensor of a model directory (as load_safetensors_dir finds them), from the headers alone: cheap at any
// model size.
result<std::map<std::string, stored_tensor>> load_safetensors_dir_shapes(const std::filesystem::path& dir);

// Writes `tensors` in name order (contiguous CPU copies are made as needed), floating-point tensors converted
// to `dtype` — kFloat, kHalf, kBFloat16 or kDouble — and integer/bool tensors as they are; atomically: a
// temporary file in the same directory, fsync, rename, fsync of the directory.
status save_safetensors(const std::filesystem::path& file, const named_tensors& tensors,
                        torch::ScalarType dtype = torch::kFloat,
                        const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes `model.safetensors`, or shards of at most `max_shard_bytes` (a larger tensor gets a shard of its
// own) plus `model.safetensors.index.json`, then removes weight files of an earlier save that the new one
// does not use, so that readers never see two layouts in one directory.
status save_safetensors_dir(const std::filesystem::path& dir, const named_tensors& tensors,
                            torch::ScalarType dtype = torch::kFloat,
                            std::size_t max_shard_bytes = std::size_t{5} << 30);

// Durable files (io/common/atomic_file.hpp), shared with the checkpoint writer.
using ::tailor::atomic_file;
using ::tailor::sync_directory;
using ::tailor::write_file_atomically;

} // namespace tailor::gpu

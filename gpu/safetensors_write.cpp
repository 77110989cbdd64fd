// Writing safetensors files and sharded weight directories, atomically, in the reference writer's layout.
#include "gpu/safetensors.hpp"
#include "gpu/safetensors_format.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

namespace tailor::gpu {

using namespace safetensors_format;

namespace {

namespace fs = std::filesystem;

const std::regex shard_pattern{R"(model-\d{5}-of-\d{5}\.safetensors)"};

// What a writer needs of one tensor before converting it: its name, final dtype and byte count.
struct planned_tensor {
  std::string name;
  torch::Tensor source;
  dtype_info dtype;
  std::uint64_t bytes = 0;
};

result<std::vector<planned_tensor>> plan_tensors(const named_tensors& tensors, torch::ScalarType dtype) {
  if (dtype != torch::kFloat && dtype != torch::kHalf && dtype != torch::kBFloat16 && dtype != torch::kDouble)
    return problem{std::string{"cannot write floating-point tensors as "} + c10::toString(dtype) +
                   " (use float32, float16, bfloat16 or float64)"};
  std::vector<planned_tensor> planned;
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__")
      return problem{"`" + name + "` cannot name a tensor"};
    if (!names.insert(name).second)
      return problem{"tensor `" + name + "` is given twice"};
    if (!tensor.defined())
      return problem{"tensor `" + name + "` is undefined"};
    auto type = tensor.is_floating_point() ? dtype : tensor.scalar_type();
    auto info = dtype_of(type);
    if (!info)
      return problem{"tensor `" + name + "` has the dtype " + c10::toString(type) +
                     ", which safetensors lacks"};
    planned.push_back({name, tensor, *info, static_cast<std::uint64_t>(tensor.numel()) * info->size});
  }
  std::sort(planned.begin(), planned.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return planned;
}

status write_planned(const fs::path& file, const std::vector<planned_tensor>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& tensor : tensors) {
    header[tensor.name] = {{"dtype", std::string{tensor.dtype.name}},
                           {"shape", tensor.source.sizes().vec()},
                           {"data_offsets", {offset, offset + tensor.bytes}}};
    offset += tensor.bytes;
  }
  std::string text = header.dump();
  // Padding to 8 bytes keeps the data aligned for readers that map it, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  auto out = atomic_file::create(file);
  if (!out)
    return out.error();
  const std::uint64_t length = text.size();
  if (auto written = out->write(&length, 8); !written)
    return written;
  if (auto written = out->write(text.data(), text.size()); !written)
    return written;
  for (const auto& tensor : tensors) {
    auto bytes = tensor.source.detach().to(torch::kCPU, tensor.dtype.type).contiguous();
    if (auto written = out->write(bytes.data_ptr(), tensor.bytes); !written)
      return written;
  }
  return out->commit();
}

std::string shard_name(std::size_t index, std::size_t count) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

// Removes weight files of an earlier layout that `kept` does not name.
status remove_stale_weights(const fs::path& dir, const std::set<std::string>& kept) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator{dir, error}) {
    auto name = entry.path().filename().string();
    bool weights = name == single_name || name == index_name || std::regex_match(name, shard_pattern);
    if (weights && !kept.contains(name) && !fs::remove(entry.path(), error) && error)
      return problem{entry.path().string() + ": cannot remove a stale weight file: " + error.message()};
  }
  if (error)
    return problem{dir.string() + ": cannot list: " + error.message()};
  return sync_directory(dir);
}

} // namespace

status save_safetensors(const fs::path& file, const named_tensors& tensors, torch::ScalarType dtype,
                        const std::map<std::string, std::string>& metadata) {
  try {
    auto planned = plan_tensors(tensors, dtype);
    if (!planned)
      return problem{file.string() + ": " + planned.error().message};
    return write_planned(file, *planned, metadata);
  } catch (const std::exception& error) {
    return problem{file.string() + ": cannot write: " + error.what()};
  }
}

status save_safetensors_dir(const fs::path& dir, const named_tensors& tensors, torch::ScalarType dtype,
                            std::size_t max_shard_bytes) {
  try {
    auto planned = plan_tensors(tensors, dtype);
    if (!planned)
      return problem{dir.string() + ": " + planned.error().message};
    std::error_code error;
    fs::create_directories(dir, error);
    if (error)
      return problem{dir.string() + ": cannot create the directory: " + error.message()};

    // Greedy packing in name order, as transformers' own sharding does.
    std::vector<std::vector<planned_tensor>> shards(1);
    std::uint64_t shard_bytes = 0, total_bytes = 0;
    for (auto& tensor : *planned) {
      if (!shards.back().empty() && shard_bytes + tensor.bytes > max_shard_bytes) {
        shards.emplace_back();
        shard_bytes = 0;
      }
      shard_bytes += tensor.bytes;
      total_bytes += tensor.bytes;
      shards.back().push_back(std::move(tensor));
    }
    const std::map<std::string, std::string> metadata{{"format", "pt"}};
    if (shards.size() == 1) {
      if (auto written = write_planned(dir / single_name, shards.front(), metadata); !written)
        return written;
      return remove_stale_weights(dir, {single_name});
    }

    nlohmann::json weight_map = nlohmann::json::object();
    std::set<std::string> written_names{index_name};
    for (std::size_t i = 0; i < shards.size(); ++i) {
      auto name = shard_name(i, shards.size());
      if (auto written = write_planned(dir / name, shards[i], metadata); !written)
        return written;
      for (const auto& tensor : shards[i])
        weight_map[tensor.name] = name;
      written_names.insert(name);
    }
    // The index goes last: a reader that finds it finds every shard it names.
    nlohmann::json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    if (auto written = write_file_atomically(dir / index_name, index.dump(2) + "\n"); !written)
      return written;
    return remove_stale_weights(dir, written_names);
  } catch (const std::exception& error) {
    return problem{dir.string() + ": cannot write: " + error.what()};
  }
}

} // namespace tailor::gpu

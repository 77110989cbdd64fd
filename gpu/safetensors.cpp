// Reading safetensors files and sharded weight directories, with every header field checked.
#include "gpu/safetensors.hpp"

#include "gpu/safetensors_format.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace tailor::gpu {

using namespace safetensors_format;

namespace {

namespace fs = std::filesystem;

// The reference implementation refuses headers over 100 MB; so do we, before allocating anything for one.
constexpr std::uint64_t max_header_bytes = 100'000'000;

std::string errno_text() {
  return std::strerror(errno);
}

// The whole file, read-only and memory-mapped: tensors are copied out of it without a second buffer.
class mapped_file {
public:
  static result<mapped_file> open(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return problem{file.string() + ": cannot open: " + errno_text()};
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      return problem{file.string() + ": not a regular file"};
    }
    mapped_file mapped;
    mapped.size_ = static_cast<std::size_t>(info.st_size);
    if (mapped.size_ > 0) {
      void* data = ::mmap(nullptr, mapped.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        ::close(fd);
        return problem{file.string() + ": cannot map: " + errno_text()};
      }
      mapped.data_ = static_cast<const char*>(data);
    }
    ::close(fd);
    return mapped;
  }
  mapped_file() = default;
  mapped_file(mapped_file&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  mapped_file& operator=(mapped_file&&) = delete;
  ~mapped_file() {
    if (data_)
      ::munmap(const_cast<char*>(data_), size_);
  }
  const char* data() const { return data_; }
  std::size_t size() const { return size_; }

private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

struct tensor_entry {
  std::string name;
  dtype_info dtype;
  std::vector<int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

struct parsed_header {
  std::vector<tensor_entry> tensors; // sorted by data offset
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0; // where the byte buffer begins in the file
};

result<tensor_entry> parse_entry(const std::string& name, const nlohmann::json& entry) {
  auto fail = [&](const std::string& what) { return problem{"tensor `" + name + "`: " + what}; };
  if (!entry.is_object())
    return fail("entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key))
      return fail(std::string{"field `"} + key + "` is missing");
  if (!entry["dtype"].is_string())
    return fail("`dtype` is not a string");
  auto dtype = dtype_named(entry["dtype"].get<std::string>());
  if (!dtype)
    return fail("unknown or unsupported dtype `" + entry["dtype"].get<std::string>() + "`");
  tensor_entry parsed{name, *dtype, {}, 0, 0};

  if (!entry["shape"].is_array())
    return fail("`shape` is not an array");
  std::uint64_t numel = 1;
  for (const auto& dim : entry["shape"]) {
    if (!dim.is_number_integer())
      return fail("`shape` holds " + dim.dump() + ", not an integer");
    if (dim.is_number_integer() && !dim.is_number_unsigned() && dim.get<int64_t>() < 0)
      return fail("`shape` has the negative dimension " + dim.dump());
    auto size = dim.get<std::uint64_t>();
    if (size > static_cast<std::uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, size, &numel))
      return fail("`shape` " + entry["shape"].dump() + " is too large");
    parsed.shape.push_back(static_cast<int64_t>(size));
  }

  const auto& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    return fail("`data_offsets` must be two non-negative integers, not " + offsets.dump());
  parsed.begin = offsets[0].get<std::uint64_t>();
  parsed.end = offsets[1].get<std::uint64_t>();
  if (parsed.end < parsed.begin)
    return fail("`data_offsets` " + offsets.dump() + " end before they begin");
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, dtype->size, &bytes) || bytes != parsed.end - parsed.begin)
    return fail("shape " + entry["shape"].dump() + " of " + std::string{dtype->name} + " needs " +
                std::to_string(numel) + " x " + std::to_string(dtype->size) + " bytes, but data_offsets " +
                offsets.dump() + " hold " + std::to_string(parsed.end - parsed.begin));
  return parsed;
}

// Checks the header against the file: sizes, JSON, each entry, and that the tensors tile the byte buffer
// exactly (no overlap, no gap, nothing after the last one), as the reference implementation demands.
result<parsed_header> parse_header(const char* data, std::size_t size) {
  if (size < 8)
    return problem{"not a safetensors file: " + std::to_string(size) +
                   " bytes, shorter than the 8-byte header length"};
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, data, 8);
  if (header_length > max_header_bytes)
    return problem{"header length " + std::to_string(header_length) +
                   " is over the 100 MB limit (not a safetensors file?)"};
  if (header_length > size - 8)
    return problem{"header length " + std::to_string(header_length) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes; truncated?)"};

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + header_length);
  } catch (const nlohmann::json::exception& error) {
    return problem{std::string{"header is not valid JSON: "} + error.what()};
  }
  if (!header.is_object())
    return problem{"header is not a JSON object"};

  parsed_header parsed;
  parsed.data_start = 8 + header_length;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        return problem{"`__metadata__` is not an object"};
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string())
          return problem{"`__metadata__` value of `" + key + "` is not a string"};
        parsed.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    auto tensor = parse_entry(name, entry);
    if (!tensor)
      return tensor.error();
    parsed.tensors.push_back(std::move(tensor.value()));
  }

  std::sort(parsed.tensors.begin(), parsed.tensors.end(),
            [](const auto& a, const auto& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  const std::uint64_t buffer_size = size - parsed.data_start;
  std::uint64_t expected_begin = 0;
  const tensor_entry* previous = nullptr;
  for (const auto& tensor : parsed.tensors) {
    std::string where = "tensor `" + tensor.name + "`: data_offsets [" + std::to_string(tensor.begin) + ", " +
                        std::to_string(tensor.end) + "]";
    if (tensor.end > buffer_size)
      return problem{where + " run past the data buffer (" + std::to_string(buffer_size) +
                     " bytes; truncated?)"};
    if (tensor.begin < expected_begin)
      return problem{where + " overlap tensor `" + (previous ? previous->name : "") + "`"};
    if (tensor.begin > expected_begin)
      return problem{where + " leave a gap after byte " + std::to_string(expected_begin) + " of the buffer"};
    expected_begin = tensor.end;
    previous = &tensor;
  }
  if (expected_begin != buffer_size)
    return problem{std::to_string(buffer_size - expected_begin) + " bytes of data follow the last tensor"};
  return parsed;
}

result<std::map<std::string, torch::Tensor>> read_tensors(const mapped_file& file,
                                                          const parsed_header& header) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& entry : header.tensors) {
    auto tensor = torch::empty(entry.shape, torch::TensorOptions{}.dtype(entry.dtype.type));
    if (entry.end > entry.begin)
      std::memcpy(tensor.data_ptr(), file.data() + header.data_start + entry.begin, entry.end - entry.begin);
    tensors.emplace(entry.name, std::move(tensor));
  }
  return tensors;
}

} // namespace

result<std::map<std::string, torch::Tensor>> load_safetensors(const fs::path& file) {
  try {
    auto mapped = mapped_file::open(file);
    if (!mapped)
      return mapped.error();
    auto header = parse_header(mapped->data(), mapped->size());
    if (!header)
      return problem{file.string() + ": " + header.error().message};
    return read_tensors(*mapped, *header);
  } catch (const std::exception& error) {
    return problem{file.string() + ": " + error.what()};
  }
}

result<std::map<std::string, std::string>> load_safetensors_metadata(const fs::path& file) {
  try {
    auto mapped = mapped_file::open(file);
    if (!mapped)
      return mapped.error();
    auto header = parse_header(mapped->data(), mapped->size());
    if (!header)
      return problem{file.string() + ": " + header.error().message};
    return header->metadata;
  } catch (const std::exception& error) {
    return problem{file.string() + ": " + error.what()};
  }
}

namespace {

// A weight directory's files and the tensor names each must hold: the index's shards, or the single file
// (whose names are whatever it holds: an empty list).
result<std::map<std::string, std::vector<std::string>>> weight_files(const fs::path& dir) {
  const auto index_file = dir / index_name;
  if (!fs::exists(index_file)) {
    if (fs::exists(dir / single_name))
      return std::map<std::string, std::vector<std::string>>{{single_name, {}}};
    bool has_bin = fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json");
    return problem{dir.string() + ": no " + single_name + " or " + index_name +
                   (has_bin ? " (only PyTorch .bin weights: convert them to safetensors)" : "")};
  }
  std::ifstream in{index_file};
  auto index = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object())
    return problem{index_file.string() + ": not a JSON object"};
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    return problem{index_file.string() + ": `weight_map` is missing or not an object"};
  std::map<std::string, std::vector<std::string>> names_by_shard;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      return problem{index_file.string() + ": weight_map: the shard of `" + name + "` is not a string"};
    auto shard_file = shard.get<std::string>();
    // Shards are plain names beside the index: a path could read any file on the machine.
    if (shard_file.empty() || shard_file.find('/') != std::string::npos || shard_file == "." ||
        shard_file == "..")
      return problem{index_file.string() + ": weight_map: `" + shard_file + "` is not a file name"};
    names_by_shard[shard_file].push_back(name);
  }
  for (const auto& [shard, names] : names_by_shard)
    if (!fs::exists(dir / shard))
      return problem{index_file.string() + ": shard `" + shard + "` (holding `" + names.front() +
                     "`) is missing"};
  return names_by_shard;
}

// Moves the tensors `names` (all of them when empty) from one file's `loaded` into `out`.
template <class Value>
status take_named(std::map<std::string, Value>& loaded, const std::vector<std::string>& names,
                  const fs::path& dir, const std::string& shard, std::map<std::string, Value>& out) {
  if (names.empty()) {
    out.merge(loaded);
    return ok_status();
  }
  for (const auto& name : names) {
    auto found = loaded.find(name);
    if (found == loaded.end())
      return problem{(dir / index_name).string() + ": tensor `" + name + "` is listed in shard `" + shard +
                     "` but absent from it"};
    out.emplace(name, std::move(found->second));
  }
  return ok_status();
}

} // namespace

result<std::map<std::string, torch::Tensor>> load_safetensors_dir(const fs::path& dir) {
  try {
    auto files = weight_files(dir);
    if (!files)
      return files.error();
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& [shard, names] : *files) {
      auto loaded = load_safetensors(dir / shard);
      if (!loaded)
        return loaded.error();
      if (auto taken = take_named(*loaded, names, dir, shard, tensors); !taken)
        return taken.error();
    }
    return tensors;
  } catch (const std::exception& error) {
    return problem{dir.string() + ": " + error.what()};
  }
}

result<std::map<std::string, stored_tensor>> load_safetensors_dir_shapes(const fs::path& dir) {
  try {
    auto files = weight_files(dir);
    if (!files)
      return files.error();
    std::map<std::string, stored_tensor> shapes;
    for (const auto& [shard, names] : *files) {
      auto mapped = mapped_file::open(dir / shard);
      if (!mapped)
        return mapped.error();
      auto header = parse_header(mapped->data(), mapped->size());
      if (!header)
        return problem{(dir / shard).string() + ": " + header.error().message};
      std::map<std::string, stored_tensor> in_file;
      for (const auto& entry : header->tensors)
        in_file.emplace(entry.name, stored_tensor{std::string{entry.dtype.name}, entry.shape});
      if (auto taken = take_named(in_file, names, dir, shard, shapes); !taken)
        return taken.error();
    }
    return shapes;
  } catch (const std::exception& error) {
    return problem{dir.string() + ": " + error.what()};
  }
}

} // namespace tailor::gpu

// Safetensors reading and writing: round trips, sharding, every malformed header, and the reference package.
#include "gpu/safetensors.hpp"
#include "tests/gpu_checkpoint_support.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <torch/torch.h>

namespace {

namespace fs = std::filesystem;
using tailor::gpu::load_safetensors;
using tailor::gpu::load_safetensors_dir;
using tailor::gpu::named_tensors;
using tailor::test::scratch_dir;

// The tensors of tests/parity/checkpoint_safetensors.py's `reference_tensors`, floats as `float_type`.
named_tensors reference_tensors(torch::ScalarType float_type) {
  auto f32 = torch::kFloat32;
  return {
      {"a.matrix", (torch::arange(12, f32).reshape({3, 4}) * 0.25 - 1).to(float_type)},
      {"b.vector", ((torch::arange(10, f32) - 5) / 4).to(float_type)},
      {"c.scalar", torch::tensor(3.5, f32).to(float_type)},
      {"d.empty", torch::zeros({0, 3}, float_type)},
      {"e.long", torch::arange(5, torch::kLong) * 1000000007},
      {"f.int", torch::tensor({-2, 0, 7}, torch::kInt)},
      {"g.bool", torch::tensor({true, false, true})},
  };
}

void check_equal(const std::map<std::string, torch::Tensor>& loaded, const named_tensors& expected) {
  REQUIRE(loaded.size() == expected.size());
  for (const auto& [name, want] : expected) {
    INFO("tensor " << name);
    REQUIRE(loaded.contains(name));
    const auto& got = loaded.at(name);
    CHECK(got.scalar_type() == want.scalar_type());
    CHECK(got.sizes() == want.sizes());
    CHECK(torch::equal(got, want));
  }
}

// A safetensors file from raw parts: the 8-byte length, the header text as given, the data bytes.
std::string raw_file(const std::string& header, const std::string& data = {}) {
  std::uint64_t length = header.size();
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &length, 8);
  return bytes + header + data;
}

std::string load_error(const fs::path& file) {
  auto loaded = load_safetensors(file);
  REQUIRE_FALSE(loaded.ok());
  return loaded.error().message;
}

} // namespace

TEST_CASE("safetensors round trip keeps names, dtypes, shapes and values", "[gpu][safetensors]") {
  scratch_dir dir{"st-roundtrip"};
  for (auto type : {torch::kFloat, torch::kHalf, torch::kBFloat16}) {
    INFO("dtype " << c10::toString(type));
    auto file = dir.path / "weights.safetensors";
    // Written from float32 sources: the writer converts floats to the requested dtype, not the integers.
    REQUIRE(tailor::gpu::save_safetensors(file, reference_tensors(torch::kFloat), type).ok());
    auto loaded = load_safetensors(file);
    REQUIRE(loaded.ok());
    check_equal(*loaded, reference_tensors(type));

    // The header is padded so that the data starts 8-byte aligned, and no temporary file is left behind.
    std::uint64_t header_length = 0;
    std::ifstream{file, std::ios::binary}.read(reinterpret_cast<char*>(&header_length), 8);
    CHECK(header_length % 8 == 0);
    CHECK(std::distance(fs::directory_iterator{dir.path}, fs::directory_iterator{}) == 1);
  }
  auto metadata = tailor::gpu::load_safetensors_metadata(dir.path / "weights.safetensors");
  REQUIRE(metadata.ok());
  CHECK(metadata->at("format") == "pt");
}

TEST_CASE("safetensors writes non-contiguous tensors and refuses bad input", "[gpu][safetensors]") {
  scratch_dir dir{"st-input"};
  auto matrix = torch::arange(6, torch::kFloat).reshape({2, 3});
  REQUIRE(tailor::gpu::save_safetensors(dir.path / "t.safetensors", {{"t", matrix.t()}}).ok());
  auto loaded = load_safetensors(dir.path / "t.safetensors");
  REQUIRE(loaded.ok());
  CHECK(torch::equal(loaded->at("t"), matrix.t().contiguous()));

  auto twice = tailor::gpu::save_safetensors(dir.path / "u.safetensors", {{"x", matrix}, {"x", matrix}});
  REQUIRE_FALSE(twice.ok());
  CHECK_THAT(twice.error().message, Catch::Contains("`x` is given twice"));
  auto as_int = tailor::gpu::save_safetensors(dir.path / "u.safetensors", {{"x", matrix}}, torch::kInt);
  REQUIRE_FALSE(as_int.ok());
  CHECK_FALSE(fs::exists(dir.path / "u.safetensors"));
  auto nowhere = tailor::gpu::save_safetensors(dir.path / "absent" / "u.safetensors", {{"x", matrix}});
  REQUIRE_FALSE(nowhere.ok());
  CHECK_THAT(nowhere.error().message, Catch::Contains("absent/u.safetensors"));
}

TEST_CASE("safetensors directories: sharded with an index, or one file, never both", "[gpu][safetensors]") {
  scratch_dir dir{"st-shards"};
  named_tensors tensors;
  for (int i = 0; i < 5; ++i)
    tensors.emplace_back("layer." + std::to_string(i) + ".weight", torch::full({4, 4}, i, torch::kFloat));
  // 64 bytes per tensor, at most 150 per shard: three shards of two, two and one tensors.
  REQUIRE(tailor::gpu::save_safetensors_dir(dir.path, tensors, torch::kFloat, 150).ok());
  CHECK(fs::exists(dir.path / "model.safetensors.index.json"));
  CHECK(fs::exists(dir.path / "model-00001-of-00003.safetensors"));
  CHECK(fs::exists(dir.path / "model-00003-of-00003.safetensors"));
  CHECK_FALSE(fs::exists(dir.path / "model.safetensors"));
  auto loaded = load_safetensors_dir(dir.path);
  REQUIRE(loaded.ok());
  check_equal(*loaded, tensors);

  // Saving again in one file removes the shards and the index.
  REQUIRE(tailor::gpu::save_safetensors_dir(dir.path, tensors).ok());
  CHECK(fs::exists(dir.path / "model.safetensors"));
  CHECK_FALSE(fs::exists(dir.path / "model.safetensors.index.json"));
  CHECK_FALSE(fs::exists(dir.path / "model-00001-of-00003.safetensors"));
  loaded = load_safetensors_dir(dir.path);
  REQUIRE(loaded.ok());
  check_equal(*loaded, tensors);
}

TEST_CASE("malformed safetensors files are errors naming the file and the fault", "[gpu][safetensors]") {
  scratch_dir dir{"st-bad"};
  auto file = dir.path / "bad.safetensors";
  const std::string f32_pair(8, '\0'); // the bytes of two float32 zeros

  struct bad_case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  const bad_case cases[] = {
      {"shorter than 8 bytes", "abc", "shorter than the 8-byte header length"},
      {"header length past the end", raw_file("{}").substr(0, 8) + "{", "runs past the end of the file"},
      {"absurd header length", std::string(8, '\xff'), "over the 100 MB limit"},
      {"bad JSON", raw_file("{\"a\": {"), "not valid JSON"},
      {"header not an object", raw_file("[1, 2]"), "not a JSON object"},
      {"entry not an object", raw_file(R"({"a": 5})"), "tensor `a`: entry is not an object"},
      {"missing field", raw_file(R"({"a": {"dtype": "F32", "shape": [2]}})"), "`data_offsets` is missing"},
      {"unknown dtype", raw_file(R"({"a": {"dtype": "F7", "shape": [2], "data_offsets": [0, 8]}})", f32_pair),
       "unknown or unsupported dtype `F7`"},
      {"negative dimension",
       raw_file(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", f32_pair),
       "negative dimension -2"},
      {"non-integer dimension",
       raw_file(R"({"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", f32_pair),
       "not an integer"},
      {"shape and offsets disagree",
       raw_file(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", f32_pair),
       "needs 3 x 4 bytes"},
      {"offsets past the buffer",
       raw_file(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", f32_pair),
       "run past the data buffer"},
      {"offsets reversed",
       raw_file(R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})", f32_pair),
       "end before they begin"},
      {"overlapping tensors",
       raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                f32_pair),
       "overlap tensor `a`"},
      {"gap between tensors",
       raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", f32_pair), "leave a gap"},
      {"trailing bytes",
       raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", f32_pair),
       "4 bytes of data follow the last tensor"},
      {"metadata not strings", raw_file(R"({"__metadata__": {"k": 1}})"), "is not a string"},
  };
  for (const auto& bad : cases) {
    INFO(bad.what);
    tailor::test::write_bytes(file, bad.bytes);
    auto message = load_error(file);
    CHECK_THAT(message, Catch::StartsWith(file.string() + ": "));
    CHECK_THAT(message, Catch::Contains(bad.expected));
  }

  CHECK_THAT(load_error(dir.path / "absent.safetensors"), Catch::Contains("absent.safetensors: cannot open"));
  CHECK_THAT(load_error(dir.path), Catch::Contains("not a regular file"));
}

TEST_CASE("malformed weight directories are errors naming the file at fault", "[gpu][safetensors]") {
  scratch_dir dir{"st-bad-dir"};
  auto error_of = [&] {
    auto loaded = load_safetensors_dir(dir.path);
    REQUIRE_FALSE(loaded.ok());
    return loaded.error().message;
  };
  CHECK_THAT(error_of(), Catch::Contains("no model.safetensors or model.safetensors.index.json"));

  auto index = dir.path / "model.safetensors.index.json";
  tailor::test::write_bytes(index, "{\"weight_map\": [1]}");
  CHECK_THAT(error_of(), Catch::Contains("`weight_map` is missing or not an object"));
  tailor::test::write_bytes(index, R"({"weight_map": {"w": "../../etc/passwd"}})");
  CHECK_THAT(error_of(), Catch::Contains("is not a file name"));

  tailor::test::write_bytes(index, R"({"weight_map": {"w": "model-00001-of-00002.safetensors",)"
                                   R"( "v": "model-00002-of-00002.safetensors"}})");
  REQUIRE(tailor::gpu::save_safetensors(dir.path / "model-00001-of-00002.safetensors",
                                        {{"w", torch::ones({2})}, {"extra", torch::ones({1})}})
              .ok());
  CHECK_THAT(error_of(),
             Catch::Contains("shard `model-00002-of-00002.safetensors` (holding `v`) is missing"));

  REQUIRE(
      tailor::gpu::save_safetensors(dir.path / "model-00002-of-00002.safetensors", {{"u", torch::ones({2})}})
          .ok());
  CHECK_THAT(error_of(),
             Catch::Contains("tensor `v` is listed in shard `model-00002-of-00002.safetensors` but "
                             "absent from it"));

  tailor::test::write_bytes(dir.path / "model-00002-of-00002.safetensors", "junk");
  CHECK_THAT(error_of(), Catch::Contains("model-00002-of-00002.safetensors: not a safetensors file"));
}

TEST_CASE("safetensors files move both ways between tailor and the reference package",
          "[gpu][safetensors][python]") {
  scratch_dir dir{"st-python"};
  const std::pair<torch::ScalarType, const char*> dtypes[] = {
      {torch::kFloat, "F32"}, {torch::kHalf, "F16"}, {torch::kBFloat16, "BF16"}};
  for (auto [type, name] : dtypes) {
    auto from_tailor = dir.path / (std::string{"from_tailor_"} + name + ".safetensors");
    REQUIRE(tailor::gpu::save_safetensors(from_tailor, reference_tensors(torch::kFloat), type).ok());
  }
  // The script checks the three files with safetensors.torch.load_file, then writes its own.
  CHECK(tailor::test::run_parity_script("checkpoint_safetensors.py", tailor::test::quoted(dir.path)) == 0);

  auto loaded = load_safetensors(dir.path / "from_python.safetensors");
  REQUIRE(loaded.ok());
  // The script stores the vector as F16 and the scalar as BF16, the rest as F32.
  auto expected = reference_tensors(torch::kFloat);
  expected[1].second = expected[1].second.to(torch::kHalf);
  expected[2].second = expected[2].second.to(torch::kBFloat16);
  check_equal(*loaded, expected);
  auto metadata = tailor::gpu::load_safetensors_metadata(dir.path / "from_python.safetensors");
  REQUIRE(metadata.ok());
  CHECK(metadata->at("written_by") == "safetensors");
}

// The student's config: config.json parsing, the to_hf_config round trip, bad values, unreadable files.
#include "gpu/model_config.hpp"
#include "gpu_model_support.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace tailor;
using namespace tailor::gpu;
using tailor::model_test::scratch;
using tailor::model_test::tiny_config;

namespace {

// TinyLlama-1.1B's config.json as published (transformers 4.x style).
const char* tinyllama_config = R"({
  "_name_or_path": "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632,
  "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22,
  "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null,
  "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.35.0", "use_cache": true, "vocab_size": 32000
})";

} // namespace

TEST_CASE("a TinyLlama config.json parses", "[gpu][config]") {
  scratch dir("config");
  std::ofstream(dir.path / "config.json") << tinyllama_config;
  auto config = load_llama_config(dir.path / "config.json");
  REQUIRE(config.ok());
  CHECK(config->hidden_size == 2048);
  CHECK(config->intermediate_size == 5632);
  CHECK(config->num_hidden_layers == 22);
  CHECK(config->num_attention_heads == 32);
  CHECK(config->num_key_value_heads == 4);
  CHECK(config->head_dim == 64);
  CHECK(config->vocab_size == 32000);
  CHECK(config->rope_theta == 10000.0);
  CHECK(config->rms_norm_eps == 1e-5);
  CHECK_FALSE(config->tie_word_embeddings);
  CHECK(config->bos_token_id == 1);
  CHECK(config->eos_token_id == 2);
  CHECK(config->pad_token_id == -1);
}

TEST_CASE("a transformers 5 config (rope_parameters, eos list, no kv heads) parses", "[gpu][config]") {
  auto json = nlohmann::json::parse(R"({"model_type": "llama", "hidden_size": 96, "intermediate_size": 256,
    "num_hidden_layers": 3, "num_attention_heads": 6, "vocab_size": 500, "dtype": "float32",
    "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}, "eos_token_id": [7, 9],
    "pad_token_id": 0, "some_future_key": {"anything": true}})");
  auto config = parse_llama_config(json);
  REQUIRE(config.ok());
  CHECK(config->num_key_value_heads == 6);
  CHECK(config->head_dim == 16);
  CHECK(config->rope_theta == 500000.0);
  CHECK(config->eos_token_id == 7);
  CHECK(config->pad_token_id == 0);
  CHECK(config->max_position_embeddings == 2048);
}

TEST_CASE("to_hf_config round-trips through parse_llama_config", "[gpu][config]") {
  auto original = tiny_config(2, true);
  original.rope_theta = 1234.5;
  original.rms_norm_eps = 1e-6;
  original.head_dim = 16; // differs from hidden / heads on purpose
  original.pad_token_id = 3;
  auto hf = to_hf_config(original);
  CHECK(hf["architectures"] == nlohmann::json::array({"LlamaForCausalLM"}));
  CHECK(hf["model_type"] == "llama");
  CHECK(hf["hidden_act"] == "silu");
  CHECK(hf["rope_scaling"].is_null());
  CHECK(hf["torch_dtype"] == "float32");
  auto parsed = parse_llama_config(hf);
  REQUIRE(parsed.ok());
  CHECK(parsed.value() == original);
  original.pad_token_id = -1;
  CHECK(to_hf_config(original)["pad_token_id"].is_null());
  CHECK(parse_llama_config(to_hf_config(original)).value() == original);
}

TEST_CASE("bad config values are errors naming the field", "[gpu][config]") {
  const auto base = nlohmann::json::parse(tinyllama_config);
  struct bad_case {
    const char* patch; // merged into the TinyLlama config
    const char* expected;
  };
  const bad_case cases[] = {
      {R"({"hidden_act": "gelu"})", "hidden_act"},
      {R"({"num_attention_heads": 30})", "num_attention_heads"}, // 30 does not divide 2048
      {R"({"num_key_value_heads": 5})", "num_key_value_heads"},
      {R"({"hidden_size": 0, "head_dim": 64})", "hidden_size"},
      {R"({"intermediate_size": -4})", "intermediate_size"},
      {R"({"num_hidden_layers": 0})", "num_hidden_layers"},
      {R"({"vocab_size": "many"})", "vocab_size"},
      {R"({"rope_scaling": {"type": "linear", "factor": 2.0}})", "rope_scaling"},
      {R"({"rope_parameters": {"rope_type": "yarn", "factor": 4.0}})", "rope_parameters"},
      {R"({"attention_bias": true})", "attention_bias"},
      {R"({"mlp_bias": true})", "mlp_bias"},
      {R"({"model_type": "gpt2"})", "model_type"},
      {R"({"model_type": "mistral", "sliding_window": 4096})", "sliding_window"},
      {R"({"rms_norm_eps": 0})", "rms_norm_eps"},
      {R"({"eos_token_id": 32000})", "eos_token_id"},
      {R"({"tie_word_embeddings": "yes"})", "tie_word_embeddings"},
      {R"({"vocab_size": 18446744073709551615})", "vocab_size"},
      {R"({"rope_parameters": {"rope_type": 3}})", "rope_parameters"},
      {R"({"rope_parameters": {"rope_theta": "big"}})", "rope_theta"},
  };
  for (const auto& c : cases) {
    auto json = base;
    json.merge_patch(nlohmann::json::parse(c.patch));
    auto config = parse_llama_config(json);
    INFO(c.patch);
    REQUIRE_FALSE(config.ok());
    CHECK_THAT(config.error().message, Catch::Contains(c.expected));
  }
  auto missing = base;
  missing.erase("vocab_size");
  REQUIRE_FALSE(parse_llama_config(missing).ok());
  CHECK_THAT(parse_llama_config(missing).error().message, Catch::Contains("`vocab_size` is missing"));
  // A mistral config without a sliding window is the LLaMA architecture.
  auto mistral = base;
  mistral.merge_patch(nlohmann::json::parse(R"({"model_type": "mistral", "sliding_window": null})"));
  CHECK(parse_llama_config(mistral).ok());
}

TEST_CASE("config files that cannot be read name the file", "[gpu][config]") {
  scratch dir("config-bad");
  auto missing = load_llama_config(dir.path / "nope.json");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("nope.json"));
  std::ofstream(dir.path / "broken.json") << "{\"hidden_size\": ";
  auto broken = load_llama_config(dir.path / "broken.json");
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error().message, Catch::Contains("broken.json"));
  std::ofstream(dir.path / "act.json") << R"({"hidden_act": "relu"})";
  auto act = load_llama_config(dir.path / "act.json");
  REQUIRE_FALSE(act.ok());
  CHECK_THAT(act.error().message, Catch::Contains("act.json") && Catch::Contains("hidden_act"));
}

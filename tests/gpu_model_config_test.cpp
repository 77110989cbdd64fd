// The student's config: config.json parsing (published Llama-3.2, Qwen3, Mistral files; both rope layouts),
// the to_hf_config round trip of each family, bad values, unreadable files.
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
      {R"({"rope_scaling": {"type": "dynamic", "factor": 2.0}})", "rope_scaling"},
      {R"({"rope_parameters": {"rope_type": "longrope", "factor": 4.0}})", "rope_parameters"},
      {R"({"rope_scaling": {"rope_type": "linear", "factor": 0}})", "factor"},
      {R"({"attention_bias": "yes"})", "attention_bias"},
      {R"({"mlp_bias": true})", "mlp_bias"},
      {R"({"model_type": "gpt2"})", "model_type"},
      {R"({"model_type": "mistral", "architectures": null, "sliding_window": "wide"})", "sliding_window"},
      {R"({"model_type": "qwen3", "architectures": ["LlamaForCausalLM"]})", "architectures"},
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
  mistral.merge_patch(nlohmann::json::parse(R"({"model_type": "mistral", "architectures": null})"));
  mistral["sliding_window"] = nullptr; // null, not absent: an absent one is MistralConfig's 4096
  REQUIRE(parse_llama_config(mistral).ok());
  CHECK(parse_llama_config(mistral)->sliding_window == 0);
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

namespace {

// Llama-3.2-1B-Instruct's config.json as published (transformers 4 keys: rope_theta and rope_scaling on top).
const char* llama32_config = R"({"architectures": ["LlamaForCausalLM"], "attention_bias": false,
  "attention_dropout": 0.0, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64,
  "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
  "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256})";

// Qwen3-0.6B's: head_dim 128 over 16 heads of a 1024 hidden size, an integer rope_theta.
const char* qwen3_config = R"({"architectures": ["Qwen3ForCausalLM"], "attention_bias": false,
  "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128,
  "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
  "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": 16,
  "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null,
  "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";

// Mistral-7B-v0.1's: a 4096-token sliding window in every layer.
const char* mistral_config =
    R"({"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.34.0.dev0",
  "use_cache": true, "vocab_size": 32000})";

} // namespace

TEST_CASE("published Llama-3.2, Qwen3 and Mistral configs parse with their families' features",
          "[gpu][config]") {
  auto llama = parse_llama_config(nlohmann::json::parse(llama32_config));
  REQUIRE(llama.ok());
  CHECK(llama->rope_theta == 500000.0);
  CHECK(llama->rope_scaling.type == rope_scaling_type::llama3);
  CHECK(llama->rope_scaling.factor == 32.0);
  CHECK(llama->rope_scaling.low_freq_factor == 1.0);
  CHECK(llama->rope_scaling.high_freq_factor == 4.0);
  CHECK(llama->rope_scaling.original_max_position_embeddings == 8192);
  CHECK(llama->tie_word_embeddings);
  CHECK(llama->eos_token_id == 128001);
  auto written = to_hf_config(*llama);
  CHECK(written["eos_token_id"] == nlohmann::json::array({128001, 128008, 128009}));
  CHECK(written["rope_parameters"]["rope_type"] == "llama3");
  CHECK(written["rope_parameters"]["rope_theta"] == 500000.0);
  CHECK(written["rope_scaling"]["original_max_position_embeddings"] == 8192);
  CHECK(written["transformers_version"] == "4.45.0.dev0"); // the source's own keys stay
  CHECK(parse_llama_config(written).value() == llama.value());

  auto qwen3 = parse_llama_config(nlohmann::json::parse(qwen3_config));
  REQUIRE(qwen3.ok());
  CHECK(qwen3->model_type == "qwen3");
  CHECK(qwen3->head_dim == 128);
  CHECK(qwen3->qk_norm);
  CHECK_FALSE(qwen3->attention_bias);
  CHECK(qwen3->rope_theta == 1000000.0);
  CHECK(qwen3->sliding_window == 0);
  CHECK(to_hf_config(*qwen3)["architectures"] == nlohmann::json::array({"Qwen3ForCausalLM"}));
  auto no_head_dim = nlohmann::json::parse(qwen3_config);
  no_head_dim.erase("head_dim");
  CHECK(parse_llama_config(no_head_dim)->head_dim == 128); // Qwen3Config's default, not 1024 / 16

  auto mistral = parse_llama_config(nlohmann::json::parse(mistral_config));
  REQUIRE(mistral.ok());
  CHECK(mistral->sliding_window == 4096);
  CHECK(mistral->sliding_layers.empty()); // every layer
  CHECK(to_hf_config(*mistral)["sliding_window"] == 4096);
  auto no_window = nlohmann::json::parse(mistral_config);
  no_window.erase("sliding_window");
  CHECK(parse_llama_config(no_window)->sliding_window == 4096); // MistralConfig's default
}

TEST_CASE("rope theta and scaling come from either layout, never silently from the default",
          "[gpu][config]") {
  auto parse = [](const char* text) {
    auto json = nlohmann::json::parse(tinyllama_config);
    json.erase("rope_theta");
    json.erase("rope_scaling");
    json.merge_patch(nlohmann::json::parse(text));
    auto config = parse_llama_config(json);
    INFO(text << ": " << (config ? std::string{} : config.error().message));
    REQUIRE(config.ok());
    return config.value();
  };
  CHECK(parse(R"({})").rope_theta == 10000.0);
  CHECK(parse(R"({"rope_theta": 250000.0})").rope_theta == 250000.0);
  CHECK(parse(R"({"rope_parameters": {"rope_type": "default", "rope_theta": 750000.0}})").rope_theta ==
        750000.0);
  // rope_parameters without its theta takes the top-level one.
  CHECK(parse(R"({"rope_theta": 5e5, "rope_parameters": {"rope_type": "default"}})").rope_theta == 5e5);
  // A set rope_scaling takes the place of rope_parameters, as in transformers 5.
  auto both = parse(R"({"rope_theta": 1234.0, "rope_scaling": {"type": "linear", "factor": 2.0},
    "rope_parameters": {"rope_type": "default", "rope_theta": 99.0}})");
  CHECK(both.rope_theta == 1234.0);
  CHECK(both.rope_scaling.type == rope_scaling_type::linear);
  CHECK(both.rope_scaling.factor == 2.0);
  // The pretraining context defaults to max_position_embeddings; a top-level one wins.
  auto yarn = parse(R"({"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "beta_fast": null}})");
  CHECK(yarn.rope_scaling.original_max_position_embeddings == 2048);
  CHECK(yarn.rope_scaling.beta_fast == 32.0);
  auto top = parse(R"({"original_max_position_embeddings": 512,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 1024}})");
  CHECK(top.rope_scaling.original_max_position_embeddings == 512);
  // Per-layer-type settings that agree are one setting.
  auto nested = parse(R"({"rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 3e4},
    "sliding_attention": {"rope_type": "default", "rope_theta": 3e4}}})");
  CHECK(nested.rope_theta == 3e4);
}

TEST_CASE("each family's config round-trips through to_hf_config as that family", "[gpu][config]") {
  auto qwen2 = tiny_config(2, true);
  qwen2.model_type = "qwen2";
  qwen2.attention_bias = true;
  qwen2.sliding_window = 6;
  qwen2.sliding_layers = {false, true};
  auto qwen3 = tiny_config(2, false);
  qwen3.model_type = "qwen3";
  qwen3.qk_norm = true;
  qwen3.head_dim = 32;
  auto mistral = tiny_config(2, false);
  mistral.model_type = "mistral";
  mistral.sliding_window = 8;
  auto llama = tiny_config(4, false);
  llama.attention_bias = llama.attention_output_bias = true;
  llama.rope_scaling.type = rope_scaling_type::yarn;
  llama.rope_scaling.factor = 4.0;
  llama.rope_scaling.original_max_position_embeddings = 64;
  for (const auto& [config, architecture] : {std::pair{qwen2, "Qwen2ForCausalLM"},
                                             {qwen3, "Qwen3ForCausalLM"},
                                             {mistral, "MistralForCausalLM"},
                                             {llama, "LlamaForCausalLM"}}) {
    INFO(architecture);
    REQUIRE(check_llama_config(config).ok());
    auto hf = to_hf_config(config);
    CHECK(hf["architectures"] == nlohmann::json::array({architecture}));
    CHECK(hf["model_type"] == config.model_type);
    auto parsed = parse_llama_config(hf);
    INFO((parsed ? std::string{} : parsed.error().message));
    REQUIRE(parsed.ok());
    CHECK(parsed.value() == config);
  }
  CHECK(to_hf_config(qwen2)["layer_types"] == nlohmann::json::array({"full_attention", "sliding_attention"}));
  CHECK(to_hf_config(qwen2)["use_sliding_window"] == true);
  CHECK(to_hf_config(qwen2)["max_window_layers"] == 1);

  // What a family's config.json cannot say is refused before anything is written.
  auto llama_with_norms = tiny_config();
  llama_with_norms.qk_norm = true;
  CHECK_THAT(check_llama_config(llama_with_norms).error().message, Catch::Contains("qk_norm"));
  auto qwen2_without_bias = qwen2;
  qwen2_without_bias.attention_bias = false;
  CHECK_THAT(check_llama_config(qwen2_without_bias).error().message, Catch::Contains("attention_bias"));
  auto llama_with_window = tiny_config();
  llama_with_window.sliding_window = 16;
  CHECK_THAT(check_llama_config(llama_with_window).error().message, Catch::Contains("sliding_window"));
  auto unknown = tiny_config();
  unknown.model_type = "gemma";
  CHECK_THAT(check_llama_config(unknown).error().message, Catch::Contains("model_type"));
}

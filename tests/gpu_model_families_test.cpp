// The model families tailor takes, against transformers: tiny random Llama-3 / Llama (linear, yarn) / Qwen2 /
// Qwen3 / Mistral / SmolLM / TinyLlama checkpoints that transformers saves are parsed, loaded and run with
// the same rotary tables, logits and greedy tokens; what tailor writes back loads in transformers as the same
// family with the same logits; configs of what tailor does not implement are refused naming file and field.
#include "gpu/generation.hpp"
#include "gpu/llama_model.hpp"
#include "gpu/model_config.hpp"
#include "gpu/rope.hpp"
#include "gpu/safetensors.hpp"
#include "gpu_model_support.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using nlohmann::json;
using tailor::model_test::read_text;
using tailor::model_test::scratch;
namespace fs = std::filesystem;

namespace {

struct family_reference {
  std::string name, expected_class;
  fs::path dir;
};

int run_families_script(const std::string& arguments, const fs::path& log) {
  const std::string command = std::string{"HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error '"} +
                              TAILOR_PYTHON + "' '" + TAILOR_SOURCE_DIR + "/tests/parity/hf_families.py' " +
                              arguments + " > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool transformers_available() {
  static const bool available = [] {
    const std::string command = std::string{"'"} + TAILOR_PYTHON + "' -c 'import transformers' 2>/dev/null";
    const int status = std::system(command.c_str());
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  if (!available)
    WARN("skipped: " << TAILOR_PYTHON << " cannot import transformers (run ./setup.sh to install the venv)");
  return available;
}

// Every family's model, built and saved by transformers once per test process.
const std::vector<family_reference>& families() {
  static scratch dir("families");
  static const std::vector<family_reference> built = [] {
    const auto log = dir.path / "build.log";
    const int code = run_families_script("build '" + dir.path.string() + "'", log);
    INFO("hf_families.py build: exit status " << code << ", output:\n" << read_text(log));
    REQUIRE(code == 0);
    std::vector<family_reference> out;
    const auto listing = json::parse(read_text(dir.path / "families.json"));
    for (const auto& [name, entry] : listing.items())
      out.push_back({name, entry.at("class").get<std::string>(), dir.path / name});
    return out;
  }();
  return built;
}

const family_reference& family_named(const std::string& name) {
  for (const auto& family : families())
    if (family.name == name)
      return family;
  FAIL("no family " << name << " was built");
  throw std::logic_error("unreachable");
}

llama_for_causal_lm load_family(const family_reference& family) {
  auto config = load_llama_config(family.dir / "config.json");
  INFO(family.name << ": " << (config ? std::string{} : config.error().message));
  REQUIRE(config.ok());
  auto weights = load_safetensors_dir(family.dir);
  REQUIRE(weights.ok());
  llama_for_causal_lm model(config.value());
  auto loaded = load_hf_weights(model, weights.value());
  INFO((loaded ? std::string{} : loaded.error().message));
  REQUIRE(loaded.ok());
  return model;
}

std::map<std::string, torch::Tensor> reference_of(const family_reference& family) {
  auto reference = load_safetensors(family.dir / "reference.safetensors");
  REQUIRE(reference.ok());
  return reference.value();
}

float max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<float>();
}

std::vector<int> ids_of(const torch::Tensor& tensor) {
  auto t = tensor.to(torch::kLong).contiguous();
  return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()};
}

// transformers 4's layout of the same rotary settings: top-level rope_theta and rope_scaling (old files say
// "type" where newer ones say "rope_type").
json legacy_rope_layout(json config) {
  auto rope = config.at("rope_parameters");
  config.erase("rope_parameters");
  config["rope_theta"] = rope.at("rope_theta");
  rope.erase("rope_theta");
  const auto type = rope.at("rope_type").get<std::string>();
  rope.erase("rope_type");
  rope["type"] = type;
  config["rope_scaling"] = type == "default" ? json(nullptr) : rope;
  return config;
}

} // namespace

TEST_CASE("each family's config.json parses as transformers reads it, rotary tables to the bit",
          "[gpu][families][parity]") {
  if (!transformers_available())
    return;
  struct expected {
    std::string model_type;
    double theta;
    rope_scaling_type rope;
    bool tied, qkv_bias, o_bias, qk_norm;
    int head_dim, window;
    std::vector<bool> sliding_layers;
  };
  using enum rope_scaling_type;
  const std::map<std::string, expected> expectations{
      {"llama3", {"llama", 500000.0, llama3, true, false, false, false, 16, 0, {}}},
      {"llama-linear", {"llama", 10000.0, linear, false, false, false, false, 16, 0, {}}},
      {"llama-yarn", {"llama", 10000.0, yarn, false, true, true, false, 16, 0, {}}},
      {"qwen2", {"qwen2", 1000000.0, none, true, true, false, false, 16, 0, {}}},
      {"qwen2-window", {"qwen2", 10000.0, none, false, true, false, false, 16, 6, {false, true}}},
      {"qwen3", {"qwen3", 1000000.0, none, true, false, false, true, 32, 0, {}}},
      {"mistral", {"mistral", 10000.0, none, false, false, false, false, 16, 8, {}}},
      {"smollm", {"llama", 100000.0, none, true, false, false, false, 16, 0, {}}},
      {"tinyllama", {"llama", 10000.0, none, false, false, false, false, 8, 0, {}}},
  };
  REQUIRE(families().size() == expectations.size());
  for (const auto& family : families()) {
    INFO(family.name);
    const auto& e = expectations.at(family.name);
    auto config = load_llama_config(family.dir / "config.json");
    REQUIRE(config.ok());
    CHECK(config->model_type == e.model_type);
    CHECK(config->rope_theta == e.theta);
    CHECK(config->rope_scaling.type == e.rope);
    CHECK(config->tie_word_embeddings == e.tied);
    CHECK(config->attention_bias == e.qkv_bias);
    CHECK(config->attention_output_bias == e.o_bias);
    CHECK(config->qk_norm == e.qk_norm);
    CHECK(config->head_dim == e.head_dim);
    CHECK(config->sliding_window == e.window);
    CHECK(config->sliding_layers == e.sliding_layers);
    CHECK(config->vocab_size == 128);

    // The same settings in transformers 4's keys give the same config: neither layout falls back to 10000.
    auto legacy = parse_llama_config(legacy_rope_layout(json::parse(read_text(family.dir / "config.json"))));
    REQUIRE(legacy.ok());
    CHECK(legacy.value() == config.value());

    auto reference = reference_of(family);
    auto frequencies =
        rotary_inverse_frequencies(rope_of(*config), config->head_dim, config->max_position_embeddings);
    CHECK(torch::equal(frequencies.inv_freq, reference.at("inv_freq")));
    CHECK(static_cast<float>(frequencies.attention_scaling) ==
          reference.at("attention_scaling").item<float>());
  }
  auto llama3_config = load_llama_config(family_named("llama3").dir / "config.json");
  REQUIRE(llama3_config.ok());
  CHECK(llama3_config->rope_scaling.factor == 32.0);
  CHECK(llama3_config->rope_scaling.original_max_position_embeddings == 8192);
  CHECK(llama3_config->eos_token_id == 2); // the first of [2, 3, 4]
}

TEST_CASE("each family's logits and greedy tokens match transformers", "[gpu][families][parity]") {
  if (!transformers_available())
    return;
  for (const auto& family : families()) {
    INFO(family.name);
    auto model = load_family(family);
    auto reference = reference_of(family);
    torch::NoGradGuard no_grad;
    auto logits = model->forward(reference.at("tokens")).logits;
    const float difference = max_difference(logits, reference.at("logits"));
    INFO("max |logits - transformers| = " << difference << ", logit std "
                                          << reference.at("logits").std().item<float>());
    CHECK(difference < 1e-4f);

    const std::vector<std::vector<int>> prompts{ids_of(reference.at("prompt_0")),
                                                ids_of(reference.at("prompt_1"))};
    const std::vector<std::vector<int>> expected{ids_of(reference.at("generated_0")),
                                                 ids_of(reference.at("generated_1"))};
    token_decoder silent; // no text: only the token ids are compared, and nothing stops a row early
    silent.decode = [](std::span<const int>) { return std::string{}; };
    generation_options options;
    options.sampling.greedy = true;
    options.max_new_tokens = 24;
    options.stop_at_blank_line = false;
    llama_next_token_model next(model, /*pad_id=*/0);
    // Both prompts in one left-padded batch, then each alone.
    auto together = generate(next, silent, prompts, options);
    REQUIRE(together.ok());
    for (size_t i = 0; i < prompts.size(); ++i) {
      INFO("prompt " << i);
      CHECK(together->at(i).at(0).token_ids == expected[i]);
      auto alone = generate(next, silent, {prompts[i]}, options);
      REQUIRE(alone.ok());
      CHECK(alone->at(0).at(0).token_ids == expected[i]);
    }
  }
}

TEST_CASE("on a GPU each family gives the CPU's logits in fp32", "[gpu][families][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  if (!transformers_available())
    return;
  const bool tf32 = at::globalContext().allowTF32CuBLAS();
  at::globalContext().setAllowTF32CuBLAS(false); // fp32 means fp32 here
  for (const auto& family : families()) {
    INFO(family.name);
    auto model = load_family(family);
    auto tokens = reference_of(family).at("tokens");
    torch::NoGradGuard no_grad;
    auto on_cpu = model->forward(tokens).logits;
    model->to(torch::kCUDA); // the rotary table follows at the first forward there
    auto on_gpu = model->forward(tokens.cuda()).logits.cpu();
    CHECK(max_difference(on_gpu, on_cpu) < 1e-4f * std::max(1.0f, on_cpu.abs().max().item<float>()));
  }
  at::globalContext().setAllowTF32CuBLAS(tf32);
}

TEST_CASE("a tied checkpoint loads whether or not it stores lm_head.weight", "[gpu][families][parity]") {
  if (!transformers_available())
    return;
  const auto& family = family_named("llama3"); // tied
  auto weights = load_safetensors_dir(family.dir);
  REQUIRE(weights.ok());
  CHECK_FALSE(weights->contains("lm_head.weight")); // transformers leaves the shared matrix out
  auto with_head = weights.value();
  with_head["lm_head.weight"] = with_head.at("model.embed_tokens.weight").clone();
  auto config = load_llama_config(family.dir / "config.json");
  REQUIRE(config.ok());
  llama_for_causal_lm model(config.value());
  REQUIRE(load_hf_weights(model, with_head).ok());
  torch::NoGradGuard no_grad;
  auto reference = reference_of(family);
  CHECK(max_difference(model->forward(reference.at("tokens")).logits, reference.at("logits")) < 1e-4f);
}

TEST_CASE("tailor-written checkpoints load in transformers as the same family with equal logits",
          "[gpu][families][parity]") {
  if (!transformers_available())
    return;
  scratch out("families-written");
  std::map<std::string, torch::Tensor> tailor_logits;
  std::string dirs;
  for (const auto& family : families()) {
    INFO(family.name);
    auto model = load_family(family);
    const auto dir = out.path / family.name;
    fs::create_directories(dir);
    named_tensors weights;
    for (const auto& item : model->named_parameters())
      weights.emplace_back(item.key(), item.value());
    REQUIRE(save_safetensors_dir(dir, weights).ok());
    std::ofstream(dir / "config.json") << to_hf_config(model->config()).dump(2);
    auto tokens = reference_of(family).at("tokens");
    REQUIRE(save_safetensors(dir / "tokens.safetensors", {{"tokens", tokens}}).ok());
    torch::NoGradGuard no_grad;
    tailor_logits[family.name] = model->forward(tokens).logits;

    // The written config reads back as the same model, keeping the source's own keys.
    auto written = json::parse(read_text(dir / "config.json"));
    auto reread = parse_llama_config(written);
    REQUIRE(reread.ok());
    CHECK(reread.value() == model->config());
    CHECK(written.at("transformers_version") ==
          json::parse(read_text(family.dir / "config.json"))["transformers_version"]);
    dirs += " '" + dir.string() + "'";
  }
  const auto log = out.path / "reload.log";
  const int code = run_families_script("reload" + dirs, log);
  INFO("hf_families.py reload: exit status " << code << ", output:\n" << read_text(log));
  REQUIRE(code == 0);
  for (const auto& family : families()) {
    INFO(family.name);
    const auto dir = out.path / family.name;
    auto chosen = json::parse(read_text(dir / "transformers_class.json"));
    CHECK(chosen.at("class") == family.expected_class);
    auto config = load_llama_config(dir / "config.json");
    REQUIRE(config.ok());
    CHECK(chosen.at("model_type") == config->model_type);
    CHECK(chosen.at("tied") == config->tie_word_embeddings);
    CHECK(chosen.at("rope_parameters").at("rope_theta") == config->rope_theta);
    auto reloaded = load_safetensors(dir / "transformers_logits.safetensors");
    REQUIRE(reloaded.ok());
    CHECK(max_difference(reloaded->at("logits"), tailor_logits.at(family.name)) < 1e-4f);
  }
  auto llama3 = json::parse(read_text(out.path / "llama3" / "config.json"));
  CHECK(llama3.at("eos_token_id") == json::array({2, 3, 4})); // Llama-3's stop ids survive
}

TEST_CASE("configs of what tailor does not implement are refused naming the file and the field",
          "[gpu][families][config]") {
  // Qwen2.5-0.5B's config.json as published (transformers 4 keys), each case patched into it.
  const auto qwen = json::parse(R"({"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896,
    "initializer_range": 0.02, "intermediate_size": 4864, "max_position_embeddings": 32768,
    "max_window_layers": 24, "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.40.1",
    "use_cache": true, "use_mrope": false, "use_sliding_window": false, "vocab_size": 151936})");
  struct bad_case {
    const char* patch;
    const char* field;
    bool lists_families; // the message ends with the families tailor takes
  };
  const bad_case cases[] = {
      {R"({"model_type": "gemma2", "architectures": null})", "`model_type`", true},
      {R"({"model_type": "phi3", "architectures": null})", "`model_type`", true},
      {R"({"num_experts": 60, "num_experts_per_tok": 4})", "`num_experts`", true},
      {R"({"num_local_experts": 8})", "`num_local_experts`", true},
      {R"({"final_logit_softcapping": 30.0})", "`final_logit_softcapping`", true},
      {R"({"attn_logit_softcapping": 50.0})", "`attn_logit_softcapping`", true},
      {R"({"text_config": {"hidden_size": 896}})", "`text_config`", true},
      {R"({"architectures": ["Gemma3ForConditionalGeneration"]})", "`architectures`", true},
      {R"({"architectures": ["Qwen2ForSequenceClassification"]})", "`architectures`", true},
      {R"({"hidden_act": "gelu_pytorch_tanh"})", "`hidden_act`", true},
      {R"({"mlp_bias": true})", "`mlp_bias`", true},
      {R"({"quantization_config": {"quant_method": "awq"}})", "`quantization_config`", true},
      {R"({"rope_scaling": {"type": "dynamic", "factor": 2.0}})", "`rope_scaling.type`", false},
      {R"({"rope_scaling": {"rope_type": "longrope", "short_factor": [1], "long_factor": [2]}})",
       "`rope_scaling.rope_type`", false},
      {R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}})", "`rope_scaling.low_freq_factor`",
       false},
      {R"({"rope_scaling": {"rope_type": "linear"}})", "`rope_scaling.factor`", false},
      {R"({"partial_rotary_factor": 0.5})", "`partial_rotary_factor`", false},
      {R"({"rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
          "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}})",
       "`rope_parameters`", false},
      {R"({"layer_types": ["chunked_attention"]})", "`layer_types`", false},
      {R"({"use_sliding_window": false, "layer_types": ["sliding_attention"]})", "`layer_types`", false},
  };
  scratch dir("families-refused");
  int index = 0;
  for (const auto& c : cases) {
    auto config = qwen;
    config.merge_patch(json::parse(c.patch));
    if (config.contains("layer_types") && config["layer_types"].size() == 1) // one entry per layer
      config["layer_types"] = json(std::vector<json>(24, config["layer_types"][0]));
    const auto file = dir.path / ("config-" + std::to_string(index++) + ".json");
    std::ofstream(file) << config.dump();
    auto loaded = load_llama_config(file);
    INFO(c.patch);
    REQUIRE_FALSE(loaded.ok());
    const auto& message = loaded.error().message;
    CHECK_THAT(message, Catch::Contains(file.filename().string()) && Catch::Contains(c.field));
    if (c.lists_families)
      CHECK_THAT(message, Catch::Contains("llama (") && Catch::Contains("qwen2 (") &&
                              Catch::Contains("qwen3 (") && Catch::Contains("mistral ("));
  }
  // The published file itself is taken: the control that the patches, not the base, are refused.
  const auto good = dir.path / "config.json";
  std::ofstream(good) << qwen.dump();
  auto loaded = load_llama_config(good);
  INFO((loaded ? std::string{} : loaded.error().message));
  REQUIRE(loaded.ok());
  CHECK(loaded->rope_theta == 1000000.0);
  CHECK(loaded->attention_bias);
  CHECK(loaded->sliding_window == 0); // use_sliding_window is false
}

// LoRA adapters in PEFT's files: round trips, PEFT parity both ways, merging, resuming AdamW, bad files.
#include "gpu/adapter_checkpoint.hpp"
#include "gpu/checkpoint.hpp"
#include "gpu/lora.hpp"
#include "gpu/safetensors.hpp"
#include "tests/gpu_checkpoint_model_support.hpp"
#include "tests/gpu_checkpoint_support.hpp"
#include "tests/gpu_train_support.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <torch/torch.h>

namespace {

namespace fs = std::filesystem;
using namespace tailor::gpu;
using tailor::test::scratch_dir;
using tailor::train_test::tiny_config;

const tokenizer& shared_tokenizer() {
  static tokenizer trained = [] {
    std::vector<std::string> corpus;
    for (int i = 0; i < 200; ++i)
      corpus.push_back("Question: Ava has " + std::to_string(i % 41) +
                       " apples. Answer: " + std::to_string(i) + ".");
    auto result = train_tokenizer(corpus, {.vocab_size = 64});
    REQUIRE(result.ok());
    return std::move(result).value();
  }();
  return trained;
}

// The base with weights far from the tiny initialisation (logits O(1)), the same for the same seed.
llama_for_causal_lm spread_base(std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  llama_for_causal_lm model{tiny_config()};
  tailor::test::spread_weights(model);
  model->eval();
  return model;
}

lora_settings settings_with(int rank, std::vector<std::string> targets, double alpha = 6.0) {
  lora_settings s;
  s.rank = rank;
  s.alpha = alpha;
  s.dropout = 0.1;
  s.targets = std::move(targets);
  s.seed = 3;
  return s;
}

// The base with adapters whose B is drawn too, as after training (a fresh adapter's B is zero).
llama_for_causal_lm adapted_model(const lora_settings& settings, std::uint64_t seed = 1) {
  auto model = spread_base(seed);
  REQUIRE(attach_lora(model, settings).ok());
  torch::manual_seed(seed + 100);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters())
    if (item.key().ends_with("lora_B.weight"))
      item.value().normal_(0, 0.3);
  model->eval();
  return model;
}

const std::vector<std::string> all_targets{"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                           "gate_proj", "up_proj", "down_proj"};

torch::Tensor fixed_tokens() {
  return torch::tensor({5, 17, 3, 60, 44, 8, 61, 2, 33, 1, 57, 12, 35, 40, 6, 29}, torch::kLong)
      .reshape({2, 8});
}

torch::Tensor logits_of(llama_for_causal_lm& model) {
  torch::NoGradGuard no_grad;
  return model->forward(fixed_tokens()).logits;
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in{file};
  return nlohmann::json::parse(in);
}

void write_json(const fs::path& file, const nlohmann::json& json) {
  tailor::test::write_bytes(file, json.dump(2));
}

} // namespace

TEST_CASE("an adapter saved in PEFT's files loads back with its names, settings and logits",
          "[gpu][adapter]") {
  scratch_dir dir{"adapter-roundtrip"};
  const auto settings = settings_with(2, {"q_proj", "v_proj", "down_proj"});
  auto model = adapted_model(settings);
  REQUIRE(save_adapter(dir.path / "adapter", model, "/models/base").ok());

  auto config = read_json(dir.path / "adapter" / "adapter_config.json");
  CHECK(config["peft_type"] == "LORA");
  CHECK(config["task_type"] == "CAUSAL_LM");
  CHECK(config["r"] == 2);
  CHECK(config["lora_alpha"] == 6);
  CHECK(config["lora_dropout"] == Approx(0.1));
  CHECK(config["target_modules"] == nlohmann::json{"down_proj", "q_proj", "v_proj"});
  CHECK(config["bias"] == "none");
  CHECK(config["use_dora"] == false);
  CHECK(config["base_model_name_or_path"] == "/models/base");
  auto stored = load_safetensors(dir.path / "adapter" / "adapter_model.safetensors");
  REQUIRE(stored.ok());
  std::set<std::string> expected_names;
  for (const auto& item : model->named_parameters())
    if (is_lora_parameter(item.key()))
      expected_names.insert("base_model.model." + item.key());
  std::set<std::string> names;
  for (const auto& [name, tensor] : *stored) {
    names.insert(name);
    CHECK(tensor.scalar_type() == torch::kFloat);
  }
  CHECK(names == expected_names);
  CHECK(names.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));

  // Into the plain base: adapters attached with the file's settings, base frozen, logits as before.
  auto base = spread_base();
  REQUIRE(load_adapter(dir.path / "adapter", base).ok());
  const auto back = lora_of(base);
  CHECK(back.rank == 2);
  CHECK(back.alpha == Approx(6.0));
  CHECK(back.dropout == Approx(0.1));
  CHECK(back.targets == std::vector<std::string>{"q_proj", "v_proj", "down_proj"});
  for (const auto& item : base->named_parameters())
    CHECK(item.value().requires_grad() == is_lora_parameter(item.key()));
  CHECK(torch::equal(logits_of(base), logits_of(model)));

  // Into a model that has the same adapters already (other values): overwritten.
  auto same = spread_base();
  REQUIRE(attach_lora(same, settings_with(2, {"down_proj", "v_proj", "q_proj"})).ok());
  REQUIRE(load_adapter(dir.path / "adapter", same).ok());
  CHECK(torch::equal(logits_of(same), logits_of(model)));
  // Other adapters would take tensors meant for others: refused.
  auto other = spread_base();
  REQUIRE(attach_lora(other, settings_with(4, {"q_proj"})).ok());
  auto refused = load_adapter(dir.path / "adapter", other);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("already has adapters with rank 4"));

  // target_modules as one name, as PEFT also writes it.
  auto single = adapted_model(settings_with(3, {"o_proj"}, 3.0));
  REQUIRE(save_adapter(dir.path / "single", single, "base").ok());
  auto single_config = read_json(dir.path / "single" / "adapter_config.json");
  single_config["target_modules"] = "o_proj";
  write_json(dir.path / "single" / "adapter_config.json", single_config);
  auto fresh = spread_base();
  REQUIRE(load_adapter(dir.path / "single", fresh).ok());
  CHECK(lora_of(fresh).targets == std::vector<std::string>{"o_proj"});
  CHECK(torch::equal(logits_of(fresh), logits_of(single)));
}

TEST_CASE("a checkpoint with adapters holds PEFT's files beside the base and loads back with them",
          "[gpu][adapter]") {
  scratch_dir dir{"adapter-checkpoint"};
  auto model = adapted_model(settings_with(2, {"k_proj", "up_proj"}));
  REQUIRE(save_checkpoint(dir.path / "ckpt", model, shared_tokenizer()).ok());
  for (const char* file :
       {"config.json", "model.safetensors", "adapter_config.json", "adapter_model.safetensors"})
    CHECK(fs::exists(dir.path / "ckpt" / file));
  CHECK(read_json(dir.path / "ckpt" / "adapter_config.json")["base_model_name_or_path"] ==
        fs::absolute(dir.path / "ckpt").lexically_normal().string());
  auto loaded = load_checkpoint(dir.path / "ckpt");
  REQUIRE(loaded.ok());
  CHECK(lora_of(loaded->model).targets == std::vector<std::string>{"k_proj", "up_proj"});
  loaded->model->eval();
  CHECK(torch::equal(logits_of(loaded->model), logits_of(model)));

  // Saving again over it, and a damaged adapter is named when the checkpoint loads.
  REQUIRE(save_checkpoint(dir.path / "ckpt", loaded->model, shared_tokenizer()).ok());
  fs::remove(dir.path / "ckpt" / "adapter_model.safetensors");
  auto broken = load_checkpoint(dir.path / "ckpt");
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error().message, Catch::Contains("ckpt/adapter_model.safetensors: missing"));
}

TEST_CASE("adapters move both ways between tailor and PEFT", "[gpu][adapter][python]") {
  scratch_dir dir{"adapter-peft"};
  auto model = adapted_model(settings_with(4, all_targets, 8.0));
  auto base = spread_base();
  REQUIRE(save_checkpoint(dir.path / "tailor_lora", model, shared_tokenizer()).ok());
  REQUIRE(save_safetensors(
              dir.path / "tailor_lora.expected.safetensors",
              {{"input_ids", fixed_tokens()}, {"logits", logits_of(model)}, {"base_logits", logits_of(base)}})
              .ok());
  INFO("adapters change the logits by " << max_difference(logits_of(model), logits_of(base)));
  REQUIRE(max_difference(logits_of(model), logits_of(base)) > 0.1);

  // The script checks tailor's adapter in PEFT, then writes an adapter of its own on the same base.
  REQUIRE(tailor::test::run_parity_script("peft_adapter_parity.py", tailor::test::quoted(dir.path)) == 0);

  auto expected = load_safetensors(dir.path / "peft_made.expected.safetensors");
  REQUIRE(expected.ok());
  REQUIRE(load_adapter(dir.path / "peft_made", base).ok());
  CHECK(lora_of(base).rank == 3);
  base->eval();
  const double difference = max_difference(logits_of(base), expected->at("logits"));
  INFO("max |tailor - peft| = " << difference);
  CHECK(difference < 1e-4);
}

TEST_CASE("a merged model computes base + adapter without adapters", "[gpu][adapter]") {
  scratch_dir dir{"adapter-merge"};
  auto model = adapted_model(settings_with(4, all_targets, 8.0));
  auto merged = merged_model(model);
  REQUIRE(merged.ok());
  CHECK_FALSE(has_lora(*merged));
  for (const auto& item : (*merged)->named_parameters())
    CHECK_FALSE(is_lora_parameter(item.key()));
  CHECK((*merged)->named_parameters().size() == spread_base()->named_parameters().size());
  CHECK_FALSE((*merged)->is_training());
  const double difference = max_difference(logits_of(*merged), logits_of(model));
  INFO("max |merged - base + adapter| = " << difference);
  CHECK(difference < 1e-5);
  // The model keeps its adapters and its base.
  CHECK(has_lora(model));
  CHECK(torch::equal(model->named_parameters()["model.embed_tokens.weight"],
                     spread_base()->named_parameters()["model.embed_tokens.weight"]));

  // A merged model saves as a plain checkpoint.
  REQUIRE(save_checkpoint(dir.path / "merged", *merged, shared_tokenizer()).ok());
  CHECK_FALSE(fs::exists(dir.path / "merged" / "adapter_config.json"));
  auto loaded = load_checkpoint(dir.path / "merged");
  REQUIRE(loaded.ok());
  CHECK_FALSE(has_lora(loaded->model));
  CHECK(torch::equal(logits_of(loaded->model), logits_of(*merged)));

  // Without adapters, a copy.
  auto plain = spread_base();
  auto copy = merged_model(plain);
  REQUIRE(copy.ok());
  CHECK(torch::equal(logits_of(*copy), logits_of(plain)));
}

namespace {

// One AdamW step on a fixed next-token batch; returns the loss before the step.
float train_step(llama_for_causal_lm& model, torch::optim::AdamW& optimizer) {
  return tailor::test::next_token_step(model, optimizer, fixed_tokens());
}

std::vector<torch::Tensor> trainable(llama_for_causal_lm& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model->parameters())
    if (p.requires_grad())
      out.push_back(p);
  return out;
}

void check_lora_resume(torch::Device device, double tolerance) {
  scratch_dir dir{"adapter-resume"};
  auto model = adapted_model(settings_with(2, {"q_proj", "o_proj", "gate_proj"}));
  model->to(device);
  model->train(); // dropout on the adapters' input: the resumed run draws from the same stream
  const torch::optim::AdamWOptions options = torch::optim::AdamWOptions{1e-2}.weight_decay(0.05);
  torch::optim::AdamW optimizer{trainable(model), options};
  for (int step = 0; step < 2; ++step)
    train_step(model, optimizer);
  REQUIRE(save_checkpoint(dir.path / "step-2", model, shared_tokenizer(), &optimizer, trainer_state{2}).ok());
  torch::manual_seed(42);
  if (device.is_cuda())
    torch::cuda::manual_seed_all(42);
  const float uninterrupted = train_step(model, optimizer);

  auto loaded = load_checkpoint(dir.path / "step-2", device);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->optimizer.has_value());
  CHECK(loaded->optimizer->params.size() ==
        2 * 3 * static_cast<std::size_t>(tiny_config().num_hidden_layers));
  auto resumed_model = loaded->model;
  resumed_model->train();
  torch::optim::AdamW resumed{trainable(resumed_model), torch::optim::AdamWOptions{1.0}};
  REQUIRE(resumed.param_groups()[0].params().size() == loaded->optimizer->params.size());
  REQUIRE(restore_adamw_state(resumed, resumed_model->named_parameters(), *loaded->optimizer).ok());
  torch::manual_seed(42);
  if (device.is_cuda())
    torch::cuda::manual_seed_all(42);
  CHECK(train_step(resumed_model, resumed) == Approx(uninterrupted).margin(tolerance).epsilon(0));
  auto theirs = resumed_model->named_parameters();
  REQUIRE(theirs.size() == model->named_parameters().size());
  for (const auto& item : model->named_parameters()) {
    INFO("parameter " << item.key());
    CHECK(theirs[item.key()].requires_grad() == is_lora_parameter(item.key()));
    CHECK(torch::allclose(item.value(), theirs[item.key()], /*rtol=*/0, tolerance));
  }
}

} // namespace

TEST_CASE("a LoRA run resumed from its checkpoint takes the same next AdamW step", "[gpu][adapter]") {
  torch::set_num_threads(1);
  check_lora_resume(torch::kCPU, 0.0);
}

TEST_CASE("a LoRA run on CUDA resumes from its checkpoint", "[gpu][adapter][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  check_lora_resume(torch::Device{torch::kCUDA, 0}, 1e-5);
}

TEST_CASE("bad adapter files are refused naming the file, the key or the tensor", "[gpu][adapter]") {
  scratch_dir dir{"adapter-bad"};
  const auto adapter = dir.path / "adapter";
  const auto config_file = adapter / "adapter_config.json",
             weights_file = adapter / "adapter_model.safetensors";
  auto model = adapted_model(settings_with(2, {"q_proj", "down_proj"}));
  auto save_good = [&] { REQUIRE(save_adapter(adapter, model, "base").ok()); };
  auto load_error = [&] {
    auto base = spread_base();
    auto loaded = load_adapter(adapter, base);
    REQUIRE_FALSE(loaded.ok());
    CHECK_FALSE(has_lora(base)); // refused before anything was attached
    return loaded.error().message;
  };
  auto with_config = [&](const char* key, const nlohmann::json& value) {
    save_good();
    auto config = read_json(config_file);
    config[key] = value;
    write_json(config_file, config);
    return load_error();
  };
  auto config_error = [&](const char* key, const nlohmann::json& value) {
    auto message = with_config(key, value);
    CHECK_THAT(message, Catch::Contains("adapter/adapter_config.json: `" + std::string{key} + "`"));
    return message;
  };

  CHECK_THAT(config_error("use_dora", true), Catch::Contains("DoRA"));
  CHECK_THAT(config_error("use_rslora", true), Catch::Contains("rsLoRA"));
  CHECK_THAT(config_error("fan_in_fan_out", true), Catch::Contains("Conv1D"));
  CHECK_THAT(config_error("bias", "lora_only"), Catch::Contains("\"none\" only"));
  CHECK_THAT(config_error("rank_pattern", {{"q_proj", 8}}), Catch::Contains("ranks per module"));
  CHECK_THAT(config_error("alpha_pattern", {{"q_proj", 8}}), Catch::Contains("alphas per module"));
  CHECK_THAT(config_error("modules_to_save", {"lm_head"}), Catch::Contains("fully trained modules"));
  CHECK_THAT(config_error("layers_to_transform", {0}), Catch::Contains("some layers only"));
  CHECK_THAT(config_error("peft_type", "IA3"), Catch::Contains("LoRA adapters (\"LORA\") only"));
  CHECK_THAT(config_error("r", 0), Catch::Contains("positive integer"));
  CHECK_THAT(config_error("lora_alpha", "16"), Catch::Contains("positive number"));
  CHECK_THAT(config_error("target_modules", nullptr), Catch::Contains("must name the projections"));
  CHECK_THAT(config_error("target_modules", {"q_proj", "c_attn"}), Catch::Contains("names `c_attn`"));
  CHECK_THAT(config_error("lora_dropout", 1.5), Catch::Contains("in [0, 1)"));
  // What PEFT writes and means nothing else is accepted.
  save_good();
  {
    auto config = read_json(config_file);
    config["modules_to_save"] = nlohmann::json::array();
    config["layers_to_transform"] = nullptr;
    config["use_dora"] = false;
    config["peft_version"] = "0.21.2";
    write_json(config_file, config);
    auto base = spread_base();
    CHECK(load_adapter(adapter, base).ok());
  }
  save_good();
  tailor::test::write_bytes(config_file, "{\"peft_type\": ");
  CHECK_THAT(load_error(), Catch::Contains("adapter_config.json: not a JSON object"));

  auto with_tensors = [&](const std::function<void(std::map<std::string, torch::Tensor>&)>& change) {
    save_good();
    auto stored = load_safetensors(weights_file);
    REQUIRE(stored.ok());
    change(*stored);
    REQUIRE(save_safetensors(weights_file, named_tensors{stored->begin(), stored->end()}).ok());
    auto message = load_error();
    CHECK_THAT(message, Catch::Contains("adapter/adapter_model.safetensors: tensor `"));
    return message;
  };
  const std::string down_b = "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight";
  const std::string q_a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
  CHECK_THAT(with_tensors([&](auto& tensors) { tensors.erase(down_b); }),
             Catch::Contains("`" + down_b + "` is missing"));
  CHECK_THAT(with_tensors([&](auto& tensors) {
               tensors[q_a] = torch::zeros({3, 32});
             }),
             Catch::Contains("`" + q_a + "` has shape [3, 32], expected [2, 32]"));
  const std::string k_a = "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight";
  CHECK_THAT(with_tensors([&](auto& tensors) {
               tensors[k_a] = torch::zeros({2, 32});
             }),
             Catch::Contains("`" + k_a + "` is not an adapter of this model's 2 layers with rank 2"));
  CHECK_THAT(with_tensors([&](auto& tensors) {
               tensors["base_model.model.lm_head.weight"] = torch::zeros({64, 32});
             }),
             Catch::Contains("`base_model.model.lm_head.weight` is not an adapter"));
  save_good();
  fs::remove(weights_file);
  CHECK_THAT(load_error(), Catch::Contains("adapter/adapter_model.safetensors: missing"));
  auto base = spread_base();
  auto nothing = save_adapter(dir.path / "none", base, "base");
  REQUIRE_FALSE(nothing.ok());
  CHECK_THAT(nothing.error().message, Catch::Contains("no LoRA adapters to save"));
}

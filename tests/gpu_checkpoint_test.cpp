// Checkpoints: round trips, exact resumption of AdamW, crash safety, bad directories, and transformers
// parity.
#include "gpu/checkpoint.hpp"
#include "gpu/safetensors.hpp"
#include "tests/gpu_checkpoint_model_support.hpp"
#include "tests/gpu_checkpoint_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <torch/torch.h>

namespace {

namespace fs = std::filesystem;
using namespace tailor::gpu;
using tailor::test::scratch_dir;

llama_config tiny_config(bool tied) {
  llama_config config;
  config.vocab_size = 128;
  config.num_key_value_heads = 2; // grouped-query attention, as most LLaMA checkpoints have
  config.tie_word_embeddings = tied;
  return config;
}

const tokenizer& shared_tokenizer() {
  static tokenizer trained = [] {
    std::vector<std::string> corpus;
    for (int i = 0; i < 300; ++i)
      corpus.push_back("Question: Ava has " + std::to_string(i % 41) + " apples and buys " +
                       std::to_string(i % 7 + 1) +
                       " more. How many now? Answer: " + std::to_string(i % 41 + i % 7 + 1) + ".");
    auto result = train_tokenizer(corpus, {.vocab_size = 96});
    REQUIRE(result.ok());
    return std::move(result).value();
  }();
  return trained;
}

// Weights far from the tiny initialisation, so that logits are O(1) and comparisons mean something.
llama_for_causal_lm spread_model(bool tied, std::uint64_t seed) {
  torch::manual_seed(seed);
  llama_for_causal_lm model{tiny_config(tied)};
  tailor::test::spread_weights(model);
  return model;
}

torch::Tensor fixed_tokens() {
  return torch::tensor({5, 17, 3, 90, 44, 8, 61, 2, 33, 1, 77, 12, 95, 40, 6, 29}, torch::kLong)
      .reshape({2, 8});
}

torch::Tensor logits_of(llama_for_causal_lm& model) {
  torch::NoGradGuard no_grad;
  return model->forward(fixed_tokens()).logits;
}

// Bitwise equal by default; within `tolerance` where kernels may sum in another order (CUDA atomics).
void check_same_parameters(const llama_for_causal_lm& a, const llama_for_causal_lm& b, double tolerance = 0) {
  auto theirs = b->named_parameters();
  REQUIRE(a->named_parameters().size() == theirs.size());
  for (const auto& item : a->named_parameters()) {
    INFO("parameter " << item.key());
    REQUIRE(theirs.contains(item.key()));
    CHECK(theirs[item.key()].scalar_type() == torch::kFloat);
    if (tolerance == 0)
      CHECK(torch::equal(item.value(), theirs[item.key()]));
    else
      CHECK(torch::allclose(item.value(), theirs[item.key()], /*rtol=*/0, tolerance));
  }
}

std::string load_error(const fs::path& dir) {
  auto loaded = load_checkpoint(dir);
  REQUIRE_FALSE(loaded.ok());
  return loaded.error().message;
}

// One AdamW step on a fixed next-token batch; returns the loss before the step.
float train_step(llama_for_causal_lm& model, torch::optim::AdamW& optimizer) {
  return tailor::test::next_token_step(model, optimizer, fixed_tokens());
}

} // namespace

TEST_CASE("a checkpoint round trip gives the same parameters, logits and tokenizer", "[gpu][checkpoint]") {
  scratch_dir dir{"ckpt-roundtrip"};
  for (bool tied : {false, true}) {
    INFO("tied embeddings: " << tied);
    auto model = spread_model(tied, 7);
    auto target = dir.path / (tied ? "tied" : "untied");
    REQUIRE(save_checkpoint(target, model, shared_tokenizer()).ok());
    for (const char* file : {"config.json", "model.safetensors", "tokenizer.model"})
      CHECK(fs::exists(target / file));
    CHECK_FALSE(fs::exists(target / "optimizer.pt"));
    CHECK_FALSE(fs::exists(dir.path / (target.filename().string() + ".partial")));
    auto stored = load_safetensors(target / "model.safetensors");
    REQUIRE(stored.ok());
    CHECK(stored->contains("lm_head.weight") == !tied);

    auto loaded = load_checkpoint(target);
    REQUIRE(loaded.ok());
    CHECK(loaded->config.tie_word_embeddings == tied);
    CHECK_FALSE(loaded->optimizer.has_value());
    CHECK_FALSE(loaded->trainer.has_value());
    check_same_parameters(model, loaded->model);
    CHECK(torch::equal(logits_of(model), logits_of(loaded->model)));
    CHECK(loaded->tokenizer.serialized() == shared_tokenizer().serialized());
  }
}

TEST_CASE("half-precision weights load into a float32 model, and a tied model may carry lm_head",
          "[gpu][checkpoint]") {
  scratch_dir dir{"ckpt-dtypes"};
  auto model = spread_model(true, 11);
  for (auto type : {torch::kHalf, torch::kBFloat16}) {
    INFO("stored as " << c10::toString(type));
    REQUIRE(save_checkpoint(dir.path / "ckpt", model, shared_tokenizer(), nullptr, std::nullopt,
                            {.weights_dtype = type, .max_shard_bytes = 20000})
                .ok());
    CHECK(fs::exists(dir.path / "ckpt" / "model.safetensors.index.json"));
    std::ifstream config_file{dir.path / "ckpt" / "config.json"};
    CHECK(nlohmann::json::parse(config_file)["torch_dtype"] ==
          (type == torch::kHalf ? "float16" : "bfloat16"));
    auto loaded = load_checkpoint(dir.path / "ckpt");
    REQUIRE(loaded.ok());
    for (const auto& item : loaded->model->named_parameters()) {
      INFO("parameter " << item.key());
      CHECK(item.value().scalar_type() == torch::kFloat);
      CHECK(torch::equal(item.value(), model->named_parameters()[item.key()].to(type).to(torch::kFloat)));
    }
  }

  // Hugging Face writes lm_head.weight for some tied models: accepted, and the embedding stays the weight.
  auto tied_dir = dir.path / "tied-with-head";
  REQUIRE(save_checkpoint(tied_dir, model, shared_tokenizer()).ok());
  auto weights = load_safetensors(tied_dir / "model.safetensors");
  REQUIRE(weights.ok());
  named_tensors with_head{weights->begin(), weights->end()};
  with_head.emplace_back("lm_head.weight", weights->at("model.embed_tokens.weight"));
  REQUIRE(save_safetensors(tied_dir / "model.safetensors", with_head).ok());
  auto loaded = load_checkpoint(tied_dir);
  REQUIRE(loaded.ok());
  check_same_parameters(model, loaded->model);
}

namespace {

// Trains a few AdamW steps on `device`, checkpoints, trains on; then resumes from the checkpoint in fresh
// objects and checks that the next two steps give the same losses and parameters.
void check_exact_resume(torch::Device device, double tolerance) {
  scratch_dir dir{"ckpt-resume"};
  auto model = spread_model(false, 3);
  model->to(device);
  torch::optim::AdamW optimizer{model->parameters(),
                                torch::optim::AdamWOptions{3e-3}.betas({0.9, 0.95}).weight_decay(0.1)};
  for (int step = 0; step < 3; ++step)
    train_step(model, optimizer);
  // The schedule has moved the learning rate: the checkpoint must keep it.
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options()).lr(2e-3);
  trainer_state trainer{3, {{"round", 1}, {"data_position", 96}}};
  REQUIRE(save_checkpoint(dir.path / "step-3", model, shared_tokenizer(), &optimizer, trainer).ok());

  const float uninterrupted_loss = train_step(model, optimizer);
  const float uninterrupted_next = train_step(model, optimizer);

  auto loaded = load_checkpoint(dir.path / "step-3", device);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->trainer.has_value());
  CHECK(loaded->trainer->step == 3);
  CHECK(loaded->trainer->extra == nlohmann::json{{"round", 1}, {"data_position", 96}});
  REQUIRE(loaded->optimizer.has_value());

  // A fresh optimizer with other settings and its parameters in another order: the state is keyed by name.
  auto resumed_model = loaded->model;
  auto parameters = resumed_model->parameters();
  std::reverse(parameters.begin(), parameters.end());
  torch::optim::AdamW resumed{parameters, torch::optim::AdamWOptions{1.0}};
  REQUIRE(restore_adamw_state(resumed, resumed_model->named_parameters(), *loaded->optimizer).ok());
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(resumed.param_groups()[0].options());
  CHECK(options.lr() == 2e-3);
  CHECK(options.weight_decay() == 0.1);
  CHECK(std::get<1>(options.betas()) == 0.95);

  CHECK(train_step(resumed_model, resumed) == Approx(uninterrupted_loss).margin(tolerance).epsilon(0));
  CHECK(train_step(resumed_model, resumed) == Approx(uninterrupted_next).margin(tolerance).epsilon(0));
  check_same_parameters(model, resumed_model, tolerance);
}

} // namespace

TEST_CASE("a run resumed from a checkpoint takes the same next AdamW steps as one that never stopped",
          "[gpu][checkpoint][optimizer]") {
  check_exact_resume(torch::kCPU, 0);

  // A model of another shape cannot take this state.
  scratch_dir dir{"ckpt-other-shape"};
  auto model = spread_model(false, 4);
  torch::optim::AdamW optimizer{model->parameters()};
  train_step(model, optimizer);
  auto state = capture_adamw_state(optimizer, model->named_parameters());
  REQUIRE(state.ok());
  REQUIRE(save_adamw_state(dir.path / "optimizer.pt", *state).ok());
  auto reloaded = load_adamw_state(dir.path / "optimizer.pt");
  REQUIRE(reloaded.ok());
  CHECK(reloaded->params.size() == model->named_parameters().size());
  llama_for_causal_lm other{llama_config{}};
  torch::optim::AdamW other_optimizer{other->parameters()};
  auto refused = restore_adamw_state(other_optimizer, other->named_parameters(), *reloaded);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("do not have its shape"));
}

TEST_CASE("a run on CUDA resumes from a checkpoint onto CUDA", "[gpu][checkpoint][optimizer][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  // Embedding gradients accumulate with atomics on CUDA, so sums may differ in the last bits.
  check_exact_resume(torch::kCUDA, 1e-6);
}

TEST_CASE("a checkpoint directory is the old one or the new one, whatever fails midway",
          "[gpu][checkpoint]") {
  scratch_dir dir{"ckpt-crash"};
  auto target = dir.path / "latest";
  auto partial = dir.path / "latest.partial";
  auto first = spread_model(false, 1), second = spread_model(false, 2);
  auto fail_after_weights = [](const fs::path& file) -> tailor::status {
    if (file.filename() == "model.safetensors")
      return tailor::problem{"simulated failure after the weights"};
    return tailor::ok_status();
  };

  SECTION("a first save that fails leaves no directory") {
    auto failed = save_checkpoint(target, first, shared_tokenizer(), nullptr, std::nullopt,
                                  {.after_file = fail_after_weights});
    REQUIRE_FALSE(failed.ok());
    CHECK_THAT(failed.error().message, Catch::Contains("simulated failure"));
    CHECK_FALSE(fs::exists(target));
    CHECK_FALSE(fs::exists(partial));
  }

  REQUIRE(save_checkpoint(target, first, shared_tokenizer()).ok());

  SECTION("a save that fails keeps the previous checkpoint") {
    REQUIRE_FALSE(save_checkpoint(target, second, shared_tokenizer(), nullptr, std::nullopt,
                                  {.after_file = fail_after_weights})
                      .ok());
    CHECK_FALSE(fs::exists(partial));
    auto loaded = load_checkpoint(target);
    REQUIRE(loaded.ok());
    check_same_parameters(first, loaded->model);
  }

  SECTION("a crash while staging leaves a partial directory that loading ignores and saving replaces") {
    fs::create_directories(partial);
    tailor::test::write_bytes(partial / "config.json", "{\"hidden_si");
    auto loaded = load_checkpoint(target);
    REQUIRE(loaded.ok());
    check_same_parameters(first, loaded->model);
    REQUIRE(save_checkpoint(target, second, shared_tokenizer()).ok());
    CHECK_FALSE(fs::exists(partial));
    loaded = load_checkpoint(target);
    REQUIRE(loaded.ok());
    check_same_parameters(second, loaded->model);
  }

  SECTION("a crash between the two renames of the fallback swap loses nothing") {
    fs::rename(target, dir.path / "latest.old");
    auto loaded = load_checkpoint(target);
    REQUIRE(loaded.ok());
    check_same_parameters(first, loaded->model);
    REQUIRE(save_checkpoint(target, second, shared_tokenizer()).ok());
    CHECK_FALSE(fs::exists(dir.path / "latest.old"));
    loaded = load_checkpoint(target);
    REQUIRE(loaded.ok());
    check_same_parameters(second, loaded->model);
  }

  SECTION("a directory that is not a checkpoint is never replaced") {
    auto precious = dir.path / "notes";
    fs::create_directories(precious);
    tailor::test::write_bytes(precious / "todo.txt", "keep me");
    auto refused = save_checkpoint(precious, first, shared_tokenizer());
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("not a checkpoint directory"));
    CHECK(fs::exists(precious / "todo.txt"));
  }
}

TEST_CASE("bad checkpoint directories give errors naming the file and the fault", "[gpu][checkpoint]") {
  scratch_dir dir{"ckpt-bad"};
  auto target = dir.path / "ckpt";
  auto model = spread_model(false, 5);
  torch::optim::AdamW optimizer{model->parameters()};
  train_step(model, optimizer);
  auto save_good = [&] {
    auto saved = save_checkpoint(target, model, shared_tokenizer(), &optimizer, trainer_state{1});
    INFO((saved ? std::string{} : saved.error().message));
    REQUIRE(saved.ok());
  };
  auto rewrite_weights = [&](auto edit) {
    auto weights = load_safetensors(target / "model.safetensors");
    REQUIRE(weights.ok());
    edit(*weights);
    REQUIRE(
        save_safetensors(target / "model.safetensors", named_tensors{weights->begin(), weights->end()}).ok());
  };
  save_good();
  REQUIRE(load_checkpoint(target).ok());

  CHECK_THAT(load_error(dir.path / "absent"), Catch::Contains("absent: no such checkpoint directory"));

  rewrite_weights([](auto& w) { w.erase("model.layers.1.mlp.up_proj.weight"); });
  CHECK_THAT(load_error(target),
             Catch::Contains("model.safetensors: weight `model.layers.1.mlp.up_proj.weight` "
                             "is missing"));
  save_good();
  rewrite_weights([](auto& w) { w["model.norm.weight"] = torch::ones({65}); });
  auto message = load_error(target);
  CHECK_THAT(message, Catch::Contains("`model.norm.weight` has shape [65]"));
  save_good();
  rewrite_weights([](auto& w) { w["model.layers.9.self_attn.q_proj.weight"] = torch::ones({2}); });
  CHECK_THAT(load_error(target),
             Catch::Contains("`model.layers.9.self_attn.q_proj.weight` is not a parameter"));

  save_good();
  fs::remove(target / "model.safetensors");
  CHECK_THAT(load_error(target), Catch::Contains("no model.safetensors or model.safetensors.index.json"));
  save_good();
  fs::remove(target / "config.json");
  CHECK_THAT(load_error(target), Catch::Contains("config.json"));
  save_good();
  fs::remove(target / "tokenizer.model");
  CHECK_THAT(load_error(target), Catch::Contains("tokenizer.model"));
  save_good();
  tailor::test::write_bytes(target / "optimizer.pt", "not a pickle");
  CHECK_THAT(load_error(target), Catch::Contains("optimizer.pt: not a readable optimizer state"));
  save_good();
  tailor::test::write_bytes(target / "trainer_state.json", R"({"global_step": "three"})");
  CHECK_THAT(load_error(target), Catch::Contains("trainer_state.json: `global_step` is missing or not"));
  save_good();
  auto small = tiny_config(false);
  small.vocab_size = 64;
  tailor::test::write_bytes(target / "config.json", to_hf_config(small).dump());
  CHECK_THAT(load_error(target),
             Catch::Contains("ckpt/model.safetensors: weight `model.embed_tokens.weight` has "
                             "shape [128, 64], the model expects [64, 64]"));

  // A tokenizer with more pieces than the model has embeddings would index past them.
  REQUIRE(save_checkpoint(target, llama_for_causal_lm{small}, shared_tokenizer()).ok());
  CHECK_THAT(load_error(target),
             Catch::Contains("tokenizer.model: 96 pieces, more than the model's vocab_size 64"));
}

TEST_CASE("checkpoints move both ways between tailor and Hugging Face transformers",
          "[gpu][checkpoint][python]") {
  scratch_dir dir{"ckpt-hf"};
  const std::string text = "Question: Ava has 12 apples and buys 3 more.";
  tailor::test::write_bytes(dir.path / "text.txt", text);
  auto text_ids = shared_tokenizer().encode(text);
  for (bool tied : {false, true}) {
    auto model = spread_model(tied, tied ? 21 : 22);
    torch::optim::AdamW optimizer{model->parameters()};
    train_step(model, optimizer);
    auto name = std::string{"tailor_"} + (tied ? "tied" : "untied");
    REQUIRE(save_checkpoint(dir.path / name, model, shared_tokenizer(), &optimizer, trainer_state{1}).ok());
    REQUIRE(save_safetensors(dir.path / (name + ".expected.safetensors"),
                             {{"input_ids", fixed_tokens()},
                              {"logits", logits_of(model)},
                              {"text_ids", torch::tensor(text_ids, torch::kLong)}})
                .ok());
  }

  // The script checks tailor's checkpoints in transformers and sentencepiece, then writes two of its own.
  REQUIRE(tailor::test::run_parity_script("checkpoint_hf_parity.py", tailor::test::quoted(dir.path)) == 0);

  for (const char* name : {"hf_tied_bf16_sharded", "hf_untied_f16"}) {
    INFO("checkpoint " << name);
    auto loaded = load_checkpoint(dir.path / name);
    REQUIRE(loaded.ok());
    auto expected = load_safetensors(dir.path / (std::string{name} + ".expected.safetensors"));
    REQUIRE(expected.ok());
    torch::NoGradGuard no_grad;
    auto logits = loaded->model->forward(expected->at("input_ids")).logits;
    double difference = (logits - expected->at("logits")).abs().max().item<double>();
    INFO("max |tailor - transformers| = " << difference);
    CHECK(difference < 1e-4);
  }
}

// LoRA adapters on a tiny student: what is trainable, what stays frozen, and that the adapters learn.
#include "gpu/checkpoint.hpp"
#include "gpu/lora.hpp"
#include "gpu/lr_schedule.hpp"
#include "gpu/safetensors.hpp"
#include "gpu/train_step.hpp"
#include "gpu/trainer_restore.hpp"
#include "tests/gpu_checkpoint_support.hpp"
#include "tests/gpu_train_support.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using namespace tailor::train_test;

namespace {

llama_for_causal_lm tiny_model(std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  return llama_for_causal_lm(tiny_config());
}

lora_settings settings_with(int rank, std::vector<std::string> targets) {
  lora_settings s;
  s.rank = rank;
  s.alpha = 2.0 * rank;
  s.targets = std::move(targets);
  s.seed = 7;
  return s;
}

std::map<std::string, torch::Tensor> copies(llama_for_causal_lm& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model->named_parameters())
    out.emplace(item.key(), item.value().detach().clone());
  return out;
}

} // namespace

TEST_CASE("the trainable parameters at rank r are r * (in + out) per target projection", "[gpu][lora]") {
  const auto config = tiny_config();
  auto model = tiny_model();
  auto s = settings_with(3, {"q_proj", "v_proj", "down_proj"});
  REQUIRE(attach_lora(model, s).ok());
  const std::int64_t d = config.hidden_size, hd = config.head_dim;
  const std::int64_t per_layer = 3 * ((d + config.num_attention_heads * hd) + // q_proj
                                      (d + config.num_key_value_heads * hd) + // v_proj
                                      (config.intermediate_size + d));        // down_proj
  std::int64_t trainable = 0;
  for (const auto& item : model->named_parameters())
    if (item.value().requires_grad()) {
      CHECK(is_lora_parameter(item.key()));
      trainable += item.value().numel();
    }
  CHECK(trainable == per_layer * config.num_hidden_layers);
  CHECK(model->named_parameters().contains("model.layers.0.self_attn.q_proj.lora_A.weight"));
  CHECK(model->named_parameters().contains("model.layers.1.mlp.down_proj.lora_B.weight"));
  CHECK_FALSE(model->named_parameters().contains("model.layers.0.self_attn.k_proj.lora_A.weight"));
  const auto back = lora_of(model);
  CHECK(back.rank == 3);
  CHECK(back.alpha == Approx(6.0));
  CHECK(back.targets == std::vector<std::string>{"q_proj", "v_proj", "down_proj"});
}

TEST_CASE("an untrained adapter leaves the logits as they were, and the draw repeats with its seed",
          "[gpu][lora]") {
  auto ids = torch::randint(0, tiny_config().vocab_size, {2, 9}, torch::kLong);
  auto plain = tiny_model();
  plain->eval();
  auto before = plain->forward(ids).logits;
  auto a = tiny_model(), b = tiny_model();
  const auto s =
      settings_with(4, {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"});
  REQUIRE(attach_lora(a, s).ok());
  torch::manual_seed(2); // A comes from a generator of its own: the global stream does not matter
  REQUIRE(attach_lora(b, s).ok());
  a->eval();
  CHECK((a->forward(ids).logits - before).abs().max().item<double>() == 0.0);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  const std::string up_a = "model.layers.0.mlp.up_proj.lora_A.weight";
  CHECK(torch::equal(pa[up_a], pb[up_a]));
  CHECK(pa[up_a].abs().max().item<double>() > 0.0);
  auto c = tiny_model();
  auto reseeded = s;
  reseeded.seed = s.seed + 1;
  REQUIRE(attach_lora(c, reseeded).ok());
  CHECK_FALSE(torch::equal(c->named_parameters()[up_a], pa[up_a]));
}

TEST_CASE("bad LoRA settings are refused naming the field", "[gpu][lora]") {
  auto model = tiny_model();
  auto message = [&](lora_settings s) {
    auto attached = attach_lora(model, s);
    REQUIRE_FALSE(attached.ok());
    return attached.error().message;
  };
  CHECK_THAT(message(settings_with(-1, {"q_proj"})), Catch::Contains("lora.rank"));
  CHECK_THAT(message(settings_with(0, {"q_proj"})), Catch::Contains("lora.rank"));
  CHECK_THAT(message(settings_with(2, {"q_proj", "attn_proj"})), Catch::Contains("attn_proj"));
  CHECK_THAT(message(settings_with(2, {"q_proj", "q_proj"})), Catch::Contains("twice"));
  CHECK_THAT(message(settings_with(2, {})), Catch::Contains("lora.targets"));
  auto s = settings_with(2, {"q_proj"});
  s.alpha = 0;
  CHECK_THAT(message(s), Catch::Contains("lora.alpha"));
  s.alpha = 4;
  s.dropout = 1.0;
  CHECK_THAT(message(s), Catch::Contains("lora.dropout"));
  s.dropout = -0.1;
  CHECK_THAT(message(s), Catch::Contains("lora.dropout"));
  // Nothing was attached or frozen by the refusals.
  CHECK_FALSE(has_lora(model));
  for (const auto& p : model->parameters())
    CHECK(p.requires_grad());
  REQUIRE(attach_lora(model, settings_with(2, {"q_proj"})).ok());
  CHECK_THAT(message(settings_with(2, {"q_proj"})), Catch::Contains("already has LoRA"));
}

TEST_CASE("training with LoRA changes the adapters only, and the loss falls", "[gpu][lora]") {
  torch::set_num_threads(1);
  auto model = tiny_model();
  {
    // A drawn model's embeddings and head (std 0.02) keep every logit near zero whatever the frozen
    // final norm passes on, so adapters alone could not sharpen them; a trained model's are far larger.
    torch::NoGradGuard no_grad;
    model->model->embed_tokens->weight.mul_(50.0);
    if (model->lm_head)
      model->lm_head->weight.mul_(50.0);
  }
  REQUIRE(attach_lora(model, settings_with(8, {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                               "down_proj"}))
              .ok());
  const auto before = copies(model);
  auto t = make_trainer(model, options_with(1e-2, 10, lr_schedule::constant, 0));
  auto examples = random_examples(4, /*triplets=*/false);
  auto first = t.step(examples);
  REQUIRE(first.ok());
  double last = first->lm_loss;
  for (int i = 1; i < 200; ++i) {
    auto stats = t.step(examples);
    REQUIRE(stats.ok());
    last = stats->lm_loss;
  }
  INFO("first loss " << first->lm_loss << ", last " << last);
  CHECK(last < first->lm_loss / 100);
  int adapters_changed = 0;
  for (const auto& item : model->named_parameters()) {
    const bool same = torch::equal(item.value(), before.at(item.key()));
    if (is_lora_parameter(item.key()))
      adapters_changed += same ? 0 : 1;
    else
      CHECK(same);
  }
  CHECK(adapters_changed == static_cast<int>(2 * 7 * tiny_config().num_hidden_layers));
}

TEST_CASE("a checkpoint of a model with adapters holds the base's weights, and loads back with its adapters",
          "[gpu][lora]") {
  tailor::test::scratch_dir dir{"lora-base-weights"};
  std::vector<std::string> corpus;
  for (int i = 0; i < 200; ++i)
    corpus.push_back("Question: Ava has " + std::to_string(i % 41) + " apples. Answer: " + std::to_string(i) +
                     ".");
  auto trained = train_tokenizer(corpus, {.vocab_size = 64});
  REQUIRE(trained.ok());
  auto model = tiny_model();
  const auto base = copies(model);
  REQUIRE(attach_lora(model, settings_with(2, {"q_proj", "down_proj"})).ok());
  {
    torch::NoGradGuard no_grad; // as after training: B no longer zero
    for (auto& item : model->named_parameters())
      if (item.key().ends_with("lora_B.weight"))
        item.value().normal_(0, 0.5);
  }
  model->eval();
  REQUIRE(save_checkpoint(dir.path / "ckpt", model, *trained).ok());
  // model.safetensors is the base alone, as transformers reads it; the adapters are in PEFT's files beside
  // it.
  auto stored = load_safetensors_dir(dir.path / "ckpt");
  REQUIRE(stored.ok());
  for (const auto& [name, tensor] : *stored) {
    CHECK_FALSE(is_lora_parameter(name));
    CHECK(torch::equal(tensor, base.at(name)));
  }
  CHECK(std::filesystem::exists(dir.path / "ckpt" / "adapter_config.json"));
  auto loaded = load_checkpoint(dir.path / "ckpt");
  REQUIRE(loaded.ok());
  CHECK(has_lora(loaded->model));
  CHECK(lora_of(loaded->model).targets == std::vector<std::string>{"q_proj", "down_proj"});
  for (const auto& item : loaded->model->named_parameters()) {
    CHECK(torch::equal(item.value(), model->named_parameters()[item.key()]));
    CHECK(item.value().requires_grad() == is_lora_parameter(item.key()));
  }
  loaded->model->eval();
  auto ids = torch::randint(0, tiny_config().vocab_size, {2, 9}, torch::kLong);
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(loaded->model->forward(ids).logits, model->forward(ids).logits));
}

TEST_CASE("a resumed checkpoint's adapters that differ from student.lora are named in a warning",
          "[gpu][lora]") {
  auto model = tiny_model();
  auto attached = settings_with(3, {"q_proj", "v_proj"});
  attached.alpha = 10; // alpha / rank * rank need not give alpha back exactly
  REQUIRE(attach_lora(model, attached).ok());
  const auto checkpoint = lora_of(model);
  CHECK_FALSE(kept_lora_warning(checkpoint, attached));
  auto reordered = attached;
  reordered.targets = {"v_proj", "q_proj"};
  reordered.dropout = 0.1;
  reordered.seed = 99;
  CHECK_FALSE(kept_lora_warning(checkpoint, reordered));

  auto asked = settings_with(8, {"q_proj", "k_proj"});
  const auto message = kept_lora_warning(checkpoint, asked);
  REQUIRE(message);
  CHECK(*message == "the checkpoint's LoRA adapters (rank 3, alpha 10 on q_proj, v_proj) are kept; "
                    "student.lora now asks for rank 8, alpha 16 on q_proj, k_proj");
  auto other_alpha = attached;
  other_alpha.alpha = 12;
  CHECK_THAT(kept_lora_warning(checkpoint, other_alpha).value_or(""), Catch::Contains("alpha 12"));
  auto other_targets = attached;
  other_targets.targets = {"q_proj", "v_proj", "o_proj"};
  CHECK_THAT(kept_lora_warning(checkpoint, other_targets).value_or(""),
             Catch::Contains("q_proj, v_proj, o_proj"));
  auto none = attached;
  none.rank = 0;
  CHECK_THAT(kept_lora_warning(checkpoint, none).value_or(""),
             Catch::EndsWith("asks for no adapters (rank 0)"));
  // A checkpoint without adapters has nothing to keep: the run attaches what student.lora asks.
  CHECK_FALSE(kept_lora_warning(lora_of(tiny_model()), asked));
}

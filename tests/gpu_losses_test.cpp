// The two losses: collation, hand-computed cases, gradient flow, and parity with a transformers reference.
#include "gpu/llama_model.hpp"
#include "gpu/losses.hpp"
#include "gpu/model_config.hpp"
#include "gpu/safetensors.hpp"
#include "gpu_model_support.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

using namespace tailor;
using namespace tailor::gpu;
using tailor::model_test::long_tensor;
using tailor::model_test::scratch;
using tailor::model_test::tiny_config;

namespace {

float value_of(const torch::Tensor& t) {
  return t.item<float>();
}

// Four examples with prefixes of different lengths: row 1 has no negative, row 3's positive equals its
// anchor.
std::vector<tailored_example> sample_examples() {
  return {
      {{1, 10, 11, 12, 13}, {20, 21, 22, 2}, {20, 21, 22}, {23, 24, 25, 26, 27, 28, 29, 30}, {31, 32}},
      {{1, 14, 15}, {33, 34, 2}, {33, 34}, {35, 36, 37}, {}},
      {{1, 16}, {38, 39, 40, 41, 42, 2}, {38, 39, 40, 41, 42}, {43, 44}, {45, 46, 47, 48}},
      {{1, 17, 18, 19}, {49, 2}, {49, 50}, {49, 50}, {51}},
  };
}

} // namespace

TEST_CASE("collation pads, marks targets and masks rows without a triplet", "[gpu][losses]") {
  auto batch = collate_tailored_batch(sample_examples(), /*pad_id=*/0, /*max_rationale_tokens=*/6);
  CHECK(batch.input_ids.sizes() == torch::IntArrayRef({4, 9}));
  CHECK(batch.prefix_ids.sizes() == torch::IntArrayRef({4, 5}));
  CHECK(batch.rationale_ids.sizes() == torch::IntArrayRef({3, 4, 6})); // the 8-token positive is cut to 6
  CHECK(torch::equal(batch.input_ids[1], long_tensor({1, 14, 15, 33, 34, 2, 0, 0, 0})));
  CHECK(torch::equal(batch.is_target[1].to(torch::kLong), long_tensor({0, 0, 0, 1, 1, 1, 0, 0, 0})));
  CHECK(torch::equal(batch.valid[1].to(torch::kLong), long_tensor({1, 1, 1, 1, 1, 1, 0, 0, 0})));
  CHECK(torch::equal(batch.rationale_ids[1][0], long_tensor({23, 24, 25, 26, 27, 28})));
  CHECK(torch::equal(batch.rationale_valid[2][2].to(torch::kLong), long_tensor({1, 1, 1, 1, 0, 0})));
  CHECK(torch::equal(batch.triplet_rows.to(torch::kLong), long_tensor({1, 0, 1, 0})));
}

TEST_CASE("weighted LM loss by hand on a two-prediction example", "[gpu][losses]") {
  // Tokens [prefix 0, prefix 1, target 2]: position 0 predicts a prefix token, position 1 a target token.
  auto logits = torch::tensor({{{2.0f, 0.0f, -1.0f}, {0.5f, 0.0f, 1.5f}, {9.0f, 9.0f, 9.0f}}}); // [1, 3, 3]
  auto ids = long_tensor({0, 1, 2}).unsqueeze(0);
  auto is_target = torch::tensor({false, false, true}).unsqueeze(0);
  auto valid = torch::ones({1, 3}, torch::kBool);
  auto ce = [&](int position, int token) {
    return -torch::log_softmax(logits[0][position], 0)[token].item<float>();
  };
  const float prefix_ce = ce(0, 1), target_ce = ce(1, 2);
  CHECK(value_of(weighted_lm_loss(logits, ids, is_target, valid, 0.0)) ==
        Approx(target_ce / 2).epsilon(1e-6));
  CHECK(value_of(weighted_lm_loss(logits, ids, is_target, valid, 1.0)) ==
        Approx((prefix_ce + target_ce) / 2).epsilon(1e-6));
  CHECK(value_of(weighted_lm_loss(logits, ids, is_target, valid, 0.1)) ==
        Approx((0.1f * prefix_ce + target_ce) / 2).epsilon(1e-6));
  // A pad token after the target predicts nothing and counts for nothing, whatever its logits.
  auto padded_logits = torch::cat({logits, torch::full({1, 1, 3}, 50.0f)}, 1);
  auto padded_ids = long_tensor({0, 1, 2, 0}).unsqueeze(0);
  auto padded_target = torch::tensor({false, false, true, false}).unsqueeze(0);
  auto padded_valid = torch::tensor({true, true, true, false}).unsqueeze(0);
  CHECK(value_of(weighted_lm_loss(padded_logits, padded_ids, padded_target, padded_valid, 0.1)) ==
        Approx((0.1f * prefix_ce + target_ce) / 2).epsilon(1e-6));
}

TEST_CASE("triplet loss: hand values, masked rows, all rows masked", "[gpu][losses]") {
  auto rows = [](std::vector<float> values) { return torch::tensor(values).view({-1, 2}); };
  auto all = torch::ones({1}, torch::kBool);
  // a = p and n opposite: 1 - 1 + (-1) < 0 -> no loss.
  CHECK(value_of(triplet_cosine_loss(rows({1, 2}), rows({1, 2}), rows({-1, -2}), all)) == 0.0f);
  // a ⟂ p and n = a: 1 - 0 + 1 = 2.
  CHECK(value_of(triplet_cosine_loss(rows({1, 0}), rows({0, 3}), rows({2, 0}), all)) == Approx(2.0f));
  // Row 1 is masked: its negative may change freely, and the mean is over the one counted row.
  auto mask = torch::tensor({true, false});
  auto a = rows({1, 0, 0, 1}), p = rows({1, 1, 0, 1});
  auto first = triplet_cosine_loss(a, p, rows({0, 1, 5, 5}), mask);
  auto second = triplet_cosine_loss(a, p, rows({0, 1, -3, 7}), mask);
  CHECK(value_of(first) == Approx(1.0f - std::sqrt(0.5f)));
  CHECK(value_of(first) == value_of(second));
  auto none = triplet_cosine_loss(a, p, rows({0, 1, 5, 5}), torch::zeros({2}, torch::kBool));
  CHECK(value_of(none) == 0.0f);
  CHECK(torch::isfinite(none).item<bool>());
}

TEST_CASE("a masked example's negative changes nothing in the total loss", "[gpu][losses]") {
  torch::manual_seed(5);
  llama_for_causal_lm model(tiny_config());
  auto examples = sample_examples();
  auto before = tailored_learning_loss(model, collate_tailored_batch(examples, 0));
  examples[3].negative = {60, 61, 62};       // row 3 stays masked (positive == anchor)
  examples[1].positive = {9, 9, 9, 9, 9, 9}; // row 1 stays masked (no negative)
  auto after = tailored_learning_loss(model, collate_tailored_batch(examples, 0));
  CHECK(before.triplet_rows == 2);
  CHECK(value_of(before.total) == value_of(after.total));
  CHECK(value_of(before.triplet) > 0.0f);
  // No triplet row at all: L_cl is 0 and the total is L_lm.
  for (auto& e : examples)
    e.negative.clear();
  auto lm_only = tailored_learning_loss(model, collate_tailored_batch(examples, 0));
  CHECK(lm_only.triplet_rows == 0);
  CHECK(value_of(lm_only.triplet) == 0.0f);
  CHECK(value_of(lm_only.total) == value_of(lm_only.lm));
  lm_only.total.backward(); // still one well-formed graph
  CHECK(model->named_parameters()["lm_head.weight"].grad().abs().sum().item<float>() > 0.0f);
}

TEST_CASE("the triplet gradient reaches the rationales but not the prefix", "[gpu][losses]") {
  torch::manual_seed(6);
  llama_for_causal_lm model(tiny_config());
  auto batch = collate_tailored_batch(sample_examples(), 0);
  auto encoded = encode_triplets(model, batch);
  REQUIRE(encoded.anchor.size(0) == 2);
  CHECK(encoded.anchor.requires_grad());
  auto all = torch::ones({2}, torch::kBool);
  triplet_cosine_loss(encoded.anchor, encoded.positive, encoded.negative, all).backward();
  auto embedding_grad = model->model->embed_tokens->weight.grad(); // [V, D]
  REQUIRE(embedding_grad.defined());
  auto row_norm = [&](int token) { return embedding_grad[token].abs().sum().item<float>(); };
  // Tokens 10..13 and 16 appear only in the prefixes of triplet rows: the cache carries no gradient to them.
  for (int token : {10, 11, 12, 13, 16})
    CHECK(row_norm(token) == 0.0f);
  // Anchor, positive and negative tokens of those rows do get gradient.
  for (int token : {20, 23, 31, 38, 43, 45})
    CHECK(row_norm(token) > 0.0f);
}

TEST_CASE("both losses and their gradients match a transformers reference", "[gpu][losses][parity]") {
  scratch dir("losses");
  model_test::run_reference("model '" + dir.path.string() + "'", dir.path);
  auto config = load_llama_config(dir.path / "config.json");
  REQUIRE(config.ok());
  llama_for_causal_lm model(config.value());
  auto weights = load_safetensors_dir(dir.path);
  REQUIRE(weights.ok());
  REQUIRE(load_hf_weights(model, weights.value()).ok());

  // The reference model's vocabulary is 128: shift the sample tokens so that they use more of it.
  auto examples = sample_examples();
  for (auto& e : examples)
    for (auto* tokens : {&e.prefix, &e.target, &e.anchor, &e.positive, &e.negative})
      for (auto& t : *tokens)
        t = t < 3 ? t : t + 60;
  loss_options options;
  options.max_rationale_tokens = 6; // the 8-token positive is cut on both sides
  const std::vector<std::string> grad_names{
      "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
      "model.layers.1.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight"};
  nlohmann::json spec{{"prefix_weight", options.prefix_weight},
                      {"margin", options.margin},
                      {"triplet_weight", options.triplet_weight},
                      {"max_rationale_tokens", options.max_rationale_tokens},
                      {"grad_names", grad_names},
                      {"examples", nlohmann::json::array()}};
  for (const auto& e : examples)
    spec["examples"].push_back({{"prefix", e.prefix},
                                {"target", e.target},
                                {"anchor", e.anchor},
                                {"positive", e.positive},
                                {"negative", e.negative}});
  std::ofstream(dir.path / "batch.json") << spec.dump();
  model_test::run_reference("losses '" + dir.path.string() + "' '" + (dir.path / "batch.json").string() +
                                "' '" + (dir.path / "losses.safetensors").string() + "'",
                            dir.path);
  auto reference = load_safetensors(dir.path / "losses.safetensors");
  REQUIRE(reference.ok());
  auto& r = reference.value();

  auto batch = collate_tailored_batch(examples, /*pad_id=*/2, options.max_rationale_tokens);
  auto loss = tailored_learning_loss(model, batch, options);
  CHECK(loss.triplet_rows == 2);
  const float lm_difference = std::abs(value_of(loss.lm) - r.at("lm").item<float>());
  const float triplet_difference = std::abs(value_of(loss.triplet) - r.at("triplet").item<float>());
  const float total_difference = std::abs(value_of(loss.total) - r.at("total").item<float>());
  WARN(std::setprecision(9) << "L_lm " << value_of(loss.lm) << " vs " << r.at("lm").item<float>()
                            << " (|diff| " << lm_difference << "), L_cl " << value_of(loss.triplet) << " vs "
                            << r.at("triplet").item<float>() << " (|diff| " << triplet_difference
                            << "), total |diff| " << total_difference);
  CHECK(value_of(loss.triplet) > 0.0f);
  CHECK(lm_difference < 1e-5f);
  CHECK(triplet_difference < 1e-5f);
  CHECK(total_difference < 1e-5f);
  {
    torch::NoGradGuard no_grad;
    auto encoded = encode_triplets(model, batch);
    CHECK((encoded.anchor - r.at("anchor")).abs().max().item<float>() < 1e-4f);
    CHECK((encoded.positive - r.at("positive")).abs().max().item<float>() < 1e-4f);
    CHECK((encoded.negative - r.at("negative")).abs().max().item<float>() < 1e-4f);
  }

  loss.total.backward();
  auto parameters = model->named_parameters();
  float worst = 0;
  for (const auto& name : grad_names) {
    const auto& expected = r.at("grad." + name);
    const float scale = expected.abs().max().item<float>();
    const float difference = (parameters[name].grad() - expected).abs().max().item<float>();
    INFO(name << ": max |grad - reference| " << difference << ", max |reference| " << scale);
    CHECK(scale > 0.0f);
    CHECK(difference <= 1e-4f * std::max(scale, 1.0f));
    worst = std::max(worst, difference / std::max(scale, 1e-12f));
  }
  WARN("worst gradient difference relative to the largest entry: " << worst);
}

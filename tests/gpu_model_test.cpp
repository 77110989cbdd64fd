// The student's LLaMA model: names, shapes, causality, cache, padding, GPU, GQA, weights, HF parity.
#include "gpu/autocast.hpp"
#include "gpu/llama_model.hpp"
#include "gpu/model_config.hpp"
#include "gpu/safetensors.hpp"
#include "gpu_model_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <torch/torch.h>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using tailor::model_test::scratch;
using tailor::model_test::tiny_config;

namespace {

float max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<float>();
}

} // namespace

TEST_CASE("parameters carry Hugging Face's names", "[gpu][model]") {
  auto names_of = [](llama_for_causal_lm& model) {
    std::vector<std::string> names;
    for (const auto& item : model->named_parameters())
      names.push_back(item.key());
    std::sort(names.begin(), names.end());
    return names;
  };
  std::vector<std::string> expected{"model.embed_tokens.weight", "model.norm.weight"};
  for (int layer = 0; layer < 2; ++layer) {
    const auto prefix = "model.layers." + std::to_string(layer) + ".";
    for (const char* leaf :
         {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
          "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
          "input_layernorm.weight", "post_attention_layernorm.weight"})
      expected.push_back(prefix + leaf);
  }
  std::sort(expected.begin(), expected.end());
  llama_for_causal_lm tied(tiny_config(2, true));
  CHECK(names_of(tied) == expected);
  expected.insert(expected.begin(), "lm_head.weight");
  llama_for_causal_lm untied(tiny_config(2, false));
  CHECK(names_of(untied) == expected);
  CHECK(untied->model->layers[0]->named_parameters()["self_attn.k_proj.weight"].sizes() ==
        torch::IntArrayRef({16, 32})); // 2 kv heads of 8
}

TEST_CASE("forward shapes, and logits skipped on request", "[gpu][model]") {
  torch::manual_seed(0);
  llama_for_causal_lm model(tiny_config());
  auto ids = torch::randint(0, 64, {3, 7}, torch::kLong);
  auto out = model->forward(ids);
  CHECK(out.logits.sizes() == torch::IntArrayRef({3, 7, 64}));
  CHECK(out.hidden.sizes() == torch::IntArrayRef({3, 7, 32}));
  auto positions = torch::arange(7).unsqueeze(0).expand({3, 7});
  auto hidden_only = model->forward(ids, positions, {}, nullptr, /*want_logits=*/false);
  CHECK_FALSE(hidden_only.logits.defined());
  CHECK(max_difference(hidden_only.hidden, out.hidden) == 0.0f);
}

TEST_CASE("a later token never changes earlier logits", "[gpu][model]") {
  torch::manual_seed(1);
  llama_for_causal_lm model(tiny_config());
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 64, {2, 9}, torch::kLong);
  auto changed = ids.clone();
  changed.index_put_({torch::indexing::Slice(), 6}, (ids.index({torch::indexing::Slice(), 6}) + 5) % 64);
  auto before = model->forward(ids).logits;
  auto after = model->forward(changed).logits;
  using torch::indexing::Slice;
  CHECK(max_difference(before.index({Slice(), Slice(0, 6)}), after.index({Slice(), Slice(0, 6)})) == 0.0f);
  CHECK(max_difference(before.index({Slice(), Slice(6)}), after.index({Slice(), Slice(6)})) > 1e-3f);
}

TEST_CASE("decoding one token at a time with the cache equals the full forward", "[gpu][model]") {
  torch::manual_seed(2);
  llama_for_causal_lm model(tiny_config());
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 64, {2, 10}, torch::kLong);
  auto full = model->forward(ids).logits;
  using torch::indexing::Slice;
  // Growing by concatenation (0), reserved for all positions (10), reserved too short: buffers grow (4).
  for (int64_t room : {0, 10, 4}) {
    INFO("reserved " << room);
    // A 4-token prefill without a mask, then single tokens, then a 3-token chunk over the cache.
    kv_cache cache;
    cache.reserve(room);
    std::vector<torch::Tensor> pieces;
    auto run = [&](int64_t from, int64_t to) {
      auto positions = torch::arange(from, to).unsqueeze(0).expand({2, to - from});
      pieces.push_back(model->forward(ids.index({Slice(), Slice(from, to)}), positions, {}, &cache).logits);
    };
    run(0, 4);
    const auto storage = cache.keys[0].data_ptr();
    run(4, 5);
    CHECK((room == 10) == (cache.keys[0].data_ptr() == storage)); // written in place while there is room
    for (int64_t t = 5; t < 7; ++t)
      run(t, t + 1);
    run(7, 10);
    CHECK(cache.length() == 10);
    CHECK(cache.keys.size() == 2);
    CHECK(cache.keys[0].sizes() == torch::IntArrayRef({2, 2, 10, 8}));
    CHECK(max_difference(torch::cat(pieces, 1), full) < 1e-5f);
  }
}

TEST_CASE("rows cut from a reserved cache go on alone; a recorded forward concatenates", "[gpu][model]") {
  torch::manual_seed(6);
  llama_for_causal_lm model(tiny_config());
  auto ids = torch::randint(0, 64, {2, 6}, torch::kLong);
  auto positions = [](int64_t from, int64_t to, int64_t rows) {
    return torch::arange(from, to).unsqueeze(0).expand({rows, to - from});
  };
  using torch::indexing::Slice;
  kv_cache prefix;
  prefix.reserve(8);
  {
    torch::NoGradGuard no_grad;
    model->forward(ids.index({Slice(), Slice(0, 4)}), positions(0, 4, 2), {}, &prefix);
  }
  // Row 1 twice and row 0: each copy continues on its own storage, the prefix stays as it was.
  auto rows = torch::tensor(std::vector<int64_t>{1, 1, 0});
  auto picked = ids.index_select(0, rows);
  auto expected = model->forward(picked).logits.index({Slice(), Slice(4, 6)}).detach();
  kv_cache first = prefix.select_rows(rows), second = prefix.select_rows(rows);
  {
    torch::NoGradGuard no_grad;
    auto a = model->forward(picked.index({Slice(), Slice(4, 6)}), positions(4, 6, 3), {}, &first).logits;
    CHECK(max_difference(a, expected) < 1e-5f);
  }
  CHECK(prefix.length() == 4);
  // With gradients recorded the new positions are concatenated, and the loss reaches the weights.
  auto b = model->forward(picked.index({Slice(), Slice(4, 6)}), positions(4, 6, 3), {}, &second).logits;
  CHECK(max_difference(b, expected) < 1e-5f);
  CHECK(second.length() == 6);
  CHECK(second.keys[0].is_contiguous()); // a concatenation, not a view of the reserved buffer
  b.sum().backward();
  auto grad = model->named_parameters()["model.layers.0.self_attn.k_proj.weight"].grad();
  REQUIRE(grad.defined());
  CHECK(grad.abs().sum().item<float>() > 0.0f);
}

TEST_CASE("padded rows give the logits of the same rows unpadded", "[gpu][model]") {
  torch::manual_seed(3);
  llama_for_causal_lm model(tiny_config());
  torch::NoGradGuard no_grad;
  auto long_row = torch::randint(0, 64, {1, 8}, torch::kLong);
  auto short_row = torch::randint(0, 64, {1, 5}, torch::kLong);
  auto expected_long = model->forward(long_row).logits;
  auto expected_short = model->forward(short_row).logits;
  using torch::indexing::Slice;
  for (bool left : {false, true}) {
    INFO((left ? "left" : "right") << " padding");
    auto ids = torch::full({2, 8}, 0, torch::kLong);
    auto valid = torch::zeros({2, 8}, torch::kBool);
    ids[0] = long_row[0];
    valid[0].fill_(true);
    auto real = left ? Slice(3, 8) : Slice(0, 5);
    ids.index_put_({1, real}, short_row[0]);
    valid.index_put_({1, real}, true);
    auto logits = model->forward(ids, positions_from_valid(valid), causal_padding_mask(valid, 8)).logits;
    CHECK(max_difference(logits[0], expected_long[0]) < 1e-5f);
    CHECK(max_difference(logits[1].index({real}), expected_short[0]) < 1e-5f);
    CHECK(torch::isfinite(logits).all().item<bool>()); // pad rows too
  }
}

TEST_CASE("on a GPU the model gives the CPU's logits: fp32 closely, bf16 autocast within its rounding",
          "[gpu][model][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  torch::manual_seed(4);
  llama_for_causal_lm on_cpu(tiny_config());
  torch::manual_seed(4); // the same weights, drawn on the CPU, then moved
  llama_for_causal_lm on_gpu(tiny_config());
  on_gpu->to(torch::kCUDA);
  torch::NoGradGuard no_grad;
  // A full row and a left-padded one, as the exam batches them; pad rows must stay finite on the GPU too.
  auto ids = torch::randint(3, 64, {2, 12}, torch::kLong);
  auto valid = torch::ones({2, 12}, torch::kBool);
  valid[1].narrow(0, 0, 4).fill_(false);
  auto positions = positions_from_valid(valid);
  auto mask = causal_padding_mask(valid, 12);
  auto expected = on_cpu->forward(ids, positions, mask).logits;
  const float scale = std::max(1.0f, expected.abs().max().item<float>());
  auto run_on_gpu = [&] {
    return on_gpu->forward(ids.cuda(), positions.cuda(), mask.cuda()).logits.to(torch::kCPU, torch::kFloat);
  };
  const bool tf32 = at::globalContext().allowTF32CuBLAS();
  at::globalContext().setAllowTF32CuBLAS(false); // fp32 means fp32 here
  auto fp32 = run_on_gpu();
  at::globalContext().setAllowTF32CuBLAS(tf32);
  CHECK(torch::isfinite(fp32).all().item<bool>());
  CHECK(max_difference(fp32, expected) < 1e-4f * scale);

  torch::Tensor bf16;
  {
    cuda_autocast_scope autocast(true);
    bf16 = run_on_gpu();
  }
  CHECK(torch::isfinite(bf16).all().item<bool>());
  // bf16 keeps 8 bits of mantissa: a few parts in a thousand per product, a few hundredths over the model.
  const float bf16_error = max_difference(bf16, expected);
  INFO("bf16 error " << bf16_error << " on logits up to " << scale);
  CHECK(bf16_error < 5e-2f * scale);
  CHECK(bf16_error > 0.0f); // autocast did compute in bf16
  // The greedy choice agrees wherever the CPU's best logit leads by more than that error.
  auto lead = std::get<0>(expected.topk(2, -1));
  auto clear = (lead.select(-1, 0) - lead.select(-1, 1)) > 2 * bf16_error;
  CHECK(torch::equal(bf16.argmax(-1).masked_select(clear), expected.argmax(-1).masked_select(clear)));
}

TEST_CASE("grouped-query attention shares each key/value head between consecutive query heads",
          "[gpu][model]") {
  torch::manual_seed(4);
  llama_for_causal_lm grouped(tiny_config(2));
  llama_for_causal_lm full(tiny_config(4));
  // The full model's k/v heads are the grouped model's heads repeated: heads 0,1 use kv 0; heads 2,3 use
  // kv 1.
  std::map<std::string, torch::Tensor> weights;
  for (const auto& item : grouped->named_parameters()) {
    auto w = item.value().detach();
    if (item.key().ends_with("k_proj.weight") || item.key().ends_with("v_proj.weight"))
      w = w.view({2, 8, 32}).repeat_interleave(2, 0).reshape({32, 32});
    weights[item.key()] = w;
  }
  REQUIRE(load_hf_weights(full, weights).ok());
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 64, {2, 6}, torch::kLong);
  CHECK(max_difference(grouped->forward(ids).logits, full->forward(ids).logits) < 1e-5f);
}

TEST_CASE("load_hf_weights reports missing, misshapen and unknown weights", "[gpu][model]") {
  llama_for_causal_lm model(tiny_config());
  std::map<std::string, torch::Tensor> weights;
  for (const auto& item : model->named_parameters())
    weights[item.key()] = torch::zeros_like(item.value());
  CHECK(load_hf_weights(model, weights).ok());
  CHECK(model->named_parameters()["model.norm.weight"].abs().sum().item<float>() == 0.0f);

  auto missing = weights;
  missing.erase("model.layers.1.mlp.up_proj.weight");
  CHECK_THAT(load_hf_weights(model, missing).error().message,
             Catch::Contains("model.layers.1.mlp.up_proj.weight"));
  auto misshapen = weights;
  misshapen["model.norm.weight"] = torch::zeros({31});
  CHECK_THAT(load_hf_weights(model, misshapen).error().message, Catch::Contains("model.norm.weight"));
  auto unknown = weights;
  unknown["model.layers.2.mlp.up_proj.weight"] = torch::zeros({64, 32});
  CHECK_THAT(load_hf_weights(model, unknown).error().message, Catch::Contains("model.layers.2"));
  auto old_style = weights;
  old_style["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch::zeros({4});
  CHECK(load_hf_weights(model, old_style).ok());
}

TEST_CASE("logits and greedy decoding match transformers' LlamaForCausalLM", "[gpu][model][parity]") {
  for (bool tied : {false, true}) {
    DYNAMIC_SECTION((tied ? "tied" : "untied") << " embeddings") {
      scratch dir(tied ? "parity-tied" : "parity");
      model_test::run_reference("model '" + dir.path.string() + "'" + (tied ? " --tie" : ""), dir.path);
      auto config = load_llama_config(dir.path / "config.json");
      REQUIRE(config.ok());
      CHECK(config->tie_word_embeddings == tied);
      CHECK(config->num_key_value_heads == 2);
      CHECK(config->rope_theta == 1000.0);
      auto weights = load_safetensors_dir(dir.path);
      REQUIRE(weights.ok());
      llama_for_causal_lm model(config.value());
      auto loaded = load_hf_weights(model, weights.value());
      INFO((loaded.ok() ? std::string{} : loaded.error().message));
      REQUIRE(loaded.ok());
      auto reference = load_safetensors(dir.path / "reference.safetensors");
      REQUIRE(reference.ok());
      auto& r = reference.value();

      torch::NoGradGuard no_grad;
      auto logits = model->forward(r.at("tokens")).logits;
      const float logit_difference = max_difference(logits, r.at("logits"));
      WARN("max |logits - transformers| = " << logit_difference << " (logit std "
                                            << r.at("logits").std().item<float>() << ")");
      CHECK(logit_difference < 1e-4f);

      std::vector<std::vector<int64_t>> prompts;
      for (const char* name : {"prompt_0", "prompt_1"}) {
        auto p = r.at(name).contiguous();
        prompts.emplace_back(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
      }
      auto expected = torch::stack({r.at("generated_0"), r.at("generated_1")});
      // One prompt at a time, and both together left-padded.
      for (size_t i = 0; i < prompts.size(); ++i)
        CHECK(torch::equal(model_test::greedy_decode(model, {prompts[i]}, 10)[0], expected[i]));
      CHECK(torch::equal(model_test::greedy_decode(model, prompts, 10), expected));
    }
  }
}

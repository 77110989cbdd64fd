#include "gpu/lora.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace tailor::gpu {
namespace {

// Each target name with its projection and adapter slot in one decoder layer.
struct target_slot {
  torch::nn::Linear* projection;
  lora_branch* adapter;
};

std::vector<std::pair<std::string, target_slot>> slots_of(llama_decoder_layer_impl& layer) {
  auto& a = *layer.self_attn;
  auto& m = *layer.mlp;
  return {{"q_proj", {&a.q_proj, &a.q_lora}},       {"k_proj", {&a.k_proj, &a.k_lora}},
          {"v_proj", {&a.v_proj, &a.v_lora}},       {"o_proj", {&a.o_proj, &a.o_lora}},
          {"gate_proj", {&m.gate_proj, &m.gate_lora}}, {"up_proj", {&m.up_proj, &m.up_lora}},
          {"down_proj", {&m.down_proj, &m.down_lora}}};
}

std::vector<llama_decoder_layer_impl*> layers_of(const llama_for_causal_lm& model) {
  std::vector<llama_decoder_layer_impl*> out;
  for (const auto& layer : *model->model->layers)
    out.push_back(layer->as<llama_decoder_layer_impl>());
  return out;
}

} // namespace

const std::vector<std::string>& lora_target_names() {
  static const std::vector<std::string> names{"q_proj",    "k_proj", "v_proj",   "o_proj",
                                              "gate_proj", "up_proj", "down_proj"};
  return names;
}

status check_lora_settings(const lora_settings& s) {
  if (s.rank < 1)
    return problem{"lora.rank must be at least 1 to attach adapters, got " + std::to_string(s.rank)};
  if (!(s.alpha > 0.0) || !std::isfinite(s.alpha))
    return problem{"lora.alpha must be a positive number, got " + std::to_string(s.alpha)};
  if (!(s.dropout >= 0.0 && s.dropout < 1.0))
    return problem{"lora.dropout must be in [0, 1), got " + std::to_string(s.dropout)};
  if (s.targets.empty())
    return problem{"lora.targets must name at least one projection"};
  std::set<std::string> seen;
  const auto& known = lora_target_names();
  for (const auto& t : s.targets) {
    if (std::find(known.begin(), known.end(), t) == known.end())
      return problem{"lora.targets: unknown projection `" + t +
                     "` (known: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"};
    if (!seen.insert(t).second)
      return problem{"lora.targets names `" + t + "` twice"};
  }
  return ok_status();
}

status attach_lora(llama_for_causal_lm& model, const lora_settings& s) {
  if (auto valid = check_lora_settings(s); !valid)
    return valid;
  if (has_lora(model))
    return problem{"the model already has LoRA adapters"};
  try {
    const auto device = model->parameters().front().device();
    for (auto& p : model->parameters())
      p.set_requires_grad(false);
    // One generator for every A, seeded from the settings: the values do not depend on the global stream
    // (which the Linear constructors below still advance, drawing a default init that is overwritten).
    auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed);
    const double scaling = s.alpha / s.rank;
    for (auto* layer : layers_of(model)) {
      for (auto& [name, slot] : slots_of(*layer)) {
        if (std::find(s.targets.begin(), s.targets.end(), name) == s.targets.end())
          continue;
        auto& base = **slot.projection;
        const auto in = base.weight.size(1), out = base.weight.size(0);
        auto A = torch::nn::Linear(torch::nn::LinearOptions(in, s.rank).bias(false));
        auto B = torch::nn::Linear(torch::nn::LinearOptions(s.rank, out).bias(false));
        {
          torch::NoGradGuard no_grad;
          // kaiming_uniform_(a = sqrt(5)) as torch.nn.Linear and PEFT draw it: bound = 1 / sqrt(fan_in).
          const double bound = 1.0 / std::sqrt(static_cast<double>(in));
          A->weight.copy_(at::empty({s.rank, in}, torch::kFloat).uniform_(-bound, bound, generator));
          B->weight.zero_();
        }
        A->to(device, torch::kFloat);
        B->to(device, torch::kFloat);
        base.register_module("lora_A", A);
        base.register_module("lora_B", B);
        *slot.adapter = lora_branch{A, B, s.dropout, scaling};
      }
    }
    return ok_status();
  } catch (const c10::Error& e) {
    return problem{std::string{"attaching LoRA adapters failed: "} + e.what_without_backtrace()};
  }
}

bool has_lora(const llama_for_causal_lm& model) { return lora_of(model).rank > 0; }

lora_settings lora_of(const llama_for_causal_lm& model) {
  lora_settings s;
  s.rank = 0;
  s.targets.clear();
  const auto layers = layers_of(model);
  if (layers.empty())
    return s;
  for (auto& [name, slot] : slots_of(*layers.front())) {
    if (!slot.adapter->A)
      continue;
    s.rank = static_cast<int>(slot.adapter->A->weight.size(0));
    s.alpha = slot.adapter->scaling * s.rank;
    s.dropout = slot.adapter->dropout;
    s.targets.push_back(name);
  }
  return s;
}

} // namespace tailor::gpu

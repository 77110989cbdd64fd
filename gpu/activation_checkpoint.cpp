// The recompute-in-backward autograd function behind activation checkpointing (the reentrant kind: the
// backward pass runs a nested backward through the recomputed block).
#include "gpu/activation_checkpoint.hpp"

#include "gpu/autocast.hpp"

#include <ATen/Context.h>
#include <mutex>

namespace tailor::gpu {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What the backward pass needs to run the block again as the forward ran it.
struct replay_state : torch::CustomClassHolder {
  block_function block;
  kv_cache* live_cache = nullptr; // the caller's cache, only during the forward call
  bool had_cache = false;
  kv_cache before; // handles to the cache's tensors before the block appended (no copy of their data)
  torch::Device device{torch::kCPU};
  torch::Tensor random_state; // the device generator's state when the forward began
  bool cuda_autocast = false;
};

at::Generator generator_of(const torch::Device& device) {
  return at::globalContext().defaultGenerator(device);
}

torch::Tensor random_state_of(const torch::Device& device) {
  auto generator = generator_of(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_random_state(const torch::Device& device, const torch::Tensor& state) {
  auto generator = generator_of(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Puts the forward's random state back for the recomputation, and the stream as it is now afterwards, so
// that checkpointing changes no draw outside the block.
class replayed_random_stream {
public:
  replayed_random_stream(const torch::Device& device, const torch::Tensor& forward_state)
      : device_(device), now_(random_state_of(device)) {
    set_random_state(device_, forward_state);
  }
  ~replayed_random_stream() { set_random_state(device_, now_); }
  replayed_random_stream(const replayed_random_stream&) = delete;
  replayed_random_stream& operator=(const replayed_random_stream&) = delete;

private:
  torch::Device device_;
  torch::Tensor now_;
};

class checkpoint_function : public torch::autograd::Function<checkpoint_function> {
public:
  // Runs under no-grad (Function::apply sees to it): only `x` is kept, as the backward's starting point.
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, c10::intrusive_ptr<replay_state> replay) {
    ctx->save_for_backward({x});
    auto out = replay->block(x, replay->live_cache);
    replay->live_cache = nullptr;
    ctx->saved_data["replay"] = c10::IValue::make_capsule(replay);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto replay = c10::static_intrusive_pointer_cast<replay_state>(ctx->saved_data["replay"].toCapsule());
    const auto saved = ctx->get_saved_variables();
    auto input = saved[0].detach().requires_grad_(saved[0].requires_grad());
    torch::Tensor out;
    {
      torch::AutoGradMode record(true);
      replayed_random_stream stream(replay->device, replay->random_state);
      cuda_autocast_scope autocast(replay->cuda_autocast);
      kv_cache cache = replay->before;
      out = replay->block(input, replay->had_cache ? &cache : nullptr);
    }
    // Accumulates into the block's parameters' gradients and the input's, as a plain backward would.
    torch::autograd::backward({out}, {grad_outputs[0]});
    return {input.requires_grad() ? input.grad() : torch::Tensor{}, torch::Tensor{}};
  }
};

} // namespace

bool checkpointable(const kv_cache* cache) {
  return cache == nullptr || !cache->writes_in_place();
}

torch::Tensor checkpointed(const block_function& block, const torch::Tensor& x, kv_cache* cache) {
  TORCH_CHECK(checkpointable(cache), "a cache that writes in place cannot be replayed by checkpointing");
  if (!torch::GradMode::is_enabled())
    return block(x, cache);
  auto replay = c10::make_intrusive<replay_state>();
  replay->block = block;
  replay->live_cache = cache;
  replay->had_cache = cache != nullptr;
  if (cache)
    replay->before = *cache;
  replay->device = x.device();
  replay->random_state = random_state_of(x.device());
  replay->cuda_autocast = at::autocast::is_autocast_enabled(at::kCUDA);
  // Function::apply records a backward only when an input requires grad. The block's own parameters are not
  // inputs of it, so a first block fed by a frozen embedding (LoRA) would lose its adapters' gradients:
  // make its input a leaf that requires grad (its gradient is computed and dropped).
  auto input = x.requires_grad() ? x : x.detach().requires_grad_(true);
  return checkpoint_function::apply(input, replay);
}

} // namespace tailor::gpu

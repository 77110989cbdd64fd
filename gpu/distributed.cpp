// c10d set-up and the collectives data-parallel training needs, on LibTorch's own Gloo (and NCCL on CUDA).
#include "gpu/distributed.hpp"
#include "gpu/runtime.hpp"

#include <cstdlib>
#include <map>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace tailor::gpu {

namespace {

result<long> integer_variable(const char* name, long fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0')
    return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0')
    return problem{std::string(name) + " must be an integer, got '" + text + "'"};
  return value;
}

} // namespace

status check_rendezvous(const rendezvous& where) {
  if (where.world_size < 1)
    return problem{"WORLD_SIZE must be 1 or more, got " + std::to_string(where.world_size)};
  if (where.rank < 0 || where.rank >= where.world_size)
    return problem{"RANK " + std::to_string(where.rank) + " is outside WORLD_SIZE " +
                   std::to_string(where.world_size) + " (ranks are 0 to WORLD_SIZE-1)"};
  if (where.world_size > 1 && where.master_port == 0)
    return problem{"MASTER_PORT must be set (1-65535) when WORLD_SIZE is more than 1"};
  if (where.master_addr.empty())
    return problem{"MASTER_ADDR is empty"};
  return ok_status();
}

result<rendezvous> rendezvous_from_environment() {
  rendezvous where;
  auto world = integer_variable("WORLD_SIZE", 1);
  auto rank = integer_variable("RANK", 0);
  auto port = integer_variable("MASTER_PORT", 29500);
  for (const auto* r : {&world, &rank, &port})
    if (!*r)
      return r->error();
  if (port.value() < 1 || port.value() > 65535)
    return problem{"MASTER_PORT must lie in 1-65535, got " + std::to_string(port.value())};
  where.world_size = static_cast<int>(world.value());
  where.rank = static_cast<int>(rank.value());
  where.master_port = static_cast<std::uint16_t>(port.value());
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr)
    where.master_addr = addr;
  if (auto valid = check_rendezvous(where); !valid)
    return valid.error();
  return where;
}

struct process_group::state {
  rendezvous where;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;

  status failed(const std::string& what, const std::exception& e) const {
    return problem{"rank " + std::to_string(where.rank) + " of " + std::to_string(where.world_size) + ": " +
                   what + " failed (a rank died or is too slow?): " + torch_error_text(e)};
  }
};

process_group::process_group(std::unique_ptr<state> s) : state_(std::move(s)) {}
process_group::~process_group() = default;

result<std::shared_ptr<process_group>> process_group::create(const rendezvous& where,
                                                             const std::string& name) {
  if (auto valid = check_rendezvous(where); !valid)
    return valid.error();
  auto s = std::make_unique<state>();
  s->where = where;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = where.master_port;
    store_options.isServer = where.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(where.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = where.timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(where.master_addr, store_options);
    s->store = c10::make_intrusive<c10d::PrefixStore>(name, store);
  } catch (const std::exception& e) {
    return problem{"rank " + std::to_string(where.rank) + ": cannot meet the other ranks at " +
                   where.master_addr + ":" + std::to_string(where.master_port) +
                   " (MASTER_ADDR/MASTER_PORT): " + torch_error_text(e)};
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(where.timeout);
    // Rank 0 is reachable at MASTER_ADDR; a loopback master means every rank is on this host.
    const bool loopback = where.master_addr.rfind("127.", 0) == 0 || where.master_addr == "localhost";
    options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                        : c10d::ProcessGroupGloo::createDefaultDevice());
    s->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, where.rank, where.world_size, options);
  } catch (const std::exception& e) {
    return s->failed("setting up the Gloo group", e).error();
  }
  return std::shared_ptr<process_group>(new process_group(std::move(s)));
}

int process_group::rank() const {
  return state_->where.rank;
}
int process_group::world_size() const {
  return state_->where.world_size;
}

status process_group::allreduce_sum(std::span<const torch::Tensor> tensors, std::size_t bucket_bytes) {
  try {
    // Buckets hold tensors of one dtype and device, in the order given, so every rank builds the same ones.
    std::map<std::pair<int, std::string>, std::vector<std::vector<torch::Tensor>>> buckets;
    std::map<std::pair<int, std::string>, std::size_t> filled;
    for (const auto& t : tensors) {
      const auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
      auto& list = buckets[key];
      const std::size_t bytes = t.numel() * t.element_size();
      if (list.empty() || filled[key] + bytes > bucket_bytes) {
        list.emplace_back();
        filled[key] = 0;
      }
      list.back().push_back(t);
      filled[key] += bytes;
    }
    for (auto& [key, list] : buckets)
      for (auto& bucket : list) {
        std::vector<torch::Tensor> flat_parts;
        for (const auto& t : bucket)
          flat_parts.push_back(t.reshape({-1}));
        std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
        state_->backend->allreduce(flat)->wait(state_->where.timeout);
        int64_t offset = 0;
        for (const auto& t : bucket) {
          t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
          offset += t.numel();
        }
      }
    return ok_status();
  } catch (const std::exception& e) {
    return state_->failed("all-reduce", e);
  }
}

status process_group::broadcast(std::span<const torch::Tensor> tensors, int root) {
  try {
    for (const auto& t : tensors) {
      std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      options.timeout = state_->where.timeout;
      state_->backend->broadcast(one, options)->wait(state_->where.timeout);
      if (!one[0].is_same(t))
        t.copy_(one[0]);
    }
    return ok_status();
  } catch (const std::exception& e) {
    return state_->failed("broadcast", e);
  }
}

status process_group::barrier() {
  try {
    c10d::BarrierOptions options;
    options.timeout = state_->where.timeout;
    state_->backend->barrier(options)->wait(state_->where.timeout);
    return ok_status();
  } catch (const std::exception& e) {
    return state_->failed("barrier", e);
  }
}

status process_group::store_set(const std::string& key, const std::string& value) {
  try {
    state_->store->set(key, std::vector<std::uint8_t>(value.begin(), value.end()));
    return ok_status();
  } catch (const std::exception& e) {
    return state_->failed("writing '" + key + "' to the store", e);
  }
}

result<std::optional<std::string>> process_group::store_get_if_set(const std::string& key) {
  try {
    if (!state_->store->check({key}))
      return std::optional<std::string>{};
    const auto bytes = state_->store->get(key);
    return std::optional<std::string>{std::string(bytes.begin(), bytes.end())};
  } catch (const std::exception& e) {
    return state_->failed("reading '" + key + "' from the store", e).error();
  }
}

status process_group::store_erase(const std::string& key) {
  try {
    state_->store->deleteKey(key);
    return ok_status();
  } catch (const std::exception& e) {
    return state_->failed("erasing '" + key + "' from the store", e);
  }
}

status broadcast_module(process_group& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors;
  for (const auto& p : module.parameters())
    tensors.push_back(p);
  for (const auto& b : module.buffers())
    tensors.push_back(b);
  return group.broadcast(tensors, 0);
}

} // namespace tailor::gpu

// Data parallel over LibTorch's c10d: a rendezvous (TCPStore on rank 0), a Gloo group on the CPU (NCCL where
// the build has CUDA), bucketed all-reduce of gradients and broadcast of parameters from rank 0.
#pragma once

#include "io/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

// Where the ranks meet: the usual MASTER_ADDR / MASTER_PORT / RANK / WORLD_SIZE of torch.distributed.
struct rendezvous {
  std::string master_addr = "127.0.0.1";
  std::uint16_t master_port = 29500;
  int rank = 0;
  int world_size = 1;
  // Every collective and the rendezvous itself give up after this, so a dead rank fails the others.
  std::chrono::milliseconds timeout{60'000};
};

// Reads the rendezvous from the environment; WORLD_SIZE unset means one process (rank 0 of 1).
result<rendezvous> rendezvous_from_environment();
// Checks rank, world size and port agree with each other ("RANK 2 is outside WORLD_SIZE 2").
status check_rendezvous(const rendezvous& where);

// One c10d process group. Collectives are in place and blocking; a failure (timeout, a peer gone) is a
// problem naming this rank. Groups made with different names on one rendezvous never share collectives.
class process_group {
public:
  // Rank 0 hosts the store; the others connect to it, waiting up to the timeout.
  static result<std::shared_ptr<process_group>> create(const rendezvous& where,
                                                       const std::string& name = "train");
  ~process_group();

  int rank() const;
  int world_size() const;

  // Sums each tensor over the ranks. Tensors of one dtype and device are flattened into buckets of about
  // `bucket_bytes`, one all-reduce per bucket, so many small gradients cost few collectives.
  status allreduce_sum(std::span<const torch::Tensor> tensors, std::size_t bucket_bytes = 25u << 20);
  // Overwrites each tensor with rank `root`'s.
  status broadcast(std::span<const torch::Tensor> tensors, int root = 0);
  // Blocks until every rank got here.
  status barrier();

  // The group's key-value store (rank 0 hosts it), for what is not a tensor: rank 0's commands to the other
  // ranks. Reading does not wait: nullopt while the key is not set. A problem when the store cannot be
  // reached, which for a follower means rank 0 is gone.
  status store_set(const std::string& key, const std::string& value);
  result<std::optional<std::string>> store_get_if_set(const std::string& key);
  status store_erase(const std::string& key);

  struct state;

private:
  explicit process_group(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

// Makes every rank's parameters and buffers equal to rank 0's (followers may have been initialised apart).
status broadcast_module(process_group& group, torch::nn::Module& module);

} // namespace tailor::gpu

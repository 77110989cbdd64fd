// reflection_builder: keeps the positive and negative pools and serves training items against credit.
#pragma once

#include "actors/interfaces.hpp"
#include "io/loop/reflection_pools.hpp"
#include "io/data/run_data.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <unordered_map>

namespace tailor {

struct reflection_builder_options {
  reflection_pool_options pools;
  double fresh_share = 0.5;       // at most this part of a batch are fresh corrections
  std::uint64_t seed = 0;
};

reflection_builder_actor spawn_reflection_builder(caf::actor_system& system, example_index problems,
                                                  reflection_builder_options options);

// The file the pools are saved to inside a checkpoint directory.
inline constexpr const char* pools_file_name = "pools.json";

} // namespace tailor

// What rank 0's trainer tells the other data-parallel ranks (`nproc` > 1), in order: load the checkpoint
// every rank starts from, start a round's schedule, take an optimizer step on a batch, stop. Each rank then
// does the same on its own copy of the student, so that the ranks' collectives (gpu/distributed.hpp) line up.
#pragma once

#include "messages/training.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tailor {

struct rank_command {
  std::string kind; // "load", "round", "step" or "stop"
  // load: the checkpoint every rank starts from; resume: with its optimizer and trainer state.
  std::string checkpoint_dir;
  bool resume = false;
  // round: the round's schedule, as the trainer's train_atom gives it.
  std::uint32_t round = 0;
  std::uint64_t steps = 0;
  double peak = 0;
  // step: the whole batch; each rank takes its share of the micro-batches.
  std::vector<training_item> items;

  friend bool operator==(const rank_command&, const rank_command&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rank_command& x) {
  return f(caf::meta::type_name("rank_command"), x.kind, x.checkpoint_dir, x.resume, x.round, x.steps, x.peak,
           x.items);
}

// The command as bytes (CAF's binary format) for the ranks' key-value store, and back; nullopt when the
// bytes are not a command.
inline std::string rank_command_bytes(const rank_command& command) {
  std::vector<char> buffer;
  caf::binary_serializer sink{nullptr, buffer};
  auto copy = command;
  if (sink(copy))
    return {};
  return {buffer.begin(), buffer.end()};
}

inline std::optional<rank_command> rank_command_from_bytes(const std::string& bytes) {
  std::vector<char> buffer(bytes.begin(), bytes.end());
  caf::binary_deserializer source{nullptr, buffer};
  rank_command command;
  if (source(command))
    return std::nullopt;
  return command;
}

} // namespace tailor

// What rank 0 tells the other data-parallel ranks (`nproc` > 1), in order: load the checkpoint every rank
// starts from, start a round's schedule, take an optimizer step on a batch, stop. Each rank then does the same
// on its own copy of the student, so that the ranks' collectives (gpu/distributed.hpp) line up. Besides,
// rank 0's exam hands one rank a share of its questions (`exam`), whose answers come back as a
// `rank_exam_answers` under the store key exam_answers_key(command index).
#pragma once

#include "messages/example.hpp"
#include "messages/grading.hpp"
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
  std::string kind{}; // "load", "round", "step", "exam" or "stop"
  // load: the checkpoint every rank starts from; resume: with its optimizer and trainer state.
  // exam: the weights snapshot that answers.
  std::string checkpoint_dir{};
  bool resume = false;
  // round: the round's schedule, as the trainer's train_atom gives it.
  std::uint32_t round = 0;
  std::uint64_t steps = 0;
  double peak = 0;
  // step: the whole batch; each rank takes its share of the micro-batches.
  std::vector<training_item> items{};
  // exam: the one rank that sits it (the others pass it by), the snapshot's version, the questions, and how
  // to answer: sampled with `seed` (the stream of the first question, gpu/student_exam.hpp) or greedy.
  std::uint32_t rank = 0;
  std::uint64_t version = 0;
  std::vector<example> questions{};
  bool greedy = false;
  std::uint64_t seed = 0;

  friend bool operator==(const rank_command&, const rank_command&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rank_command& x) {
  return f(caf::meta::type_name("rank_command"), x.kind, x.checkpoint_dir, x.resume, x.round, x.steps, x.peak,
           x.items, x.rank, x.version, x.questions, x.greedy, x.seed);
}

// A rank's answers to an `exam` command, in question order, or why it has none.
struct rank_exam_answers {
  std::string error{}; // empty when the answers are there
  std::vector<graded_answer> answers{};

  friend bool operator==(const rank_exam_answers&, const rank_exam_answers&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rank_exam_answers& x) {
  return f(caf::meta::type_name("rank_exam_answers"), x.error, x.answers);
}

inline std::string exam_answers_key(std::uint64_t command_index) {
  return "exam-answers/" + std::to_string(command_index);
}

// A command or answers as bytes (CAF's binary format) for the ranks' key-value store, and back; nullopt when
// the bytes are not one.
template <class T>
std::string rank_message_bytes(const T& message) {
  std::vector<char> buffer;
  caf::binary_serializer sink{nullptr, buffer};
  auto copy = message;
  if (sink(copy))
    return {};
  return {buffer.begin(), buffer.end()};
}

template <class T>
std::optional<T> rank_message_from_bytes(const std::string& bytes) {
  std::vector<char> buffer(bytes.begin(), bytes.end());
  caf::binary_deserializer source{nullptr, buffer};
  T message;
  if (source(message))
    return std::nullopt;
  return message;
}

inline std::string rank_command_bytes(const rank_command& command) {
  return rank_message_bytes(command);
}

inline std::optional<rank_command> rank_command_from_bytes(const std::string& bytes) {
  return rank_message_from_bytes<rank_command>(bytes);
}

} // namespace tailor

// The exam and the evaluation over the data-parallel ranks (nproc > 1): rank 0 hands each other rank a part
// of the questions (an `exam` command, messages/rank_command.hpp), answers its own part meanwhile, and
// gathers the answers in question order. Each part is answered with the seed moved by its first question,
// so the answers are those of one process answering them all (gpu/student_exam.hpp).
#pragma once

#include "actors/trainer_ranks.hpp"
#include "io/common/result.hpp"
#include "messages/example.hpp"
#include "messages/grading.hpp"
#include "messages/weights.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace tailor {

// Answers `questions` here with the stream of `seed` for the first of them.
using answer_here = std::function<result<std::vector<graded_answer>>(std::span<const example> questions,
                                                                     std::uint64_t seed)>;

struct shard_plan {
  weights_snapshot snapshot; // the weights that answer, on every rank
  bool greedy = false;
  std::uint64_t seed = 0;    // the stream of questions[0]
  std::size_t part_size = 1; // questions per rank; the last part may be shorter, and ranks may get none
};

// Part 0 of `questions` is answered by `here`, part r (r >= 1) by rank r. A rank that cannot answer (it
// could not load the snapshot, say) says why; its part is then answered here, with a warning. A rank that
// dies fails the whole with the message trainer_ranks gives.
result<std::vector<graded_answer>> sit_over_ranks(trainer_ranks& ranks, std::span<const example> questions,
                                                  const shard_plan& plan, const answer_here& here);

} // namespace tailor

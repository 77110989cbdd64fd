#include "actors/sharded_exam.hpp"

#include "io/common/warning.hpp"

#include <algorithm>

namespace tailor {

result<std::vector<graded_answer>> sit_over_ranks(trainer_ranks& ranks, std::span<const example> questions,
                                                  const shard_plan& plan, const answer_here& here) {
  const std::size_t size = std::max<std::size_t>(1, plan.part_size);
  const auto part = [&](std::size_t r) {
    const std::size_t first = std::min(questions.size(), r * size);
    return questions.subspan(first, std::min(questions.size(), first + size) - first);
  };
  // Every part but the first goes out before this rank answers its own.
  struct sent_part {
    std::size_t rank;
    std::uint64_t command;
  };
  std::vector<sent_part> sent;
  for (std::size_t r = 1; r < static_cast<std::size_t>(ranks.world_size()) && !part(r).empty(); ++r) {
    const auto questions_of_r = part(r);
    auto posted = ranks.send({.kind = "exam",
                              .checkpoint_dir = plan.snapshot.checkpoint_dir,
                              .rank = static_cast<std::uint32_t>(r),
                              .version = plan.snapshot.version,
                              .questions = {questions_of_r.begin(), questions_of_r.end()},
                              .greedy = plan.greedy,
                              .seed = plan.seed + r * size});
    if (!posted)
      return problem{"data parallel: " + ranks.explain(posted.error().message)};
    sent.push_back({r, posted.value()});
  }
  auto answers = here(part(0), plan.seed);
  if (!answers)
    return answers.error();
  for (const auto& [r, command] : sent) {
    auto theirs = ranks.exam_answers(command);
    if (!theirs)
      return problem{"data parallel: " + theirs.error().message};
    // The command's key stays: the ranks after r may not have passed it by yet. The next training step's
    // collective shows that they have, and the trainer erases it then.
    if (theirs->error.empty()) {
      answers->insert(answers->end(), theirs->answers.begin(), theirs->answers.end());
      continue;
    }
    log_warning("data parallel: rank " + std::to_string(r) + " could not answer its " +
                std::to_string(part(r).size()) + " exam questions (" + theirs->error + "); rank 0 answers them");
    auto mine = here(part(r), plan.seed + r * size);
    if (!mine)
      return mine.error();
    answers->insert(answers->end(), mine->begin(), mine->end());
  }
  return answers;
}

} // namespace tailor

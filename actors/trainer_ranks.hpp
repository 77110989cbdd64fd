// Rank 0's side of data-parallel training (run_config.nproc > 1): it starts the other ranks as processes
// (`tailor rank-worker RUN_DIR`), meets them in a c10d group, and posts the commands they follow
// (messages/rank_command.hpp) in the group's store. The trainer actor holds one; it never blocks on a
// follower except inside the collectives of a step, which fail, not hang, when a rank dies. The exam
// (student_inference) posts its share of questions through the same object from its own thread, so every
// member is safe to call from both.
#pragma once

#include "gpu/distributed.hpp"
#include "io/common/child_process.hpp"
#include "io/common/result.hpp"
#include "messages/rank_command.hpp"
#include "messages/run_config.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tailor {

class trainer_ranks {
public:
  // Starts ranks 1 to nproc-1 on this machine, their output in RUN_DIR/ranks/rank-N.log, and meets them at
  // MASTER_ADDR:MASTER_PORT (default 127.0.0.1 and a free port). A WORLD_SIZE above nproc leaves the ranks
  // from nproc on to other machines, which run `tailor rank-worker RUN_DIR` with their RANK.
  static result<std::unique_ptr<trainer_ranks>> start(const run_config& config);

  trainer_ranks(const trainer_ranks&) = delete;
  trainer_ranks& operator=(const trainer_ranks&) = delete;
  // Tells the followers to stop, waits a little for them, and kills those still running.
  ~trainer_ranks();

  const std::shared_ptr<gpu::process_group>& group() const { return group_; }
  int world_size() const { return group_->world_size(); }

  // Posts the next command; its index. Followers take them in order.
  result<std::uint64_t> send(const rank_command& command);
  // After a collective that followed command `through`, every rank has read the commands up to it: their
  // keys are erased (not later ones, which another thread may just have posted).
  void forget_read(std::uint64_t through);

  // The answers of exam command `index` (sent to one follower): waits until they are in the store, or fails
  // when that rank, or any, dies first. A rank that could not sit the exam says why in `error`.
  result<rank_exam_answers> exam_answers(std::uint64_t index);

  // The first local follower that has ended, in words: "rank 1 (pid 4242) was killed by signal 9 (Killed)",
  // with the last line it wrote; nullopt while all run.
  std::optional<std::string> dead_rank();
  // `error` (a failed collective) explained: the follower that died, waited for up to two seconds, or the
  // error as it came when none has.
  std::string explain(const std::string& error);

private:
  trainer_ranks() = default;
  std::optional<std::string> dead_rank_locked();

  std::mutex mutex_; // the store's client, the counters and the children's state
  std::vector<child_process> followers_; // followers_[i] is rank i + 1
  std::shared_ptr<gpu::process_group> group_;
  std::uint64_t sent_ = 0;      // commands posted
  std::uint64_t forgotten_ = 0; // commands erased from the store
};

} // namespace tailor

// Round 1's pass over the teacher's first rationales, in the order the questions were asked.
#pragma once

#include "io/loop/reflection_pools.hpp"
#include "messages/example.hpp"
#include "messages/training.hpp"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace tailor {

// The trainer's first batches are the first round's questions in the order they were asked, each once,
// and a batch is served only once all of its questions are answered. So what round 1 trains on does not
// depend on when the teacher's answers arrive: continuous mode, which trains while they arrive, learns the
// same as round mode, which waits for all of them, and a slow answer delays the trainer instead of
// changing its data. Answers wait here until their turn and enter the pools in the asked order, which
// keeps the pools' own order (and the random draws after the pass) independent of arrival too.
// Spread (`every` > 1): a pass batch is every `every`-th batch, and the batches between are drawn from the
// pools, i.e. from the questions the pass has served so far. The trainer then learns while the teacher is
// still writing (the pass ends near the round's end instead of at its start), still on data that does not
// depend on when the answers arrive.
class first_pass {
public:
  // The questions asked, in order; repeats count once; a pass batch every `every` batches. Replaces a pass
  // not yet over.
  void expect(const std::vector<std::string>& example_ids, std::uint32_t every = 1);

  // Whether `example_id` was asked in this pass and has not entered the pools yet: its answer belongs here.
  bool expects(const std::string& example_id) const;

  // The teacher's answer to an expected question: its correct rationales, none when it had none or failed.
  void hold(const example& problem, std::vector<std::string> rationales);

  // True until every expected question has entered the pools.
  bool active() const { return next_ < order_.size(); }

  // The next batch: up to `size` questions with rationales, in the asked order (a random rationale of
  // each), moved into `pools` with the questions without any that precede them. Empty while one of them
  // is unanswered; shorter than `size` only at the end of the pass. When spread, between two such batches,
  // a draw from the pools.
  std::vector<training_item> next_batch(std::size_t size, reflection_pools& pools, std::mt19937_64& rng);

private:
  struct answer {
    example problem;
    std::vector<std::string> rationales;
  };

  std::vector<std::string> order_;
  std::unordered_map<std::string, std::size_t> position_; // of each question in order_
  std::unordered_map<std::string, answer> held_;
  std::size_t next_ = 0; // the first question of order_ not yet in the pools
  std::uint32_t every_ = 1;
  std::uint64_t served_ = 0; // batches served since expect()
};

} // namespace tailor

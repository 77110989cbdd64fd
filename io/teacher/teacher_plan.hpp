// What a run's teacher requests can cost at most, counted before the run on its real prompts and data: the
// warning before the budget (teacher_budget.hpp), which caps the spend while the run goes.
#pragma once

#include "io/common/result.hpp"
#include "io/teacher/teacher_budget.hpp"
#include "io/teacher/teacher_prompts.hpp"
#include "messages/enum_names.hpp"
#include "messages/example.hpp"
#include "messages/run_config.hpp"
#include "messages/teacher.hpp"

#include <cstdint>
#include <vector>

namespace tailor {

// chain_of_thought: round 1's questions; tailored_feedback: a later round's exam mistakes; random_questions:
// the ablation's chains of thought on random questions in their place (strategy random).
enum class planned_asks : std::uint8_t { chain_of_thought, tailored_feedback, random_questions };

template <>
struct enum_names<planned_asks> {
  static constexpr std::array<std::string_view, 3> values = {"chain_of_thought", "tailored_feedback",
                                                             "random_questions"};
};

struct planned_round {
  std::uint32_t round = 1;
  planned_asks asks = planned_asks::chain_of_thought;
  std::uint64_t requests = 0;          // at most
  std::uint32_t samples = 1;           // n of each request
  std::uint64_t prompt_tokens = 0;     // estimated (token_estimate.hpp), over the requests
  std::uint64_t completion_tokens = 0; // at most: requests × samples × teacher.sampling.max_tokens
  double usd = 0;                      // at most, at the config's prices

  friend bool operator==(const planned_round&, const planned_round&) = default;
};

struct teacher_plan {
  std::uint64_t questions = 0; // the training questions the rounds draw from
  std::vector<planned_round> rounds;
  planned_round total; // the sums; its round and samples mean nothing
  teacher_prices prices;
  double budget_usd = 0;           // teacher.budget_usd; 0: no limit
  std::uint64_t budget_tokens = 0; // teacher.budget_tokens; 0: no limit
  std::uint32_t max_tokens = 0;    // teacher.sampling.max_tokens
  // The tokens a feedback prompt counts for the student's wrong rationale, unknown before the run: the
  // longest the exam writes (exam.max_new_tokens). 0 when no feedback is planned.
  std::uint32_t rationale_tokens = 0;
  // Whether some round asks about fewer questions than it may choose from (drawn at run time): its prompt
  // tokens are then those of the longest prompts it could send.
  bool longest_prompts = false;

  std::uint64_t total_tokens() const { return total.prompt_tokens + total.completion_tokens; }
  bool prices_set() const {
    return prices.usd_per_million_prompt > 0 || prices.usd_per_million_completion > 0;
  }
  // The checks the run's budget makes, with the bound in place of the spend.
  bool over_budget_usd() const { return prices_set() && budget_usd > 0 && total.usd > budget_usd; }
  bool over_budget_tokens() const { return budget_tokens > 0 && total_tokens() > budget_tokens; }
};

// The plan of `config` with the training questions `train` and the teacher's prompt texts `templates`:
// per round, the requests the loop can send (round 1: teacher.initial_questions of them, 0 all; a later
// round one per question its exam samples, at most teacher.requests_per_round) and what they can cost.
teacher_plan plan_teacher_requests(const run_config& config, const std::vector<example>& train,
                                   const prompt_templates& templates);

// The same on the config's own questions and prompts, read or generated as the run does it. Generated
// questions the run directory does not hold yet are generated in a scratch directory: planning leaves the
// run directory as it is. A problem is the run's own (a data file, a prompt).
result<teacher_plan> plan_run_teacher(const run_config& config);

} // namespace tailor

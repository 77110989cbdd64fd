// What a run's teacher requests can cost at most (io/teacher/teacher_plan.hpp). Which questions a round asks
// about, and how many, follow the loop: actors/run_coordinator_rounds.cpp draws round 1's questions and each
// exam's, actors/mistake_collector.cpp with io/loop/feedback_picker.hpp asks about a question once an exam
// pass at most, up to the round's quota, and the ablation asks about a random question in each such place.
#include "io/teacher/teacher_plan.hpp"

#include "io/data/run_data.hpp"
#include "io/teacher/run_prompts.hpp"
#include "io/teacher/teacher_exchange.hpp"
#include "io/teacher/token_estimate.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <string>

namespace tailor {
namespace {

namespace fs = std::filesystem;

// How many of a pool of `pool` questions a draw of `count` takes: as the coordinator draws them, 0 or more
// than the pool is all of them.
std::uint64_t drawn(std::uint32_t count, std::size_t pool) {
  return count == 0 || count >= pool ? pool : count;
}

// A wrong rationale the estimate counts as `tokens` tokens, a word each: the longest one an exam of
// exam.max_new_tokens tokens can write stands in for the real ones, which only the run will know.
std::string placeholder_rationale(std::uint32_t tokens) {
  std::string text;
  text.reserve(std::size_t{tokens} * 5);
  for (std::uint32_t i = 0; i < tokens; ++i)
    text += i == 0 ? "step" : " step";
  return text;
}

teacher_request feedback_on_placeholder(const example& problem, const std::string& wrong_rationale,
                                        std::uint32_t samples, const sampling_params& sampling) {
  return tailored_feedback_request(problem, {.text = wrong_rationale}, {}, 0, samples, sampling, 1);
}

// The sum of the `count` largest of `tokens`. Which questions a round asks about is drawn at run time; the
// longest prompts bound whichever it draws.
std::uint64_t longest(std::vector<std::uint64_t> tokens, std::uint64_t count) {
  const auto kept = static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(count, tokens.size()));
  std::partial_sort(tokens.begin(), tokens.begin() + kept, tokens.end(), std::greater<>{});
  return std::accumulate(tokens.begin(), tokens.begin() + kept, std::uint64_t{0});
}

// At the prices of `endpoint`, the teacher the round's requests are routed to.
planned_round priced(planned_round round, const teacher_config& t, const teacher_config& endpoint) {
  const teacher_prices prices{endpoint.usd_per_million_prompt_tokens, endpoint.usd_per_million_completion_tokens};
  round.completion_tokens = round.requests * round.samples * std::uint64_t{t.sampling.max_tokens};
  round.usd = prices.cost_usd({.prompt_tokens = static_cast<std::int64_t>(round.prompt_tokens),
                               .completion_tokens = static_cast<std::int64_t>(round.completion_tokens)});
  return round;
}

// Removes the scratch directory generated questions are written to.
struct scratch_dir {
  fs::path path;
  ~scratch_dir() {
    std::error_code ignored;
    if (!path.empty())
      fs::remove_all(path, ignored);
  }
};

result<fs::path> make_scratch_dir() {
  std::error_code error;
  const auto base = fs::temp_directory_path(error);
  if (error)
    return problem{"no directory for temporary files: " + error.message()};
  auto pattern = (base / "tailor-plan-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return problem{"cannot create a temporary directory in " + base.string() + ": " + std::strerror(errno)};
  return fs::path{pattern};
}

} // namespace

teacher_plan plan_teacher_requests(const run_config& config, const std::vector<example>& train,
                                   const prompt_templates& templates) {
  const auto& t = config.teacher;
  teacher_plan plan;
  plan.questions = train.size();
  // With several teachers each has its own budget: the plan's are those of the teachers its rounds use.
  const auto& cot_teacher = routed_teacher(config, teacher_request_kind::chain_of_thought);
  const auto& later_teacher = config.strategy == teacher_strategy::tailored
                                  ? routed_teacher(config, teacher_request_kind::tailored_feedback)
                                  : cot_teacher;
  const bool two = config.rounds > 1 && &later_teacher != &cot_teacher;
  plan.prices = {std::max(cot_teacher.usd_per_million_prompt_tokens, later_teacher.usd_per_million_prompt_tokens),
                 std::max(cot_teacher.usd_per_million_completion_tokens,
                          later_teacher.usd_per_million_completion_tokens)};
  plan.budget_usd = cot_teacher.budget_usd + (two ? later_teacher.budget_usd : 0);
  plan.budget_tokens = cot_teacher.budget_tokens == 0 || (two && later_teacher.budget_tokens == 0)
                           ? 0
                           : cot_teacher.budget_tokens + (two ? later_teacher.budget_tokens : 0);
  plan.max_tokens = t.sampling.max_tokens;
  const teacher_exchange_options exchange{.model = t.model, .templates = templates, .prices = plan.prices};
  // Per question, the prompt tokens of the request the loop would send about it.
  auto prompts_of = [&](auto request_about) {
    std::vector<std::uint64_t> tokens;
    tokens.reserve(train.size());
    for (const auto& problem : train)
      tokens.push_back(estimated_prompt_tokens(to_chat_request(request_about(problem), exchange)));
    return tokens;
  };
  auto cot_of = [&](std::uint32_t samples) {
    return prompts_of([&](const example& q) { return chain_of_thought_request(q, samples, t.sampling, 1); });
  };

  planned_round first{.round = 1,
                      .asks = planned_asks::chain_of_thought,
                      .requests = drawn(t.initial_questions, train.size()),
                      .samples = std::max<std::uint32_t>(1, t.chain_of_thought_samples)};
  first.prompt_tokens = longest(cot_of(first.samples), first.requests);
  plan.longest_prompts = first.requests < train.size();
  plan.rounds.push_back(priced(first, t, cot_teacher));

  if (config.rounds > 1) {
    // One request per question an exam pass samples at most, and no more than the round's quota. The
    // ablation asks about one of its random questions wherever the method asks about a mistake: as many.
    const auto examined = drawn(config.exam.questions, train.size());
    const bool tailored = config.strategy == teacher_strategy::tailored;
    planned_round later{.asks = tailored ? planned_asks::tailored_feedback : planned_asks::random_questions,
                        .requests = t.requests_per_round > 0
                                        ? std::min<std::uint64_t>(t.requests_per_round, examined)
                                        : examined,
                        .samples = std::max<std::uint32_t>(1, t.tailored_feedback_samples)};
    if (tailored) {
      plan.rationale_tokens = config.exam.max_new_tokens;
      const auto wrong = placeholder_rationale(plan.rationale_tokens);
      later.prompt_tokens = longest(prompts_of([&](const example& q) {
                                      return feedback_on_placeholder(q, wrong, later.samples, t.sampling);
                                    }),
                                    later.requests);
    } else {
      later.prompt_tokens = longest(cot_of(later.samples), later.requests);
    }
    plan.longest_prompts = plan.longest_prompts || later.requests < train.size();
    later = priced(later, t, later_teacher);
    for (std::uint32_t round = 2; round <= config.rounds; ++round) {
      later.round = round;
      plan.rounds.push_back(later);
    }
  }

  for (const auto& r : plan.rounds) {
    plan.total.requests += r.requests;
    plan.total.prompt_tokens += r.prompt_tokens;
    plan.total.completion_tokens += r.completion_tokens;
    plan.total.usd += r.usd;
  }
  return plan;
}

result<teacher_plan> plan_run_teacher(const run_config& config) {
  auto templates = prompt_templates_of(config.prompts);
  if (!templates)
    return templates.error();
  run_config probe = config;
  scratch_dir scratch;
  const auto& d = config.data;
  if (d.task == task_kind::arith && (d.train_file.empty() || d.test_file.empty())) {
    // The questions are generated from the seed alone: the scratch copy holds the ones the run will have.
    auto dir = make_scratch_dir();
    if (!dir)
      return dir.error();
    scratch.path = *dir;
    probe.output_dir = scratch.path.string();
  }
  auto data = prepare_run_data(probe);
  if (!data)
    return data.error();
  return plan_teacher_requests(config, data->train, *templates);
}

} // namespace tailor

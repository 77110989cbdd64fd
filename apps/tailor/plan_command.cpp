// `tailor plan [CONFIG]`: per round, the teacher requests a run can send, the samples asked, the prompt
// tokens (estimated on the real prompts of the real data), and bounds on the completion tokens and USD; then
// the totals against teacher.budget_usd and teacher.budget_tokens. No model is loaded and nothing is sent.
#include "apps/tailor/plan_command.hpp"

#include "io/config/embedded_default.hpp"
#include "io/config/run_config_json.hpp"
#include "io/teacher/teacher_plan.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace tailor::cli {
namespace {

struct plan_options {
  std::string config_file; // empty: the embedded default
  std::uint64_t seed = 1;
  bool ablation = false;
  std::uint32_t rounds = 0; // 0: the config's
  bool json = false;
};

// The config `tailor run` would run with the same arguments, as far as the teacher's work depends on it.
// Where it would put generated questions does not matter: the plan generates its own copy.
result<run_config> config_of(const plan_options& options) {
  run_config config;
  if (options.config_file.empty()) {
    config = embedded_default_config(options.seed, "");
  } else {
    auto loaded = load_run_config(options.config_file);
    if (!loaded)
      return loaded.error();
    config = std::move(loaded.value());
  }
  if (options.ablation)
    config = ablation_of(std::move(config));
  if (options.rounds > 0)
    config.rounds = options.rounds;
  return config;
}

// The columns of results_table (io/store/run_records.cpp): right-aligned, one line a round, then the totals.
std::string plan_table(const teacher_plan& plan) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%5s %17s %9s %3s %12s %12s %10s\n", "round", "asks", "requests", "n",
                "prompt tok", "compl. tok", "USD");
  out << line;
  for (const auto& r : plan.rounds) {
    std::snprintf(line, sizeof line, "%5u %17s %9llu %3u %12llu %12llu %10.4f\n", r.round,
                  std::string{to_string(r.asks)}.c_str(), static_cast<unsigned long long>(r.requests),
                  r.samples, static_cast<unsigned long long>(r.prompt_tokens),
                  static_cast<unsigned long long>(r.completion_tokens), r.usd);
    out << line;
  }
  const auto& t = plan.total;
  std::snprintf(line, sizeof line, "%5s %17s %9llu %3s %12llu %12llu %10.4f\n", "total", "",
                static_cast<unsigned long long>(t.requests), "",
                static_cast<unsigned long long>(t.prompt_tokens),
                static_cast<unsigned long long>(t.completion_tokens), t.usd);
  out << line;
  return out.str();
}

// What the numbers are, and how they compare with the budgets.
std::string plan_notes(const teacher_plan& plan) {
  std::ostringstream out;
  out << "requests, completion tokens and USD are upper bounds; prompt tokens are estimated on the real "
         "prompts (a conservative count, not the teacher's tokenizer)\n";
  out << "completion tokens: n x teacher.sampling.max_tokens (" << plan.max_tokens << ") a request\n";
  if (plan.rationale_tokens > 0)
    out << "tailored feedback: the student's wrong rationale is known only at run time; each prompt "
           "counts it as "
        << plan.rationale_tokens << " tokens, the longest the exam writes (exam.max_new_tokens)\n";
  if (plan.longest_prompts)
    out << "a round that asks about some of the " << plan.questions
        << " training questions (drawn at run time) counts the longest prompts it could send\n";
  if (!plan.prices_set())
    out << "USD: no prices set (teacher.usd_per_million_prompt_tokens, "
           "teacher.usd_per_million_completion_tokens): the run does not count USD and teacher.budget_usd "
           "does not bite\n";
  else if (plan.budget_usd <= 0)
    out << "USD: at most " << dollars(plan.total.usd) << "; teacher.budget_usd is 0, no limit\n";
  else
    out << "USD: at most " << dollars(plan.total.usd) << " of teacher.budget_usd " << dollars(plan.budget_usd)
        << (plan.over_budget_usd()
                ? ": OVER the budget; `tailor run` refuses to start without --over-budget-ok\n"
                : ": within the budget\n");
  if (plan.budget_tokens == 0)
    out << "tokens: at most " << plan.total_tokens()
        << " (prompt + completion); teacher.budget_tokens is 0, no limit\n";
  else
    out << "tokens: at most " << plan.total_tokens() << " (prompt + completion) of teacher.budget_tokens "
        << plan.budget_tokens
        << (plan.over_budget_tokens() ? ": over the budget; the run stops asking once it is spent\n"
                                      : ": within the budget\n");
  return out.str();
}

nlohmann::json to_json(const planned_round& r) {
  return {
      {"round", r.round},     {"asks", to_string(r.asks)},        {"requests", r.requests},
      {"samples", r.samples}, {"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.completion_tokens},
      {"usd", r.usd}};
}

nlohmann::json to_json(const teacher_plan& plan) {
  auto rounds = nlohmann::json::array();
  for (const auto& r : plan.rounds)
    rounds.push_back(to_json(r));
  auto total = to_json(plan.total);
  total.erase("round");
  total.erase("asks");
  total.erase("samples");
  return {{"training_questions", plan.questions},
          {"rounds", rounds},
          {"total", total},
          {"prompt_tokens_estimated", true},
          {"max_tokens", plan.max_tokens},
          {"feedback_rationale_tokens", plan.rationale_tokens},
          {"longest_prompts", plan.longest_prompts},
          {"usd_per_million_prompt_tokens", plan.prices.usd_per_million_prompt},
          {"usd_per_million_completion_tokens", plan.prices.usd_per_million_completion},
          {"budget_usd", plan.budget_usd},
          {"budget_tokens", plan.budget_tokens},
          {"over_budget_usd", plan.over_budget_usd()},
          {"over_budget_tokens", plan.over_budget_tokens()}};
}

int plan_job(const plan_options& options) {
  auto config = config_of(options);
  if (!config) {
    std::cerr << "tailor plan: " << config.error().message << "\n";
    return 2;
  }
  auto plan = plan_run_teacher(*config);
  if (!plan) {
    std::cerr << "tailor plan: " << plan.error().message << "\n";
    return 1;
  }
  if (options.json) {
    std::cout << to_json(*plan).dump(2) << "\n";
    return 0;
  }
  std::cout << "teacher requests of " << config->rounds << (config->rounds == 1 ? " round" : " rounds")
            << " on " << plan->questions << " training questions (strategy " << to_string(config->strategy)
            << "):\n\n"
            << plan_table(*plan) << "\n"
            << plan_notes(*plan);
  return 0;
}

} // namespace

status check_planned_cost(const run_config& config) {
  const auto& t = config.teacher;
  if (t.budget_usd <= 0 || (t.usd_per_million_prompt_tokens <= 0 && t.usd_per_million_completion_tokens <= 0))
    return ok_status();
  auto plan = plan_run_teacher(config);
  if (!plan)
    return plan.error();
  if (!plan->over_budget_usd())
    return ok_status();
  return problem{
      "the teacher may cost up to " + dollars(plan->total.usd) +
      " (an estimated bound; `tailor plan` shows it round by round), more than teacher.budget_usd " +
      dollars(plan->budget_usd) +
      ". Either\n"
      "  - raise teacher.budget_usd,\n"
      "  - ask fewer questions: teacher.initial_questions, teacher.requests_per_round, exam.questions, "
      "rounds, teacher.chain_of_thought_samples, teacher.tailored_feedback_samples or "
      "teacher.sampling.max_tokens, or\n"
      "  - pass --over-budget-ok to start anyway (the budget still stops the teacher once it is spent)"};
}

void add_plan_command(CLI::App& app) {
  auto options = std::make_shared<plan_options>();
  auto* plan = app.add_subcommand(
      "plan",
      "what a run's teacher requests can cost at most, before sending any (no config: the embedded default)");
  plan->add_option("config", options->config_file,
                   "run config JSON (docs/config.md); none: the embedded default");
  plan->add_option("--seed", options->seed, "seed of the embedded default")->capture_default_str();
  plan->add_flag("--ablation", options->ablation,
                 "plan the ablation (strategy random), as `tailor run --ablation`");
  plan->add_option("--rounds", options->rounds, "rounds (overrides the config)");
  plan->add_flag("--json", options->json, "print the plan as JSON");
  plan->callback([options] {
    if (int status = plan_job(*options); status != 0)
      throw CLI::RuntimeError{status};
  });
}

} // namespace tailor::cli

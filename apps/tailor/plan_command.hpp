// `tailor plan [CONFIG]`: what a run's teacher requests can cost at most, before anything is sent; and the
// check `tailor run` makes with it before it starts.
#pragma once

#include "io/common/result.hpp"
#include "messages/run_config.hpp"

#include <CLI/App.hpp>

namespace tailor::cli {

void add_plan_command(CLI::App& app);

// A problem giving the bound, the budget and the ways out when the plan's USD bound passes
// teacher.budget_usd; ok when it does not, and without planning when no USD limit applies (no prices or no
// budget set).
status check_planned_cost(const run_config& config);

} // namespace tailor::cli

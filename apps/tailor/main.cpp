// `tailor`: the command-line entry point; each subcommand lives in its own file.
#include "apps/tailor/cache_command.hpp"
#include "apps/tailor/client_commands.hpp"
#include "apps/tailor/compare_command.hpp"
#include "apps/tailor/data_commands.hpp"
#include "apps/tailor/inspect_command.hpp"
#include "apps/tailor/model_commands.hpp"
#include "apps/tailor/plan_command.hpp"
#include "apps/tailor/rank_worker_command.hpp"
#include "apps/tailor/run_command.hpp"
#include "apps/tailor/teacher_serve_command.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"tailor: teach a small language model to reason, from a teacher LLM and its own mistakes"};
  app.require_subcommand(1);
  tailor::cli::add_run_command(app);
  tailor::cli::add_plan_command(app);
  tailor::cli::add_compare_command(app);
  tailor::cli::add_data_commands(app);
  tailor::cli::add_model_commands(app);
  tailor::cli::add_model_group(app);
  tailor::cli::add_teacher_serve_command(app);
  tailor::cli::add_cache_command(app);
  tailor::cli::add_client_commands(app);
  tailor::cli::add_rank_worker_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage mistakes exit 2, as the commands' own usage checks do; RuntimeError carries a command's status.
    const int code = app.exit(e);
    return code == 0 || e.get_name() == "RuntimeError" ? code : 2;
  } catch (const std::exception& e) {
    // Commands report their own errors as values; this is the last line of defence, never a crash.
    std::cerr << "tailor: " << e.what() << '\n';
    return 1;
  }
  return 0;
}

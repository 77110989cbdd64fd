// tailord-simulated: tailord whose runs are simulated (tests/support/simulated_run.hpp), seconds long and
// without LibTorch; for the daemon's end-to-end tests and the dashboard's browser test.
#include "apps/tailord/tailord_main.hpp"
#include "tests/support/simulated_run.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <memory>

int main(int argc, char** argv) {
  auto step_ms = std::make_shared<int>(50);
  return tailor::tailord_main(
      argc, argv,
      {.add_options =
           [step_ms](CLI::App& app) {
             app.add_option("--simulate-step-ms", *step_ms, "a simulated run's time per training step")
                 ->capture_default_str();
           },
       .launcher =
           [step_ms] {
             tailor::simulated_run_options sim;
             sim.step_interval = std::chrono::milliseconds(std::max(*step_ms, 0));
             return tailor::run_launcher{[sim](caf::actor_system& system, tailor::run_spec spec, caf::actor listener) {
               return tailor::spawn_simulated_run(system, std::move(spec), std::move(listener), sim);
             }};
           },
       .banner = " (simulated runs)"});
}

// tailord: the daemon, its runs launched by the training loop's spawn_run (actors/run.hpp), placed on the
// GPUs LibTorch sees.
#include "actors/run.hpp"
#include "apps/tailord/tailord_main.hpp"
#include "gpu/runtime.hpp"

int main(int argc, char** argv) {
  return tailor::tailord_main(argc, argv,
                              {.launcher = [] { return tailor::run_launcher{tailor::spawn_run}; },
                               .visible_gpus = [] { return tailor::gpu::describe_runtime().cuda_devices; }});
}

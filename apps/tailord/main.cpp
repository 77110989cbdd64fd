// tailord with the training loop: runs are launched by spawn_run (actors/run.hpp).
#include "actors/run.hpp"
#include "apps/tailord/tailord_main.hpp"

int main(int argc, char** argv) {
  return tailor::tailord_main(argc, argv, tailor::spawn_run);
}

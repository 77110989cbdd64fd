// tailord-simulated: tailord without the training loop, every run simulated; for the daemon's tests, its
// benchmark and demos of the dashboard on machines without LibTorch.
#include "apps/tailord/tailord_main.hpp"

int main(int argc, char** argv) {
  return tailor::tailord_main(argc, argv, {});
}

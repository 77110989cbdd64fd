// A run's trainer from a checkpoint, the same on every data-parallel rank: the config's base student (with
// the LoRA adapters student.lora asks for), or a round checkpoint of the run with its optimizer state.
#pragma once

#include "gpu/lora.hpp"
#include "gpu/tokenizer.hpp"
#include "gpu/train_step.hpp"
#include "io/common/result.hpp"
#include "messages/run_config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace tailor::gpu {

struct restored_trainer {
  tailor::gpu::trainer trainer;
  tailor::gpu::tokenizer tokens;
  std::uint64_t version = 0; // the weights version a round checkpoint recorded (0: none)
};

// The LoRA settings of a run (rank 0: none), seeded with the run's seed.
lora_settings lora_settings_of(const run_config& config);

// When a checkpoint's adapters (`checkpoint`, rank >= 1) differ from those student.lora asks for (`asked`) in
// rank, alpha or targets (in any order), what the user should hear: the checkpoint's are kept; nullopt when
// they agree or the checkpoint has none. Rank 0 asked of a checkpoint with adapters differs too.
std::optional<std::string> kept_lora_warning(const lora_settings& checkpoint, const lora_settings& asked);

// Loads `dir` on the CPU, attaches the adapters `config` asks for when the checkpoint has none (and warns,
// kept_lora_warning(), when the checkpoint's differ), and makes the trainer on `device` (as resolve_device()
// accepts). With `resume`, the optimizer's moments and the step the checkpoint holds are restored too.
result<restored_trainer> trainer_from_checkpoint(const std::filesystem::path& dir, const run_config& config,
                                                 std::uint64_t total_steps, bool resume,
                                                 const std::string& device);

// The device of data-parallel rank `rank` when the run asks for `device`: a GPU per rank from the one named
// ("cuda" and "cuda:0" give rank r cuda:r; "cuda:2" gives it cuda:2+r), the CPU for every rank otherwise.
result<std::string> rank_device(const std::string& device, int rank);

} // namespace tailor::gpu

// The embedded default: what `tailor run` with no config runs. Offline (built-in teacher), on the CPU, in
// minutes: generated `arith` problems of uneven difficulty, a tiny LLaMA student trained from scratch, a
// teacher budget well below the question pool, three rounds in continuous mode.
#pragma once

#include "messages/run_config.hpp"

#include <cstdint>
#include <string>

namespace tailor {

// The knobs were chosen by measurement (docs/experiments.md).
run_config embedded_default_config(std::uint64_t seed, const std::string& output_dir);

// The ablation of `config`: the same teacher requests spent on random questions, plain distillation (no
// tailored feedback, no self-reflection loss).
run_config ablation_of(run_config config);

} // namespace tailor

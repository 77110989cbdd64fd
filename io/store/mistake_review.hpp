// The mistakes view of a run: its mistake records with, for each, whether the student got the question right
// in the next exam that asked it. Served by the daemon (GET /v1/runs/{id}/mistakes) to the dashboard.
#pragma once

#include "io/common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

namespace tailor {

// {"rounds": [rounds that have records], "mistakes": [{"round", ...the record..., "fixed", "fixed_in_round",
// "next_exam": {"answers", "right"} | null}]} for one round or (nullopt) all. `fixed` is true when every
// sampled answer to the question was right in the first later exam that asked it (exam.questions may leave
// it out of the very next one), false when one was wrong, and null while no later exam has asked it. A run
// with no records (none yet, or written before they existed) has an empty list. Problems name the bad file
// and line.
result<nlohmann::json> review_mistakes(const std::filesystem::path& run_dir, std::optional<std::uint32_t> round);

} // namespace tailor

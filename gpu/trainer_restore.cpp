#include "gpu/trainer_restore.hpp"

#include "gpu/checkpoint.hpp"
#include "gpu/runtime.hpp"
#include "io/common/warning.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace tailor::gpu {

lora_settings lora_settings_of(const run_config& config) {
  const auto& lora = config.student.lora;
  lora_settings settings;
  settings.rank = static_cast<int>(lora.rank);
  settings.alpha = lora.alpha;
  settings.dropout = lora.dropout;
  if (!lora.targets.empty())
    settings.targets = lora.targets;
  settings.seed = config.seed;
  return settings;
}

namespace {

// "rank 4, alpha 8 on q_proj, v_proj", or "no adapters (rank 0)".
std::string lora_description(const lora_settings& s) {
  if (s.rank < 1)
    return "no adapters (rank 0)";
  std::ostringstream out;
  out << "rank " << s.rank << ", alpha " << s.alpha << " on ";
  for (std::size_t i = 0; i < s.targets.size(); ++i)
    out << (i ? ", " : "") << s.targets[i];
  return out.str();
}

} // namespace

std::optional<std::string> kept_lora_warning(const lora_settings& checkpoint, const lora_settings& asked) {
  if (checkpoint.rank < 1)
    return std::nullopt;
  auto sorted = [](std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    return names;
  };
  // A checkpoint's alpha comes back as scaling * rank, which may miss the config's by a rounding.
  const bool same_alpha = std::abs(checkpoint.alpha - asked.alpha) <= 1e-9 * std::abs(asked.alpha);
  if (checkpoint.rank == asked.rank && same_alpha && sorted(checkpoint.targets) == sorted(asked.targets))
    return std::nullopt;
  return "the checkpoint's LoRA adapters (" + lora_description(checkpoint) +
         ") are kept; student.lora now asks for " + lora_description(asked);
}

result<restored_trainer> trainer_from_checkpoint(const std::filesystem::path& dir, const run_config& config,
                                                 std::uint64_t total_steps, bool resume,
                                                 const std::string& device) {
  auto loaded = load_checkpoint(dir, torch::kCPU);
  if (!loaded)
    return loaded.error();
  auto model = loaded->model;
  const auto asked = lora_settings_of(config);
  if (has_lora(model)) {
    // A checkpoint's adapters go on as they are (a resumed optimizer's moments are theirs), whatever
    // student.lora says now.
    if (auto kept = kept_lora_warning(lora_of(model), asked))
      log_warning((resume ? std::string{"resume"} : dir.string()) + ": " + *kept);
  } else if (asked.rank > 0) {
    if (auto attached = attach_lora(model, asked); !attached)
      return problem{"student.lora: " + attached.error().message};
  }
  auto options = trainer_options_from(config, total_steps);
  options.device = device;
  auto made = trainer::create(model, options);
  if (!made)
    return made.error();
  restored_trainer out{std::move(made.value()), std::move(loaded->tokenizer), 0};
  if (!resume)
    return out;
  if (loaded->optimizer) {
    const auto parameters = out.trainer.model()->named_parameters();
    if (auto restored = restore_adamw_state(out.trainer.optimizer(), parameters, *loaded->optimizer);
        !restored)
      return problem{"resume: " + restored.error().message};
  }
  if (loaded->trainer) {
    out.trainer.continue_from_step(static_cast<std::uint64_t>(loaded->trainer->step));
    out.version = loaded->trainer->extra.value("version", std::uint64_t{0});
  }
  return out;
}

result<std::string> rank_device(const std::string& device, int rank) {
  auto resolved = resolve_device(device);
  if (!resolved)
    return resolved.error();
  const std::string& name = resolved.value();
  if (name.rfind("cuda", 0) != 0)
    return name;
  int first = 0;
  if (const auto colon = name.find(':'); colon != std::string::npos)
    std::from_chars(name.data() + colon + 1, name.data() + name.size(), first);
  return resolve_device("cuda:" + std::to_string(first + rank));
}

} // namespace tailor::gpu

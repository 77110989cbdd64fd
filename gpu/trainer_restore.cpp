#include "gpu/trainer_restore.hpp"

#include "gpu/checkpoint.hpp"
#include "gpu/runtime.hpp"

#include <charconv>

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

result<restored_trainer> trainer_from_checkpoint(const std::filesystem::path& dir, const run_config& config,
                                                 std::uint64_t total_steps, bool resume,
                                                 const std::string& device) {
  auto loaded = load_checkpoint(dir, torch::kCPU);
  if (!loaded)
    return loaded.error();
  auto model = loaded->model;
  if (const auto lora = lora_settings_of(config); lora.rank > 0 && !has_lora(model))
    if (auto attached = attach_lora(model, lora); !attached)
      return problem{"student.lora: " + attached.error().message};
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

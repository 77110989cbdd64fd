// Checkpoint directories: HF config + safetensors weights + LoRA adapters + tokenizer + AdamW state, staged
// and swapped in.
#include "gpu/checkpoint.hpp"

#include "gpu/adapter_checkpoint.hpp"
#include "gpu/lora.hpp"
#include "gpu/safetensors.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>

namespace tailor::gpu {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
  return std::strerror(errno);
}

fs::path normalized(const fs::path& dir) {
  auto path = dir.lexically_normal();
  return path.has_filename() ? path : path.parent_path();
}

fs::path with_suffix(const fs::path& dir, const char* suffix) {
  auto path = dir;
  path += suffix;
  return path;
}

fs::path parent_of(const fs::path& dir) {
  return dir.has_parent_path() ? dir.parent_path() : fs::path{"."};
}

// Where the checkpoint `dir` is: `<dir>.old` when a save on a file system without RENAME_EXCHANGE was cut off
// between moving the old directory aside and moving the new one in.
fs::path readable_dir(const fs::path& dir) {
  auto old = with_suffix(dir, ".old");
  return !fs::exists(dir) && fs::is_directory(old) ? old : dir;
}

bool replaceable(const fs::path& dir) {
  if (fs::is_empty(dir))
    return true;
  for (const char* name : {"config.json", "model.safetensors", "model.safetensors.index.json",
                           "tokenizer.model", "tokenizer.json", "adapter_config.json",
                           "adapter_model.safetensors", "optimizer.pt", "trainer_state.json"})
    if (fs::exists(dir / name))
      return true;
  return false;
}

status write_staged(const fs::path& staging, const fs::path& target, const llama_for_causal_lm& model,
                    const tokenizer& tokenizer, const torch::optim::AdamW* optimizer,
                    const std::optional<trainer_state>& trainer, const checkpoint_options& options) {
  auto landed = [&](const fs::path& file) {
    return options.after_file ? options.after_file(file) : ok_status();
  };
  auto write_text = [&](const char* name, const std::string& text) -> status {
    if (auto written = write_file_atomically(staging / name, text); !written)
      return written;
    return landed(staging / name);
  };

  auto config = to_hf_config(model->config());
  // The config names the stored dtype, as transformers' own checkpoints do; loading still computes in
  // float32.
  if (options.weights_dtype == torch::kHalf || options.weights_dtype == torch::kBFloat16)
    config["torch_dtype"] = options.weights_dtype == torch::kHalf ? "float16" : "bfloat16";
  if (auto written = write_text("config.json", config.dump(2) + "\n"); !written)
    return written;

  named_tensors weights;
  for (const auto& item : model->named_parameters())
    if (!is_lora_parameter(item.key())) // the base's weights only; adapters are not transformers' weights
      weights.emplace_back(item.key(), item.value());
  if (auto written = save_safetensors_dir(staging, weights, options.weights_dtype, options.max_shard_bytes);
      !written)
    return written;
  auto single = staging / "model.safetensors";
  if (auto next = landed(fs::exists(single) ? single : staging / "model.safetensors.index.json"); !next)
    return next;

  // The adapters beside the base, in PEFT's files: transformers reads the directory as the base (with peft
  // installed, it attaches the adapter itself), PeftModel.from_pretrained as base + adapter. The base is
  // named where it will be once swapped in, absolute, so that the adapter finds it from anywhere.
  if (has_lora(model)) {
    if (auto written = save_adapter(staging, model, fs::absolute(target).lexically_normal().string());
        !written)
      return written;
    for (const char* name : {"adapter_model.safetensors", "adapter_config.json"})
      if (auto next = landed(staging / name); !next)
        return next;
  }

  // The tokenizer files as they came (tokenizer.json, its two config files; or tokenizer.model), so that
  // transformers, vLLM and peft read the trained student with the tokenizer it was trained with.
  for (const auto& [name, bytes] : tokenizer.files())
    if (auto written = write_text(name.c_str(), bytes); !written)
      return written;

  if (optimizer) {
    auto state = capture_adamw_state(*optimizer, model->named_parameters());
    if (!state)
      return state.error();
    if (auto written = save_adamw_state(staging / "optimizer.pt", *state); !written)
      return written;
    if (auto next = landed(staging / "optimizer.pt"); !next)
      return next;
  }
  if (trainer) {
    auto json = trainer->extra.is_object() ? trainer->extra : nlohmann::json::object();
    json["global_step"] = trainer->step;
    if (auto written = write_text("trainer_state.json", json.dump(2) + "\n"); !written)
      return written;
  }
  return sync_directory(staging);
}

// Puts the complete `staging` directory at `dir`. With RENAME_EXCHANGE the swap is one atomic step; elsewhere
// the old directory steps aside to `<dir>.old` first, and readable_dir() finds it if a crash comes between.
status swap_in(const fs::path& staging, const fs::path& dir) {
  std::error_code error;
  if (!fs::exists(dir)) {
    if (::rename(staging.c_str(), dir.c_str()) != 0)
      return problem{dir.string() + ": cannot move the new checkpoint into place: " + errno_text()};
  } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(staging, error); // now the previous checkpoint
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    auto old = with_suffix(dir, ".old");
    fs::remove_all(old, error);
    if (::rename(dir.c_str(), old.c_str()) != 0 || ::rename(staging.c_str(), dir.c_str()) != 0)
      return problem{dir.string() + ": cannot move the new checkpoint into place: " + errno_text()};
    if (auto synced = sync_directory(parent_of(dir)); !synced)
      return synced;
    fs::remove_all(old, error);
  } else {
    return problem{dir.string() + ": cannot swap in the new checkpoint: " + errno_text()};
  }
  return sync_directory(parent_of(dir));
}

result<trainer_state> load_trainer_state(const fs::path& file) {
  std::ifstream in{file};
  auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    return problem{file.string() + ": not a JSON object"};
  if (!json.contains("global_step") || !json["global_step"].is_number_integer() || json["global_step"] < 0)
    return problem{file.string() + ": `global_step` is missing or not a non-negative integer"};
  trainer_state state{json["global_step"].get<std::int64_t>(), json};
  state.extra.erase("global_step");
  return state;
}

} // namespace

status save_checkpoint(const fs::path& dir, const llama_for_causal_lm& model, const tokenizer& tokenizer,
                       const torch::optim::AdamW* optimizer, const std::optional<trainer_state>& trainer,
                       const checkpoint_options& options) {
  const auto target = normalized(dir);
  const auto staging = with_suffix(target, ".partial");
  try {
    std::error_code error;
    // Finish the swap of a save cut off between its two renames, so that the previous checkpoint is `dir`.
    if (auto old = with_suffix(target, ".old"); !fs::exists(target) && fs::is_directory(old))
      fs::rename(old, target);
    // Replacing a directory deletes it: only ever one that holds (part of) a checkpoint, or nothing.
    if (fs::exists(target) && (!fs::is_directory(target) || !replaceable(target)))
      return problem{target.string() + ": exists and is not a checkpoint directory; refusing to replace it"};
    fs::remove_all(staging); // a crashed save's leftovers
    fs::create_directories(staging, error);
    if (error)
      return problem{staging.string() + ": cannot create: " + error.message()};

    auto written = write_staged(staging, target, model, tokenizer, optimizer, trainer, options);
    if (written)
      written = swap_in(staging, target);
    if (!written)
      fs::remove_all(staging, error);
    return written;
  } catch (const std::exception& error) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    return problem{target.string() + ": cannot save the checkpoint: " + error.what()};
  }
}

result<loaded_checkpoint> load_checkpoint(const fs::path& dir, torch::Device device) {
  const auto source = readable_dir(normalized(dir));
  try {
    if (!fs::is_directory(source))
      return problem{source.string() + ": no such checkpoint directory"};
    auto config = load_llama_config(source / "config.json");
    if (!config)
      return config.error();
    auto weights = load_safetensors_dir(source);
    if (!weights)
      return weights.error();

    // Building the layers draws their default weights; keep the caller's random stream as it was.
    auto generator = at::detail::getDefaultCPUGenerator();
    auto random_state = generator.get_state();
    llama_for_causal_lm model{*config, /*draw_weights=*/false}; // every weight is loaded below
    generator.set_state(random_state);
    if (auto loaded = load_hf_weights(model, *weights); !loaded) {
      auto index = source / "model.safetensors.index.json";
      auto file = fs::exists(index) ? index : source / "model.safetensors";
      return problem{file.string() + ": " + loaded.error().message};
    }
    weights->clear();
    // Adapters are attached on the CPU, where the base is, and move to the device with it.
    if (fs::exists(source / "adapter_config.json"))
      if (auto adapted = load_adapter(source, model); !adapted)
        return adapted.error();
    model->to(device);

    auto spm = tokenizer::load_dir(source);
    if (!spm)
      return spm.error();
    // The embedding may have more rows than the tokenizer has tokens (Qwen2.5), never fewer.
    if (spm->vocab_size() > config->vocab_size) {
      const char* file = fs::exists(source / "tokenizer.json") ? "tokenizer.json" : "tokenizer.model";
      return problem{(source / file).string() + ": " + std::to_string(spm->vocab_size()) +
                     (spm->kind() == "sentencepiece" ? " pieces" : " tokens") +
                     ", more than the model's vocab_size " + std::to_string(config->vocab_size)};
    }

    std::optional<adamw_state> optimizer;
    if (fs::exists(source / "optimizer.pt")) {
      auto state = load_adamw_state(source / "optimizer.pt");
      if (!state)
        return state.error();
      optimizer = std::move(state.value());
    }
    std::optional<trainer_state> trainer;
    if (fs::exists(source / "trainer_state.json")) {
      auto state = load_trainer_state(source / "trainer_state.json");
      if (!state)
        return state.error();
      trainer = std::move(state.value());
    }
    return loaded_checkpoint{*config, std::move(model), std::move(spm.value()), std::move(optimizer),
                             std::move(trainer)};
  } catch (const std::exception& error) {
    return problem{source.string() + ": cannot load the checkpoint: " + error.what()};
  }
}

} // namespace tailor::gpu

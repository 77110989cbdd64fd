// `tailor model inspect DIR`: what a checkpoint directory holds and whether tailor can train it, without
// loading its weights (headers only), so that it answers in a second at any model size.
#include "apps/tailor/inspect_command.hpp"
#include "apps/tailor/model_commands.hpp"

#include "apps/tailor/command_guard.hpp"

#include "gpu/model_config.hpp"
#include "gpu/safetensors.hpp"
#include "gpu/tokenizer.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace tailor::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct inspect_settings {
  fs::path dir;
  int batch = 8;     // sequences per training step, for the activation estimate
  int tokens = 512;  // tokens per sequence, likewise
  bool as_json = false;
};

std::string with_commas(std::uint64_t n) {
  auto digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3)
    digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

std::string gib(double bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(bytes < (1ull << 30) ? 2 : 1) << bytes / double(1ull << 30) << " GiB";
  return out.str();
}

std::string millions(std::uint64_t n) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(n < 10'000'000 ? 2 : 1) << double(n) / 1e6 << "M";
  return out.str();
}

// What a full fine-tune holds in memory, in fp32 as tailor trains on the CPU (bf16 autocast on a GPU saves
// part of the activations, not the rest): weights, gradients and AdamW's two moments are 16 bytes per
// parameter; activations, without checkpointing, are what each layer keeps for its backward pass.
struct memory_estimate {
  double states = 0, activations = 0, logits = 0;
  double total() const { return states + activations + logits; }
};

memory_estimate full_fine_tune_memory(std::uint64_t parameters, const gpu::llama_config& c, int batch,
                                      int tokens) {
  const double t = double(batch) * tokens;
  const double d = c.hidden_size, i = c.intermediate_size, h = c.num_attention_heads, hd = c.head_dim;
  const double kv = c.num_key_value_heads;
  // Per token and layer: two norm inputs, q/k/v, the attention output, its projection input; the MLP's
  // input, gate, up, activation and product; the attention probabilities over the sequence.
  const double per_token_layer = 2 * d + (h + 2 * kv) * hd + 2 * h * hd + d + 4 * i + h * tokens;
  memory_estimate m;
  m.states = 16.0 * double(parameters);
  m.activations = 4.0 * t * c.num_hidden_layers * per_token_layer;
  m.logits = 2 * 4.0 * t * c.vocab_size; // the logits and their gradient
  return m;
}

std::string token_text(const gpu::tokenizer& tokens, int id) {
  if (id < 0)
    return "none";
  auto specials = tokens.special_tokens();
  auto found = specials.find(id);
  return std::to_string(id) + (found != specials.end() ? " " + found->second : "");
}

int inspect(const inspect_settings& settings) {
  const auto& dir = settings.dir;
  if (!fs::is_directory(dir)) {
    std::cerr << "tailor model inspect: " << dir.string() << ": no such directory\n";
    return 1;
  }
  std::ifstream in{dir / "config.json"};
  auto raw = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!in.is_open() || raw.is_discarded() || !raw.is_object()) {
    std::cerr << "tailor model inspect: " << (dir / "config.json").string()
              << (in.is_open() ? ": not a JSON object" : ": missing") << "\n";
    return 1;
  }
  auto config = gpu::load_llama_config(dir / "config.json");
  auto shapes = gpu::load_safetensors_dir_shapes(dir);
  auto tokens = gpu::tokenizer::load_dir(dir);

  std::uint64_t parameters = 0;
  std::map<std::string, std::uint64_t> by_dtype;
  if (shapes) {
    for (const auto& [name, stored] : *shapes) {
      std::uint64_t n = 1;
      for (auto size : stored.shape)
        n *= static_cast<std::uint64_t>(size);
      // A tied checkpoint that stores the shared matrix twice counts it once.
      if (name == "lm_head.weight" && config && config->tie_word_embeddings)
        continue;
      parameters += n;
      by_dtype[stored.dtype] += n;
    }
  }
  std::string architectures;
  for (const auto& name : raw.value("architectures", json::array()))
    if (name.is_string())
      architectures += (architectures.empty() ? "" : ", ") + name.get<std::string>();

  json out;
  out["dir"] = dir.string();
  out["model_type"] = raw.value("model_type", "");
  out["architectures"] = architectures;
  out["trainable_by_tailor"] = static_cast<bool>(config);
  if (!config)
    out["refused"] = config.error().message;
  if (shapes) {
    out["parameters"] = parameters;
    out["tensors"] = shapes->size();
    out["stored_dtypes"] = by_dtype;
  } else {
    out["weights_error"] = shapes.error().message;
  }
  if (tokens) {
    out["tokenizer"] = {{"kind", tokens->kind()},       {"vocab_size", tokens->vocab_size()},
                        {"bos_id", tokens->bos_id()},   {"eos_id", tokens->eos_id()},
                        {"pad_id", tokens->pad_id()},   {"stop_ids", tokens->stop_ids()},
                        {"special_tokens", tokens->special_tokens().size()}};
  } else {
    out["tokenizer_error"] = tokens.error().message;
  }
  memory_estimate memory;
  if (config) {
    out["layers"] = config->num_hidden_layers;
    out["hidden_size"] = config->hidden_size;
    out["heads"] = config->num_attention_heads;
    out["kv_heads"] = config->num_key_value_heads;
    out["head_dim"] = config->head_dim;
    out["intermediate_size"] = config->intermediate_size;
    out["vocab_size"] = config->vocab_size;
    out["context"] = config->max_position_embeddings;
    out["rope_theta"] = config->rope_theta;
    out["rope_scaling"] = std::string{gpu::to_string(config->rope_scaling.type)};
    out["tied_embeddings"] = config->tie_word_embeddings;
    if (shapes) {
      memory = full_fine_tune_memory(parameters, *config, settings.batch, settings.tokens);
      out["full_fine_tune_bytes"] = {{"weights_grads_adamw", memory.states},
                                     {"activations", memory.activations},
                                     {"logits", memory.logits},
                                     {"total", memory.total()},
                                     {"batch", settings.batch},
                                     {"tokens", settings.tokens}};
    }
  }
  if (settings.as_json) {
    std::cout << out.dump(2) << "\n";
    return config && shapes && tokens ? 0 : 1;
  }

  auto row = [](const char* label, const std::string& value) {
    std::cout << std::left << std::setw(13) << label << value << "\n";
  };
  row("directory", dir.string());
  row("family", out["model_type"].get<std::string>() + (architectures.empty() ? "" : " (" + architectures + ")"));
  if (shapes) {
    std::string stored;
    for (const auto& [dtype, n] : by_dtype)
      stored += (stored.empty() ? "" : ", ") + dtype;
    row("parameters", millions(parameters) + " (" + with_commas(parameters) + ") in " +
                          std::to_string(shapes->size()) + " tensors, stored as " + stored);
  } else {
    row("weights", "unreadable: " + shapes.error().message);
  }
  if (config) {
    row("layers", std::to_string(config->num_hidden_layers) + " x hidden " + std::to_string(config->hidden_size) +
                      ", " + std::to_string(config->num_attention_heads) + " heads (" +
                      std::to_string(config->num_key_value_heads) + " key/value, head_dim " +
                      std::to_string(config->head_dim) + "), MLP " + std::to_string(config->intermediate_size));
    std::ostringstream rope;
    rope << config->max_position_embeddings << " positions, rope theta " << config->rope_theta;
    if (config->rope_scaling.type != gpu::rope_scaling_type::none)
      rope << ", " << gpu::to_string(config->rope_scaling.type) << " scaling x" << config->rope_scaling.factor;
    if (config->sliding_window > 0)
      rope << ", sliding window " << config->sliding_window;
    std::string extras;
    if (config->attention_bias)
      extras += ", q/k/v bias";
    if (config->qk_norm)
      extras += ", q/k norm";
    row("context", rope.str() + extras);
    row("embeddings", std::to_string(config->vocab_size) + " rows" +
                          (config->tie_word_embeddings ? ", tied to the output layer" : ", output layer separate"));
  }
  if (tokens) {
    row("tokenizer", tokens->kind() + ", " + std::to_string(tokens->vocab_size()) + " tokens, " +
                         std::to_string(tokens->special_tokens().size()) + " special");
    std::string stops;
    for (int id : tokens->stop_ids())
      stops += (stops.empty() ? "" : ", ") + token_text(*tokens, id);
    row("special", "bos " + token_text(*tokens, tokens->bos_id()) + "; eos " + token_text(*tokens, tokens->eos_id()) +
                       "; pad " + token_text(*tokens, tokens->pad_id()) + "; stops on " + stops);
  } else {
    row("tokenizer", "unreadable: " + tokens.error().message);
  }
  if (config && shapes)
    row("fine-tune", "about " + gib(memory.total()) + " in fp32: " + gib(memory.states) +
                         " weights, gradients and AdamW moments; " + gib(memory.activations + memory.logits) +
                         " activations at batch " + std::to_string(settings.batch) + " x " +
                         std::to_string(settings.tokens) + " tokens");
  row("tailor", config ? "can train it" : "cannot train it: " + config.error().message);
  return config && shapes && tokens ? 0 : 1;
}

} // namespace

void add_model_group(CLI::App& app) {
  CLI::App* model = app.add_subcommand("model", "Look at student checkpoints");
  model->require_subcommand(1);
  auto settings = std::make_shared<inspect_settings>();
  auto* command = model->add_subcommand("inspect", "What a checkpoint directory holds, and whether tailor trains it");
  command->add_option("dir", settings->dir, "checkpoint directory (config.json, safetensors, tokenizer files)")
      ->required();
  command->add_option("--batch", settings->batch, "sequences per step, for the activation estimate")
      ->check(CLI::PositiveNumber);
  command->add_option("--tokens", settings->tokens, "tokens per sequence, for the activation estimate")
      ->check(CLI::PositiveNumber);
  command->add_flag("--json", settings->as_json, "print the facts as JSON");
  command->callback([settings] { run_guarded("model inspect", [&] { return inspect(*settings); }); });
  add_model_merge(*model);
}

} // namespace tailor::cli

// The run config's value checks: what each value may be, what keys must agree on, and which paths must exist.
#include "io/config/run_config_checks.hpp"

#include "io/data/arith.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace tailor {

void problem_list::add(std::string_view path, std::string_view what) {
  lines_.push_back(path.empty() ? std::string(what) : std::string(path) + ": " + std::string(what));
}

problem problem_list::joined() const {
  std::string message;
  for (const auto& line : lines_)
    message.append(message.empty() ? "" : "\n").append(line);
  return problem{message};
}

namespace {

namespace fs = std::filesystem;

// 0.001 (not 0.001000) and 1 (not 1.0): short, and as the user likely wrote it.
std::string number(double value) {
  if (value == std::trunc(value) && std::abs(value) < 1e15)
    return std::to_string(static_cast<std::int64_t>(value));
  return nlohmann::json(value).dump();
}

class value_checks {
public:
  explicit value_checks(problem_list& problems) : problems_(problems) {}

  void at_least(std::string_view path, std::uint64_t value, std::uint64_t least) {
    if (value < least)
      problems_.add(path, "must be at least " + std::to_string(least) + ", got " + std::to_string(value));
  }
  void positive(std::string_view path, double value) {
    if (!(value > 0))
      problems_.add(path, "must be greater than 0, got " + number(value));
  }
  void not_negative(std::string_view path, double value) {
    if (!(value >= 0))
      problems_.add(path, "must be at least 0, got " + number(value));
  }
  // [low, high], with either end open when asked.
  void within(std::string_view path, double value, double low, double high, bool open_low, bool open_high) {
    const bool above = open_low ? value > low : value >= low;
    const bool below = open_high ? value < high : value <= high;
    if (!above || !below)
      problems_.add(path, std::string("must be in ") + (open_low ? "(" : "[") + number(low) + ", " +
                              number(high) + (open_high ? ")" : "]") + ", got " + number(value));
  }
  void add(std::string_view path, std::string_view what) { problems_.add(path, what); }

private:
  problem_list& problems_;
};

// Relative to base_dir, made absolute and normal; an empty path stays empty (it means "the default").
void resolve(std::string& path, const fs::path& base_dir) {
  if (path.empty())
    return;
  fs::path resolved = path;
  if (resolved.is_relative())
    resolved = base_dir / resolved;
  std::error_code ignored;
  path = fs::absolute(resolved, ignored).lexically_normal().string();
}

void require_file(value_checks& check, std::string_view key, const std::string& path) {
  std::error_code error;
  if (path.empty() || fs::is_regular_file(path, error))
    return;
  check.add(key, (fs::exists(path, error) ? "not a file: " : "no such file: ") + path);
}

void check_data(value_checks& check, const data_config& data) {
  if (data.task != task_kind::arith) {
    const auto needed = std::string("required for task ") + std::string(to_string(data.task)) +
                        " (only arith generates its own questions)";
    if (data.train_file.empty())
      check.add("data.train_file", needed);
    if (data.test_file.empty())
      check.add("data.test_file", needed);
  } else {
    if (data.train_file.empty())
      check.at_least("data.generated_train_size", data.generated_train_size, 1);
    if (data.test_file.empty())
      check.at_least("data.generated_test_size", data.generated_test_size, 1);
    const auto clamped = [](std::uint32_t v) {
      return static_cast<int>(std::min<std::uint32_t>(v, 1'000'000));
    };
    arith_options options;
    options.min_operations = clamped(data.arith_min_operations);
    options.max_operations = clamped(data.arith_max_operations);
    options.max_operand = data.arith_max_operand;
    options.max_factor = data.arith_max_factor;
    if (const auto generable = check_arith_options(options); !generable) {
      const auto key = options.max_operand < 1  ? "data.arith_max_operand"
                       : options.max_factor < 2 ? "data.arith_max_factor"
                       : options.min_operations < 1 || options.min_operations > options.max_operations
                           ? "data.arith_min_operations"
                           : "data.arith_max_operations";
      check.add(key, generable.error().message);
    }
  }
  require_file(check, "data.train_file", data.train_file);
  require_file(check, "data.test_file", data.test_file);
}

void check_student(value_checks& check, const student_config& student) {
  std::error_code error;
  if (const auto& dir = student.checkpoint_dir; !dir.empty()) {
    if (!fs::is_directory(dir, error))
      check.add("student.checkpoint_dir",
                (fs::exists(dir, error) ? "not a directory: " : "no such directory: ") + dir);
    else if (!fs::is_regular_file(fs::path(dir) / "config.json", error))
      check.add("student.checkpoint_dir", dir + " has no config.json (a Hugging Face checkpoint has one)");
    else if (!fs::is_regular_file(fs::path(dir) / "tokenizer.json", error) &&
             !fs::is_regular_file(fs::path(dir) / "tokenizer.model", error))
      check.add("student.checkpoint_dir", dir + " has no tokenizer.json or tokenizer.model");
  }
  require_file(check, "student.tokenizer_path", student.tokenizer_path);

  check.at_least("student.dim", student.dim, 1);
  check.at_least("student.layers", student.layers, 1);
  check.at_least("student.heads", student.heads, 1);
  check.at_least("student.kv_heads", student.kv_heads, 1);
  check.at_least("student.vocab_size", student.vocab_size, 1);
  check.at_least("student.max_seq_len", student.max_seq_len, 1);
  if (student.heads == 0 || student.kv_heads == 0)
    return;
  if (student.dim % student.heads != 0)
    check.add("student.heads", std::to_string(student.heads) + " does not divide student.dim (" +
                                   std::to_string(student.dim) + ")");
  else if ((student.dim / student.heads) % 2 != 0)
    check.add("student.heads",
              "the head size student.dim / student.heads = " + std::to_string(student.dim / student.heads) +
                  " must be even (rotary embeddings turn pairs of dimensions)");
  if (student.heads % student.kv_heads != 0)
    check.add("student.kv_heads", std::to_string(student.kv_heads) + " does not divide student.heads (" +
                                      std::to_string(student.heads) + ")");
}

// Adapters refine what a pretrained base already knows; a student from scratch has nothing to refine.
void check_lora(value_checks& check, const student_config& student) {
  const auto& lora = student.lora;
  if (lora.rank == 0)
    return;
  if (student.checkpoint_dir.empty())
    check.add("student.lora.rank", "LoRA trains adapters on a pretrained student: set student.checkpoint_dir, "
                                   "or rank 0 to train a student from scratch");
  check.positive("student.lora.alpha", lora.alpha);
  check.within("student.lora.dropout", lora.dropout, 0, 1, /*open_low=*/false, /*open_high=*/true);
  if (lora.targets.empty())
    check.add("student.lora.targets", "names no module; pick from " + std::string{lora_target_names});
  for (const auto& target : lora.targets)
    if (!is_lora_target(target))
      check.add("student.lora.targets",
                "unknown module `" + target + "`; pick from " + std::string{lora_target_names});
}

// What may name an environment variable; a pasted key ("sk-...") may not.
bool is_variable_name(std::string_view name) {
  const auto word = [](char c) {
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  };
  return !name.empty() && !(name[0] >= '0' && name[0] <= '9') && std::all_of(name.begin(), name.end(), word);
}

// The keys of one endpoint, under `prefix` ("teacher." or "teachers.<name>.").
void check_endpoint(value_checks& check, const std::string& prefix, const teacher_config& teacher) {
  const auto& url = teacher.base_url;
  const auto scheme_end = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  if (scheme_end == 0 || url.size() == static_cast<std::size_t>(scheme_end))
    check.add(prefix + "base_url", "expected an http:// or https:// URL, got " + nlohmann::json(url).dump());
  if (teacher.kind == teacher_kind::openai_compatible && teacher.model.empty())
    check.add(prefix + "model", "required for kind openai_compatible");
  // Never echo the value: it may be the key itself.
  if (!teacher.api_key_env.empty() && !is_variable_name(teacher.api_key_env))
    check.add(prefix + "api_key_env", "must be the name of an environment variable (letters, digits and _), "
                                      "not the key itself");
  check.at_least(prefix + "concurrency", teacher.concurrency, 1);
  check.at_least(prefix + "request_timeout_ms", teacher.request_timeout_ms, 1);
  check.not_negative(prefix + "usd_per_million_prompt_tokens", teacher.usd_per_million_prompt_tokens);
  check.not_negative(prefix + "usd_per_million_completion_tokens", teacher.usd_per_million_completion_tokens);
  check.not_negative(prefix + "budget_usd", teacher.budget_usd);
  if (teacher.batch && teacher.kind != teacher_kind::openai_compatible)
    check.add(prefix + "batch", "needs kind openai_compatible (the Batch API of its endpoint)");
  check.at_least(prefix + "batch_poll_ms", teacher.batch_poll_ms, 1);
}

// More teachers by name, and the names the routes give.
void check_teachers(value_checks& check, const teacher_config& teacher, const std::vector<named_teacher>& more) {
  std::string names;
  for (const auto& named : more) {
    const bool word = !named.name.empty() && std::all_of(named.name.begin(), named.name.end(), [](char c) {
      return c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    });
    if (!word)
      check.add("teachers", "a teacher's name is letters, digits, _ and -, got " + nlohmann::json(named.name).dump());
    check_endpoint(check, "teachers." + named.name + ".", named.endpoint);
    names += (names.empty() ? "" : ", ") + named.name;
  }
  for (const auto& [key, name] : {std::pair{"teacher.chain_of_thought_teacher", &teacher.chain_of_thought_teacher},
                                  std::pair{"teacher.feedback_teacher", &teacher.feedback_teacher},
                                  std::pair{"teacher.fallback_teacher", &teacher.fallback_teacher}}) {
    const bool known = name->empty() || std::any_of(more.begin(), more.end(),
                                                    [&](const named_teacher& t) { return t.name == *name; });
    if (!known)
      check.add(key, "no teacher named " + nlohmann::json(*name).dump() + " in `teachers`" +
                         (names.empty() ? std::string{" (there are none)"} : " (there are: " + names + ")"));
  }
}

void check_teacher(value_checks& check, const teacher_config& teacher) {
  check_endpoint(check, "teacher.", teacher);
  check.within("teacher.max_failed_share", teacher.max_failed_share, 0, 1, /*open_low=*/false,
               /*open_high=*/false);
  check.at_least("teacher.failure_window", teacher.failure_window, 1);
  check.at_least("teacher.chain_of_thought_samples", teacher.chain_of_thought_samples, 1);
  check.at_least("teacher.tailored_feedback_samples", teacher.tailored_feedback_samples, 1);
  check.not_negative("teacher.sampling.temperature", teacher.sampling.temperature);
  check.within("teacher.sampling.top_p", teacher.sampling.top_p, 0, 1, /*open_low=*/true,
               /*open_high=*/false);
  check.at_least("teacher.sampling.max_tokens", teacher.sampling.max_tokens, 1);
}

void check_training(value_checks& check, const run_config& c) {
  check.at_least("exam.samples", c.exam.samples, 1);
  check.not_negative("exam.temperature", c.exam.temperature);
  check.at_least("exam.max_new_tokens", c.exam.max_new_tokens, 1);
  check.at_least("exam.batch_size", c.exam.batch_size, 1);

  check.not_negative("loss.prefix_weight", c.loss.prefix_weight);
  check.not_negative("loss.lambda", c.loss.lambda);
  check.not_negative("loss.margin", c.loss.margin);
  check.at_least("loss.rationale_max_tokens", c.loss.rationale_max_tokens, 1);

  check.at_least("reflection.max_positives", c.reflection.max_positives, 1);
  check.within("reflection.fresh_share", c.reflection.fresh_share, 0, 1, /*open_low=*/false,
               /*open_high=*/false);

  const auto& o = c.optimizer;
  check.positive("optimizer.learning_rate", o.learning_rate);
  check.not_negative("optimizer.later_rounds_learning_rate", o.later_rounds_learning_rate);
  check.not_negative("optimizer.weight_decay", o.weight_decay);
  check.within("optimizer.beta1", o.beta1, 0, 1, /*open_low=*/false, /*open_high=*/true);
  check.within("optimizer.beta2", o.beta2, 0, 1, /*open_low=*/false, /*open_high=*/true);
  check.positive("optimizer.eps", o.eps);
  check.within("optimizer.min_lr_ratio", o.min_lr_ratio, 0, 1, /*open_low=*/false, /*open_high=*/false);
  check.not_negative("optimizer.grad_clip", o.grad_clip);
  check.at_least("optimizer.grad_accumulation", o.grad_accumulation, 1);
  check.at_least("optimizer.batch_size", o.batch_size, 1);
  if (o.grad_accumulation > 0 && o.batch_size % o.grad_accumulation != 0)
    check.add("optimizer.batch_size", std::to_string(o.batch_size) + " is not a multiple of " +
                                          "optimizer.grad_accumulation (" +
                                          std::to_string(o.grad_accumulation) +
                                          "): each micro-batch holds batch_size / grad_accumulation items");
}

void check_loop(value_checks& check, const run_config& c) {
  check.at_least("rounds", c.rounds, 1);
  if (c.steps_per_round == 0 && c.epochs_per_round == 0)
    check.add("epochs_per_round", "must be at least 1 when steps_per_round is 0, got 0");
  if (c.mode == loop_mode::continuous) {
    check.at_least("checkpoint_every_steps", c.checkpoint_every_steps, 1);
    // 0 would stop the exam at every checkpoint: that is mode round's lockstep, asked for in a roundabout
    // way.
    if (c.max_staleness == 0)
      check.add("max_staleness", "must be at least 1 in mode continuous (for lockstep, use mode round)");
    // An exam that starts earlier examines weights older than the cap allows.
    if (c.exam_lead_checkpoints > c.max_staleness)
      check.add("exam_lead_checkpoints", "must be at most max_staleness (" + std::to_string(c.max_staleness) +
                                             "), got " + std::to_string(c.exam_lead_checkpoints));
  }
  if (c.nproc == 0 || c.nproc > 64)
    check.add("nproc", "must be between 1 and 64, got " + std::to_string(c.nproc));
  const std::string_view device = c.device;
  const auto ordinal = device.starts_with("cuda:") ? device.substr(5) : std::string_view{};
  const bool known =
      device == "auto" || device == "cpu" || device == "cuda" ||
      (!ordinal.empty() && ordinal.size() <= 4 &&
       std::all_of(ordinal.begin(), ordinal.end(), [](char ch) { return ch >= '0' && ch <= '9'; }));
  if (!known)
    check.add("device",
              "expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", got " + nlohmann::json(c.device).dump());
  std::error_code error;
  if (!c.output_dir.empty() && fs::exists(c.output_dir, error) && !fs::is_directory(c.output_dir, error))
    check.add("output_dir", "not a directory: " + c.output_dir);
}

} // namespace

void check_run_config(run_config& config, const fs::path& base_dir, problem_list& problems) {
  for (auto* path : {&config.data.train_file, &config.data.test_file, &config.student.checkpoint_dir,
                     &config.student.tokenizer_path, &config.output_dir})
    resolve(*path, base_dir);
  value_checks check(problems);
  check_data(check, config.data);
  check_student(check, config.student);
  check_lora(check, config.student);
  check_teacher(check, config.teacher);
  check_teachers(check, config.teacher, config.teachers);
  check_training(check, config);
  check_loop(check, config);
}

} // namespace tailor

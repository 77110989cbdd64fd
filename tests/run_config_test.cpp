// The run config as JSON: defaults, a lossless round trip, every kind of mistake named by its JSON path,
// paths resolved against the config's directory, and docs/config.md naming every key.
#include "io/config/embedded_default.hpp"
#include "io/config/run_config_json.hpp"
#include "io/teacher/run_prompts.hpp"
#include "run_config_sample.hpp"
#include "teacher_test_support.hpp"

#include <algorithm>
#include <caf/meta/annotation.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

using namespace tailor;
using nlohmann::json;
using tailor::testing::temporary_folder;

namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// The problem run_config_from_json finds in `j`, which must have one.
std::string problem_in(const json& j, const fs::path& base_dir = fs::temp_directory_path()) {
  const auto config = run_config_from_json(j, base_dir);
  REQUIRE_FALSE(config.ok());
  return config.error().message;
}

run_config read_ok(const json& j, const fs::path& base_dir = fs::temp_directory_path()) {
  auto config = run_config_from_json(j, base_dir);
  INFO((config ? std::string{} : config.error().message));
  REQUIRE(config.ok());
  return std::move(config).value();
}

// A run config with every field away from its default, its files made in `dir`.
run_config sample_config(const fs::path& dir) {
  write_file(dir / "gsm8k" / "train.jsonl", "{}\n");
  write_file(dir / "gsm8k" / "test.jsonl", "{}\n");
  write_file(dir / "ckpt" / "config.json", "{}");
  write_file(dir / "ckpt" / "tokenizer.model", "x");
  write_file(dir / "spm.model", "x");
  return test::every_field_set(dir.string());
}

// The scalar fields inspect() reaches, sections walked into: messages_tests checks that inspect() lists
// every member, so matching this count means to_json writes every field.
struct leaf_counter {
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;
  std::size_t leaves = 0;

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (add(xs), ...);
  }
  template <class T>
  void add(T& x) {
    if constexpr (std::is_base_of_v<caf::meta::annotation, std::decay_t<T>>)
      return;
    else if constexpr (requires { inspect(*this, x); })
      inspect(*this, x);
    else
      ++leaves;
  }
};

// "data.task", "teacher.sampling.top_p", "rounds": every key path of `j`'s leaves (an empty object, such as
// `teachers` with none, is one).
void key_paths(const json& j, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [key, value] : j.items()) {
    const auto path = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object() && !value.empty())
      key_paths(value, path, out);
    else
      out.push_back(path);
  }
}

std::vector<std::string> key_paths(const json& j) {
  std::vector<std::string> out;
  key_paths(j, "", out);
  return out;
}

} // namespace

TEST_CASE("config: {} is the struct's defaults, and to_json writes every field", "[config]") {
  CHECK(read_ok(json::object()) == run_config{});
  const auto written = to_json(run_config{});
  run_config defaults;
  leaf_counter counter;
  inspect(counter, defaults);
  CHECK(key_paths(written).size() == counter.leaves);
  CHECK(written["data"]["task"] == "arith");
  CHECK(written["teacher"]["sampling"]["top_p"] == 1.0);
  CHECK(written["optimizer"]["schedule"] == "cosine");
  CHECK(written["seed"] == 42);
  CHECK(read_ok(written) == run_config{});
}

TEST_CASE("config: a config with every field set survives to_json and back, also as text", "[config]") {
  temporary_folder dir;
  const auto sample = sample_config(dir.path());
  const auto written = to_json(sample);
  for (const auto& path : key_paths(written)) {
    INFO(path << " is at its default in the sample");
    auto slashed = path;
    std::replace(slashed.begin(), slashed.end(), '.', '/');
    const auto pointer = json::json_pointer("/" + slashed);
    // A named teacher's keys default as the `teacher` section's own endpoint keys do.
    const auto named = path.rfind("teachers.", 0) == 0;
    const auto default_pointer =
        named ? json::json_pointer("/teacher/" + path.substr(path.rfind('.') + 1)) : pointer;
    CHECK(written.at(pointer) != to_json(run_config{}).at(default_pointer));
  }
  CHECK(read_ok(written, "/elsewhere") == sample); // absolute paths do not depend on the base
  CHECK(read_ok(json::parse(written.dump(2))) == sample);
}

TEST_CASE("config: keys left out keep their defaults; integers may be written 3.0", "[config]") {
  const auto c = read_ok(json::parse(R"({"rounds": 2.0, "optimizer": {"learning_rate": 3e-4},
                                         "teacher": {"sampling": {"top_p": 0.95}}, "mode": "continuous"})"));
  run_config expected;
  expected.rounds = 2;
  expected.optimizer.learning_rate = 3e-4;
  expected.teacher.sampling.top_p = 0.95;
  expected.mode = loop_mode::continuous;
  CHECK(c == expected);
}

TEST_CASE("config: a value of the wrong type is named by its path", "[config]") {
  CHECK(problem_in({{"optimizer", {{"learning_rate", "fast"}}}}) ==
        R"(optimizer.learning_rate: expected a number, got "fast")");
  CHECK(problem_in({{"teacher", {{"kind", "gpt"}}}}) ==
        R"(teacher.kind: unknown value "gpt"; one of builtin, openai_compatible)");
  CHECK(problem_in({{"data", {{"task", 3}}}}) ==
        "data.task: expected a string, got 3; one of gsm8k, svamp, multiarith, strategyqa, csqa, arith");
  CHECK(problem_in({{"teacher", {{"mistake_order", "hardest"}}}}) ==
        R"(teacher.mistake_order: unknown value "hardest"; one of near_misses_first, as_graded, misses_first)");
  CHECK(problem_in({{"bf16", 1}}) == "bf16: expected true or false, got 1");
  CHECK(problem_in({{"device", nullptr}}) == "device: expected a string, got null");
  CHECK(problem_in({{"exam", 3}}) == "exam: expected an object of keys, got 3");
  CHECK(problem_in({{"teacher", {{"sampling", "hot"}}}}) ==
        R"(teacher.sampling: expected an object of keys, got "hot")");
  CHECK(problem_in(json::array({1, 2})) ==
        "the config must be a JSON object of sections and keys, got [1,2]");
}

TEST_CASE("config: integers must be whole, non-negative and fit their field", "[config]") {
  CHECK(problem_in({{"rounds", 2.5}}) == "rounds: expected an integer, got 2.5");
  CHECK(problem_in({{"rounds", -1}}) == "rounds: expected a non-negative integer, got -1");
  CHECK(problem_in({{"rounds", -1.0}}) == "rounds: expected a non-negative integer, got -1.0");
  CHECK(problem_in({{"rounds", "3"}}) == R"(rounds: expected a non-negative integer, got "3")");
  CHECK(problem_in({{"rounds", 5'000'000'000ULL}}) == "rounds: expected at most 4294967295, got 5000000000");
  CHECK(problem_in({{"seed", 1e20}}) == "seed: expected at most 18446744073709551615, got 1e+20");
  CHECK(read_ok({{"seed", 18446744073709551615ULL}}).seed == 18446744073709551615ULL);
  CHECK(read_ok({{"teacher", {{"budget_tokens", 1e9}}}}).teacher.budget_tokens == 1'000'000'000);
}

TEST_CASE("config: an unknown key is named, with the known key it is likely a typo of", "[config]") {
  CHECK(problem_in({{"exam", {{"smaples", 2}}}}) == R"(exam.smaples: unknown key; did you mean "samples"?)");
  CHECK(problem_in({{"optimiser", json::object()}}) ==
        R"(optimiser: unknown key; did you mean "optimizer"?)");
  CHECK(problem_in({{"teacher", {{"sampling", {{"topp", 1}}}}}}) ==
        R"(teacher.sampling.topp: unknown key; did you mean "top_p"?)");
  CHECK(problem_in({{"exam", {{"colour", "red"}}}}) == "exam.colour: unknown key");
}

TEST_CASE("config: every problem is reported, one per line", "[config]") {
  CHECK(problem_in(
            {{"rounds", "x"}, {"exam", {{"samples", -2}, {"smaples", 1}}}, {"loss", {{"margin", -1}}}}) ==
        "exam.samples: expected a non-negative integer, got -2\n"
        "rounds: expected a non-negative integer, got \"x\"\n"
        "exam.smaples: unknown key; did you mean \"samples\"?"); // no range checks on a half-read config
  CHECK(problem_in({{"rounds", 0}, {"exam", {{"smaples", 1}}}}) ==
        "exam.smaples: unknown key; did you mean \"samples\"?\n"
        "rounds: must be at least 1, got 0");
  CHECK(problem_in({{"rounds", 0}, {"optimizer", {{"learning_rate", 0}}}}) ==
        "optimizer.learning_rate: must be greater than 0, got 0\n"
        "rounds: must be at least 1, got 0");
}

TEST_CASE("config: values that make no sense are refused", "[config]") {
  CHECK(problem_in({{"optimizer", {{"learning_rate", -0.001}}}}) ==
        "optimizer.learning_rate: must be greater than 0, got -0.001");
  CHECK(problem_in({{"student", {{"dim", 100}, {"heads", 8}}}}) ==
        "student.heads: 8 does not divide student.dim (100)");
  CHECK(problem_in({{"student", {{"dim", 120}, {"heads", 8}, {"kv_heads", 4}}}}) ==
        "student.heads: the head size student.dim / student.heads = 15 must be even (rotary embeddings turn "
        "pairs of dimensions)");
  CHECK(problem_in({{"student", {{"kv_heads", 3}}}}) ==
        "student.kv_heads: 3 does not divide student.heads (8)");
  CHECK(problem_in({{"student", {{"heads", 0}}}}) == "student.heads: must be at least 1, got 0");
  CHECK(problem_in({{"rounds", 0}}) == "rounds: must be at least 1, got 0");
  CHECK(problem_in({{"exam", {{"temperature", -0.5}}}}) == "exam.temperature: must be at least 0, got -0.5");
  CHECK(problem_in({{"teacher", {{"sampling", {{"temperature", -1}}}}}}) ==
        "teacher.sampling.temperature: must be at least 0, got -1");
  CHECK(problem_in({{"teacher", {{"sampling", {{"top_p", 0}}}}}}) ==
        "teacher.sampling.top_p: must be in (0, 1], got 0");
  CHECK(problem_in({{"teacher", {{"sampling", {{"top_p", 1.5}}}}}}) ==
        "teacher.sampling.top_p: must be in (0, 1], got 1.5");
  CHECK(problem_in({{"optimizer", {{"beta2", 1}}}}) == "optimizer.beta2: must be in [0, 1), got 1");
  CHECK(problem_in({{"exam", {{"batch_size", 0}}}}) == "exam.batch_size: must be at least 1, got 0");
  CHECK(problem_in({{"optimizer", {{"batch_size", 0}}}}) ==
        "optimizer.batch_size: must be at least 1, got 0");
  CHECK(
      problem_in({{"optimizer", {{"batch_size", 10}, {"grad_accumulation", 4}}}}) ==
      "optimizer.batch_size: 10 is not a multiple of optimizer.grad_accumulation (4): each micro-batch holds "
      "batch_size / grad_accumulation items");
  CHECK(problem_in({{"epochs_per_round", 0}}) ==
        "epochs_per_round: must be at least 1 when steps_per_round is 0, got 0");
  CHECK(read_ok({{"epochs_per_round", 0}, {"steps_per_round", 100}}).steps_per_round == 100);
  CHECK(read_ok(json::object()).first_round_steps == 0);
  CHECK(read_ok({{"first_round_steps", 300}}).first_round_steps == 300);
  CHECK(problem_in({{"first_round_steps", -5}}) == "first_round_steps: expected a non-negative integer, got -5");
  CHECK(problem_in({{"data", {{"arith_min_operations", 5}, {"arith_max_operations", 3}}}}) ==
        "data.arith_min_operations: operations must satisfy 1 <= min (5) <= max (3) <= 8");
  CHECK(problem_in({{"data", {{"arith_max_factor", 1}}}}) ==
        "data.arith_max_factor: the largest factor must be at least 2, not 1");
  CHECK(problem_in({{"device", "gpu"}}) ==
        R"(device: expected "auto", "cpu", "cuda" or "cuda:N", got "gpu")");
  CHECK(read_ok({{"device", "cuda:3"}}).device == "cuda:3");
}

TEST_CASE("config: an exam lead beyond max_staleness is refused in continuous mode only", "[config]") {
  CHECK(problem_in({{"mode", "continuous"}, {"max_staleness", 1}, {"exam_lead_checkpoints", 2}}) ==
        "exam_lead_checkpoints: must be at most max_staleness (1), got 2");
  CHECK(read_ok({{"mode", "continuous"}, {"max_staleness", 2}, {"exam_lead_checkpoints", 2}}).exam_lead_checkpoints ==
        2);
  CHECK(read_ok({{"mode", "round"}, {"exam_lead_checkpoints", 3}}).exam_lead_checkpoints == 3);
}

TEST_CASE("config: continuous mode's later rounds wait for their corrections unless told not to", "[config]") {
  CHECK(read_ok(json::object()).wait_for_corrections);
  CHECK_FALSE(read_ok({{"mode", "continuous"}, {"wait_for_corrections", false}}).wait_for_corrections);
  CHECK(problem_in({{"wait_for_corrections", "no"}}) == R"(wait_for_corrections: expected true or false, got "no")");
}

TEST_CASE("config: max_staleness 0 is refused in continuous mode only", "[config]") {
  CHECK(problem_in({{"mode", "continuous"}, {"max_staleness", 0}}) ==
        "max_staleness: must be at least 1 in mode continuous (for lockstep, use mode round)");
  CHECK(read_ok({{"mode", "round"}, {"max_staleness", 0}}).max_staleness == 0);
  CHECK(problem_in({{"mode", "continuous"}, {"checkpoint_every_steps", 0}}) ==
        "checkpoint_every_steps: must be at least 1, got 0");
}

TEST_CASE("config: the teacher's URL, model and key variable are checked", "[config]") {
  CHECK(problem_in({{"teacher", {{"base_url", "api.openai.com/v1"}}}}) ==
        R"(teacher.base_url: expected an http:// or https:// URL, got "api.openai.com/v1")");
  CHECK(problem_in({{"teacher", {{"base_url", "https://"}}}}) ==
        R"(teacher.base_url: expected an http:// or https:// URL, got "https://")");
  CHECK(problem_in({{"teacher", {{"kind", "openai_compatible"}, {"model", ""}}}}) ==
        "teacher.model: required for kind openai_compatible");
  // A pasted key is refused without being repeated: configs and their problems end up in logs.
  const auto pasted = problem_in({{"teacher", {{"api_key_env", "sk-proj-abc123"}}}});
  CHECK(pasted ==
        "teacher.api_key_env: must be the name of an environment variable (letters, digits and _), not "
        "the key itself");
  CHECK(pasted.find("abc123") == std::string::npos);
  CHECK(
      read_ok({{"teacher", {{"api_key_env", ""}}}}).teacher.api_key_env.empty()); // a local server needs none
}

TEST_CASE("config: prompt overrides must hold their placeholders", "[config]") {
  CHECK(problem_in({{"prompts", {{"cot_user", "Solve this."}}}}) ==
        "prompts.cot_user: lacks the placeholder {question} (it must hold {question})");
  CHECK(problem_in(
            {{"prompts", {{"feedback_user", "{question} {student_reasoning} {gold_answer} {qestion}"}}}}) ==
        "prompts.feedback_user: uses {qestion}, which it cannot fill (it may use {demos}, {question}, "
        "{reply_format}, {student_reasoning}, {gold_answer})");
  const auto c = read_ok({{"prompts", {{"cot_user", "Q: {question}"}, {"cot_system", ""}}}});
  const auto templates = prompt_templates_of(c.prompts);
  REQUIRE(templates.ok());
  CHECK(templates->cot_user == "Q: {question}");
  CHECK(templates->cot_system == default_prompt_templates().cot_system); // empty: the built-in text
  CHECK(templates->feedback_user == default_prompt_templates().feedback_user);
  prompt_config broken;
  broken.feedback_user = "no placeholders";
  const auto refused = prompt_templates_of(broken);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.starts_with("prompts.feedback_user: lacks the placeholder {question}"));
}

TEST_CASE("config: paths are resolved against the config's directory and must exist", "[config]") {
  temporary_folder dir;
  const auto base = dir.path();
  write_file(base / "data" / "train.jsonl", "{}\n");
  write_file(base / "data" / "test.jsonl", "{}\n");

  const auto c = read_ok(
      {{"data",
        {{"task", "gsm8k"}, {"train_file", "data/train.jsonl"}, {"test_file", "./data/../data/test.jsonl"}}},
       {"output_dir", "runs/first"}},
      base);
  CHECK(c.data.train_file == (base / "data" / "train.jsonl").string());
  CHECK(c.data.test_file == (base / "data" / "test.jsonl").string());
  CHECK(c.output_dir == (base / "runs" / "first").string()); // need not exist yet

  CHECK(problem_in({{"data",
                     {{"task", "gsm8k"}, {"train_file", "missing.jsonl"}, {"test_file", "data/test.jsonl"}}}},
                   base) == "data.train_file: no such file: " + (base / "missing.jsonl").string());
  CHECK(problem_in({{"data", {{"task", "svamp"}}}}, base) ==
        "data.train_file: required for task svamp (only arith generates its own questions)\n"
        "data.test_file: required for task svamp (only arith generates its own questions)");
  CHECK(problem_in({{"data", {{"train_file", "data"}}}}, base) ==
        "data.train_file: not a file: " + (base / "data").string());
  // arith takes files too, each on its own.
  CHECK(read_ok({{"data", {{"train_file", "data/train.jsonl"}}}}, base).data.test_file.empty());

  fs::create_directories(base / "empty-ckpt");
  CHECK(problem_in({{"student", {{"checkpoint_dir", "empty-ckpt"}}}}, base) ==
        "student.checkpoint_dir: " + (base / "empty-ckpt").string() +
            " has no config.json (a Hugging Face checkpoint has one)");
  CHECK(problem_in({{"student", {{"checkpoint_dir", "nowhere"}}}}, base) ==
        "student.checkpoint_dir: no such directory: " + (base / "nowhere").string());
  write_file(base / "ckpt" / "config.json", "{}");
  CHECK(problem_in({{"student", {{"checkpoint_dir", "ckpt"}}}}, base) ==
        "student.checkpoint_dir: " + (base / "ckpt").string() + " has no tokenizer.json or tokenizer.model");
  write_file(base / "ckpt" / "tokenizer.model", "x");
  CHECK(read_ok({{"student", {{"checkpoint_dir", "ckpt/"}}}}, base).student.checkpoint_dir ==
        (base / "ckpt/").string());
  // Byte-level BPE students (Llama-3, Qwen) bring tokenizer.json and no tokenizer.model.
  fs::remove(base / "ckpt" / "tokenizer.model");
  write_file(base / "ckpt" / "tokenizer.json", "{}");
  CHECK(read_ok({{"student", {{"checkpoint_dir", "ckpt"}}}}, base).student.checkpoint_dir ==
        (base / "ckpt").string());
  CHECK(problem_in({{"student", {{"tokenizer_path", "spm.model"}}}}, base) ==
        "student.tokenizer_path: no such file: " + (base / "spm.model").string());
  CHECK(problem_in({{"output_dir", "data/train.jsonl"}}, base) ==
        "output_dir: not a directory: " + (base / "data" / "train.jsonl").string());
}

TEST_CASE("config: load_run_config reads a file, with paths relative to it and problems naming it",
          "[config]") {
  temporary_folder dir;
  const auto file = dir.path() / "configs" / "gsm8k.json";
  write_file(dir.path() / "configs" / "train.jsonl", "{}\n");
  write_file(dir.path() / "configs" / "test.jsonl", "{}\n");
  write_file(file, R"({
  // comments are allowed
  "data": {"task": "gsm8k", "train_file": "train.jsonl", "test_file": "test.jsonl"},
  "rounds": 2
})");
  const auto loaded = load_run_config(file);
  INFO((loaded ? std::string{} : loaded.error().message));
  REQUIRE(loaded.ok());
  CHECK(loaded->data.train_file == (dir.path() / "configs" / "train.jsonl").string());
  CHECK(loaded->rounds == 2);

  const auto missing = load_run_config(dir.path() / "nope.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == (dir.path() / "nope.json").string() + ": no such config file");

  write_file(file, "{\n  \"rounds\": 2,\n  \"exam\": {\"samples\": }\n}\n");
  const auto broken = load_run_config(file);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().message.starts_with(file.string() + ":3:23: not valid JSON: syntax error"));

  write_file(file, R"({"rounds": 0, "exam": {"smaples": 1}})");
  const auto wrong = load_run_config(file);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == file.string() + ": exam.smaples: unknown key; did you mean \"samples\"?\n" +
                                     file.string() + ": rounds: must be at least 1, got 0");
}

TEST_CASE("config: docs/config.md names every key", "[config]") {
  std::ifstream in(fs::path(TAILOR_SOURCE_DIR) / "docs" / "config.md");
  REQUIRE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& path : key_paths(to_json(run_config{}))) {
    INFO("docs/config.md lacks `" << path << "`");
    CHECK(doc.str().find("`" + path + "`") != std::string::npos);
  }
  // Its examples are configs that read, but for the data files they name.
  const auto text = doc.str();
  std::size_t examples = 0;
  for (auto at = text.find("```json\n"); at != std::string::npos; at = text.find("```json\n", at)) {
    at += 8;
    const auto example = text.substr(at, text.find("```", at) - at);
    INFO(example);
    const auto config = run_config_from_json(json::parse(example), fs::temp_directory_path());
    std::stringstream problems(config ? std::string{} : config.error().message);
    for (std::string line; std::getline(problems, line);)
      CHECK(line.find(": no such file: ") != std::string::npos);
    ++examples;
  }
  CHECK(examples == 3);
}

TEST_CASE("config: the embedded default is a valid config and its ablation changes only the strategy and λ",
          "[config]") {
  const auto c = embedded_default_config(3, "/tmp/runs/x");
  // It survives its own JSON: what `tailor run` writes to config.json reads back the same.
  auto back = run_config_from_json(to_json(c), ".");
  REQUIRE(back);
  CHECK(*back == c);
  CHECK(c.seed == 3);
  CHECK(c.mode == loop_mode::continuous);
  CHECK(c.strategy == teacher_strategy::tailored);
  // The teacher is the expensive part: it sees fewer questions than the pool holds.
  CHECK(c.teacher.initial_questions < c.data.generated_train_size);
  CHECK(c.teacher.requests_per_round > 0);
  auto ablation = ablation_of(c);
  CHECK(ablation.strategy == teacher_strategy::random);
  CHECK(ablation.loss.lambda == 0);
  ablation.strategy = c.strategy;
  ablation.loss.lambda = c.loss.lambda;
  CHECK(ablation == c);
}

TEST_CASE("config: several teachers: named endpoints, routes that must name them, only endpoint keys", "[config]") {
  const auto c = read_ok(json::parse(R"({
    "teacher": {"feedback_teacher": "strong", "fallback_teacher": "local"},
    "teachers": {"strong": {"kind": "openai_compatible", "model": "big", "budget_usd": 3},
                 "local": {"base_url": "http://127.0.0.1:8000/v1", "api_key_env": ""}}})"));
  REQUIRE(c.teachers.size() == 2);
  CHECK(c.teachers[0].name == "local"); // in name order
  CHECK(c.teachers[1].endpoint.model == "big");
  CHECK(c.teachers[1].endpoint.budget_usd == 3);
  CHECK(&routed_teacher(c, teacher_request_kind::tailored_feedback) == &c.teachers[1].endpoint);
  CHECK(&routed_teacher(c, teacher_request_kind::chain_of_thought) == &c.teacher);

  const auto unknown = run_config_from_json(json::parse(R"({"teacher": {"fallback_teacher": "strnog"},
                                                           "teachers": {"strong": {"model": "big"}}})"), ".");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message ==
        "teacher.fallback_teacher: no teacher named \"strnog\" in `teachers` (there are: strong)");
  const auto loop_key = run_config_from_json(
      json::parse(R"({"teachers": {"strong": {"model": "big", "chain_of_thought_samples": 3}}})"), ".");
  REQUIRE_FALSE(loop_key);
  // The loop's knobs belong to `teacher`: a named teacher has only endpoint keys.
  CHECK(loop_key.error().message == "teachers.strong.chain_of_thought_samples: unknown key");
  const auto bad = run_config_from_json(json::parse(R"({"teachers": {"a b": {"concurrency": 0}}})"), ".");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("a teacher's name is letters, digits") &&
                                      Catch::Contains("teachers.a b.concurrency: must be at least 1"));
}

TEST_CASE("student.lora: read, checked, and refused without a pretrained student", "[config][lora]") {
  const auto dir = fs::temp_directory_path() / "tailor-config-lora";
  write_file(dir / "base" / "config.json", "{}");
  write_file(dir / "base" / "tokenizer.json", "{}");
  const auto base = (dir / "base").string();
  auto with_lora = [&](json lora) { return json{{"student", {{"checkpoint_dir", base}, {"lora", lora}}}}; };

  CHECK(read_ok(json::object()).student.lora.rank == 0);
  const auto read = read_ok(with_lora({{"rank", 8}, {"alpha", 32}, {"targets", {"q_proj", "down_proj"}}}));
  CHECK(read.student.lora.rank == 8);
  CHECK(read.student.lora.alpha == 32);
  CHECK(read.student.lora.targets == std::vector<std::string>{"q_proj", "down_proj"});
  CHECK(to_json(read)["student"]["lora"]["targets"] == json{"q_proj", "down_proj"});

  CHECK(problem_in({{"student", {{"lora", {{"rank", 4}}}}}}) ==
        "student.lora.rank: LoRA trains adapters on a pretrained student: set student.checkpoint_dir, or rank 0 "
        "to train a student from scratch");
  CHECK(problem_in(with_lora({{"rank", -1}})) == "student.lora.rank: expected a non-negative integer, got -1");
  CHECK(problem_in(with_lora({{"rank", 4}, {"alpha", 0}})) == "student.lora.alpha: must be greater than 0, got 0");
  CHECK_THAT(problem_in(with_lora({{"rank", 4}, {"dropout", 1}})),
             Catch::StartsWith("student.lora.dropout: must be in [0, 1)"));
  CHECK(problem_in(with_lora({{"rank", 4}, {"targets", {"q_proj", "qkv"}}})) ==
        "student.lora.targets: unknown module `qkv`; pick from q_proj, k_proj, v_proj, o_proj, gate_proj, "
        "up_proj, down_proj");
  CHECK(problem_in(with_lora({{"rank", 4}, {"targets", "q_proj"}})) ==
        "student.lora.targets: expected a list of strings, got \"q_proj\"");
  CHECK_THAT(problem_in(with_lora({{"rank", 4}, {"targets", json::array()}})),
             Catch::StartsWith("student.lora.targets: names no module"));
}

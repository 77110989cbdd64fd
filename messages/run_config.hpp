// Every knob of one run, with the defaults a run gets when a config leaves a knob out.
#pragma once

#include "messages/enum_names.hpp"
#include "messages/example.hpp"
#include "messages/teacher.hpp"

#include <algorithm>
#include <array>
#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tailor {

// Conventions: an empty path or prompt means "the built-in one"; a count or budget of 0 means "no limit"
// where the comment says so. JSON parsing and validation live with the config module, not here.

struct data_config {
  task_kind task = task_kind::arith;
  std::string train_file; // JSONL; empty with task arith: generated from the run's seed
  std::string test_file;
  std::uint32_t generated_train_size = 1000; // arith only, when no files are given
  std::uint32_t generated_test_size = 200;
  // Difficulty of generated arith problems: each draws its operation count from [min, max]. An uneven mix
  // is what makes a student's mistakes concentrate where tailored feedback helps.
  std::uint32_t arith_min_operations = 1;
  std::uint32_t arith_max_operations = 4;
  std::uint32_t arith_max_operand = 20; // operands of + and -, in [1, max]
  std::uint32_t arith_max_factor = 9;   // multipliers and divisors, in [2, max]

  friend bool operator==(const data_config&, const data_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, data_config& x) {
  return f(caf::meta::type_name("data_config"), x.task, x.train_file, x.test_file, x.generated_train_size,
           x.generated_test_size, x.arith_min_operations, x.arith_max_operations, x.arith_max_operand,
           x.arith_max_factor);
}

// METHOD.md wants our teacher prompts in one file and overridable from the run config. The four teacher
// texts are io/teacher/teacher_prompts.hpp's prompt_templates, with its placeholders; empty: the built-in text.
struct prompt_config {
  std::string demos;           // the student's few-shot demos; empty: the task's defaults
  std::string cot_system;      // chain-of-thought request (round 1), system message
  std::string cot_user;        // ... user message; must hold {question}
  std::string feedback_system; // tailored-feedback request (a student's mistake), system message
  std::string feedback_user;   // ... user message; must hold {question}, {student_reasoning}, {gold_answer}

  friend bool operator==(const prompt_config&, const prompt_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prompt_config& x) {
  return f(caf::meta::type_name("prompt_config"), x.demos, x.cot_system, x.cot_user, x.feedback_system,
           x.feedback_user);
}

// LoRA adapters on a pretrained student (PEFT's semantics): the base weights stay frozen and each target
// projection W x becomes W x + (alpha / rank) B A x, A [rank, in] and B [out, rank] the trained parameters.
struct lora_config {
  std::uint32_t rank = 0; // 0: off, the whole student trains
  double alpha = 16;
  double dropout = 0; // on the adapters' input, while training
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj"}; // of q/k/v/o, gate/up/down

  friend bool operator==(const lora_config&, const lora_config&) = default;
};

// The projections an adapter may sit on, by their Hugging Face (and PEFT) module names.
inline constexpr std::array<std::string_view, 7> lora_targets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                                 "gate_proj", "up_proj", "down_proj"};
inline constexpr std::string_view lora_target_names = "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj";
inline bool is_lora_target(std::string_view name) {
  return std::find(lora_targets.begin(), lora_targets.end(), name) != lora_targets.end();
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lora_config& x) {
  return f(caf::meta::type_name("lora_config"), x.rank, x.alpha, x.dropout, x.targets);
}

// A LLaMA-family student: a Hugging Face checkpoint directory, or a fresh model of the sizes below.
struct student_config {
  std::string checkpoint_dir; // empty: train from scratch
  std::string tokenizer_path; // from scratch only (a checkpoint brings its own); empty: trained on the data
  // Sizes of a from-scratch student (ignored with a checkpoint, which brings its own config.json). Small
  // enough to train on a CPU in minutes on `arith`.
  std::uint32_t dim = 256;
  std::uint32_t layers = 4;
  std::uint32_t heads = 8;
  std::uint32_t kv_heads = 4;       // grouped-query attention when below `heads`
  std::uint32_t vocab_size = 384;   // a trained tokenizer's size; digits are single tokens
  std::uint32_t max_seq_len = 1024; // demos + question + rationale + answer must fit
  lora_config lora;                 // with a checkpoint only

  friend bool operator==(const student_config&, const student_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, student_config& x) {
  return f(caf::meta::type_name("student_config"), x.checkpoint_dir, x.tokenizer_path, x.dim, x.layers,
           x.heads, x.kv_heads, x.vocab_size, x.max_seq_len, x.lora);
}

enum class teacher_kind : std::uint8_t { builtin, openai_compatible };

template <>
struct enum_names<teacher_kind> {
  static constexpr std::array<std::string_view, 2> values = {"builtin", "openai_compatible"};
};

// Which mistakes of an exam pass get the teacher's feedback when the pass's quota is smaller than its mistakes.
// near_misses_first: questions the student answered right in some sample, then the rest with what is left;
// misses_first: questions it answered wrong in every sample, then the near misses with what is left;
// as_graded: in the order the exam grades them.
enum class feedback_order : std::uint8_t { near_misses_first, as_graded, misses_first };

template <>
struct enum_names<feedback_order> {
  static constexpr std::array<std::string_view, 3> values = {"near_misses_first", "as_graded", "misses_first"};
};

struct teacher_config {
  teacher_kind kind = teacher_kind::builtin; // offline, free, deterministic: runs anywhere
  std::string base_url = "https://api.openai.com/v1";
  std::string model = "gpt-4o-mini";
  // The *name* of the environment variable that holds the key: configs are stored with the run and shown
  // by the daemon, so the key itself never enters one.
  std::string api_key_env = "OPENAI_API_KEY";
  std::uint32_t concurrency = 8; // requests in flight at once
  std::uint32_t request_timeout_ms = 60000;
  std::uint32_t max_retries = 5;            // with exponential backoff, honouring Retry-After
  // A request whose tries all failed is skipped for now and asked again once, this long after, in the same
  // round; if that fails too, the round goes on without it.
  std::uint32_t failed_request_retry_ms = 30000;
  // The run stops when more than this share of the last `failure_window` requests failed after all their
  // tries: a provider's bad hour costs retries, a broken endpoint stops the run with a message.
  double max_failed_share = 0.2;
  std::uint32_t failure_window = 50;
  double usd_per_million_prompt_tokens = 0; // 0: costs are not tracked in USD
  double usd_per_million_completion_tokens = 0;
  std::uint64_t budget_tokens = 0; // prompt + completion tokens over the run; 0: no limit
  double budget_usd = 10.0;        // a cap against surprises on a paid API; needs the prices above to bite
  // Two rationales per question in round 1 give most questions a *different* positive for the triplet loss.
  std::uint32_t chain_of_thought_samples = 2;
  std::uint32_t tailored_feedback_samples = 1;
  // The teacher is the expensive part, so questions outnumber what it is asked about: round 1 asks for
  // rationales of this many training questions (0: all of them), and each later round sends at most this
  // many mistakes (0: every one).
  std::uint32_t initial_questions = 0;
  std::uint32_t requests_per_round = 0;
  feedback_order mistake_order = feedback_order::misses_first;
  sampling_params sampling;
  // Which teacher of `teachers` (below, in run_config) answers which requests; empty: this section's own
  // endpoint. The fallback takes a request that the first one failed (after all its tries) or has no budget
  // left for; empty: none.
  std::string chain_of_thought_teacher;
  std::string feedback_teacher;
  std::string fallback_teacher;
  // Work that can wait (round 1's chains of thought; in round mode the corrections and the ablation's
  // questions) goes through the endpoint's Batch API (/v1/files, /v1/batches) at about half the price: sent
  // once this long after its first request, polled this often. openai_compatible only.
  bool batch = false;
  std::uint32_t batch_flush_ms = 2000;
  std::uint32_t batch_poll_ms = 30000;

  friend bool operator==(const teacher_config&, const teacher_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, teacher_config& x) {
  return f(caf::meta::type_name("teacher_config"), x.kind, x.base_url, x.model, x.api_key_env, x.concurrency,
           x.request_timeout_ms, x.max_retries, x.failed_request_retry_ms, x.max_failed_share,
           x.failure_window, x.usd_per_million_prompt_tokens,
           x.usd_per_million_completion_tokens, x.budget_tokens, x.budget_usd, x.chain_of_thought_samples,
           x.tailored_feedback_samples, x.initial_questions, x.requests_per_round, x.mistake_order,
           x.sampling, x.chain_of_thought_teacher, x.feedback_teacher, x.fallback_teacher, x.batch,
           x.batch_flush_ms, x.batch_poll_ms);
}

// A teacher besides `teacher`, under its name in the config's `teachers` object: its own endpoint, model,
// prices and budget (only those keys: config_keys::endpoint_fields). The loop's knobs stay in `teacher`.
struct named_teacher {
  std::string name;
  teacher_config endpoint;

  friend bool operator==(const named_teacher&, const named_teacher&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, named_teacher& x) {
  return f(caf::meta::type_name("named_teacher"), x.name, x.endpoint);
}

// The exam (sampling on training questions) and the evaluation (greedy on test questions).
struct exam_config {
  std::uint32_t samples = 4; // rationales per training question
  double temperature = 1.0;
  std::uint32_t top_k = 50;
  std::uint32_t max_new_tokens = 128;
  std::uint32_t eval_max_new_tokens = 0; // 0: the task's default (gsm8k 256, svamp 192, csqa 96, ...)
  std::uint32_t batch_size = 32;         // prompts decoded together
  std::uint32_t questions = 0;           // training questions an exam pass samples (0: all), drawn anew each pass
  std::uint32_t eval_questions = 0;      // test questions evaluated after each round (0: all)

  friend bool operator==(const exam_config&, const exam_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exam_config& x) {
  return f(caf::meta::type_name("exam_config"), x.samples, x.temperature, x.top_k, x.max_new_tokens,
           x.eval_max_new_tokens, x.batch_size, x.questions, x.eval_questions);
}

// Total loss = L_lm + lambda * L_cl (METHOD.md).
struct loss_config {
  double prefix_weight = 0.1; // weight of prefix tokens in L_lm; target tokens weigh 1
  double lambda = 0.5;
  double margin = 1.0;
  std::uint32_t rationale_max_tokens = 192; // triplet rationales are truncated to this

  friend bool operator==(const loss_config&, const loss_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, loss_config& x) {
  return f(caf::meta::type_name("loss_config"), x.prefix_weight, x.lambda, x.margin, x.rationale_max_tokens);
}

// Pools per question from which the reflection builder draws positives and negatives.
struct reflection_config {
  std::uint32_t max_positives = 10;
  std::uint32_t max_negatives = 4;
  // Fresh corrections (answers to this round's needs) fill up to this share of each batch until each has
  // been trained on once: oversampled against the thousands of older items (EMBEDDED-DEFAULT.md).
  double fresh_share = 0.5;
  // Round 1's pass over the teacher's first rationales spread over the round's steps, with draws from the
  // questions it has served in between: the trainer learns while the teacher writes (io/loop/first_pass.hpp).
  bool spread_first_pass = false;

  friend bool operator==(const reflection_config&, const reflection_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reflection_config& x) {
  return f(caf::meta::type_name("reflection_config"), x.max_positives, x.max_negatives,
           x.fresh_share, x.spread_first_pass);
}

enum class lr_schedule : std::uint8_t { constant, cosine };

template <>
struct enum_names<lr_schedule> {
  static constexpr std::array<std::string_view, 2> values = {"constant", "cosine"};
};

// AdamW. The reference's lr 7e-6 with a constant schedule suits a pretrained 6B model; a tiny student from
// scratch needs a far higher rate and decay.
struct optimizer_config {
  double learning_rate = 1e-3;
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  std::uint32_t warmup_steps = 100;
  lr_schedule schedule = lr_schedule::cosine;
  double min_lr_ratio = 0.1; // cosine decays to learning_rate * min_lr_ratio
  double grad_clip = 1.0;    // max global gradient norm; 0: no clipping
  std::uint32_t grad_accumulation = 1;
  std::uint32_t batch_size =
      16; // items per optimizer step (all accumulation micro-batches), distinct questions
  // Rounds after the first restart the schedule at this rate (0: learning_rate): a tiny student trained
  // from scratch forgets when re-warmed to its first rate.
  double later_rounds_learning_rate = 0;
  // Recompute each decoder layer's activations in the backward pass instead of keeping them: the same
  // losses and gradients for less peak memory and about a third more compute per step.
  bool activation_checkpointing = false;

  friend bool operator==(const optimizer_config&, const optimizer_config&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, optimizer_config& x) {
  return f(caf::meta::type_name("optimizer_config"), x.learning_rate, x.weight_decay, x.beta1, x.beta2, x.eps,
           x.warmup_steps, x.schedule, x.min_lr_ratio, x.grad_clip, x.grad_accumulation, x.batch_size,
           x.later_rounds_learning_rate, x.activation_checkpointing);
}

// tailored: the method (feedback on the student's mistakes, self-reflection loss). random: the ablation that
// spends the same teacher requests on random training questions with plain distillation (no feedback, no
// triplet loss), to show what the method adds.
enum class teacher_strategy : std::uint8_t { tailored, random };

template <>
struct enum_names<teacher_strategy> {
  static constexpr std::array<std::string_view, 2> values = {"tailored", "random"};
};

// round: the paper's barriers between exam, feedback and training; continuous: all of them as a pipeline.
enum class loop_mode : std::uint8_t { round, continuous };

template <>
struct enum_names<loop_mode> {
  static constexpr std::array<std::string_view, 2> values = {"round", "continuous"};
};

struct run_config {
  data_config data;
  prompt_config prompts;
  student_config student;
  teacher_config teacher;
  std::vector<named_teacher> teachers; // more teachers, by name (JSON: an object), in name order
  exam_config exam;
  loss_config loss;
  reflection_config reflection;
  optimizer_config optimizer;
  // Training rounds: round 1 trains on the teacher's chain-of-thought rationales, each later one follows an
  // exam and tailored feedback on its mistakes.
  std::uint32_t rounds = 3;
  std::uint32_t epochs_per_round = 10;        // passes over the positives per round (reference: 10)
  std::uint32_t steps_per_round = 0;          // optimizer steps per round instead of epochs (0: use epochs)
  std::uint32_t first_round_steps = 0;        // round 1's optimizer steps (0: as every other round)
  std::uint32_t checkpoint_every_steps = 200; // continuous mode: how often the exam can get new weights
  loop_mode mode = loop_mode::round;
  teacher_strategy strategy = teacher_strategy::tailored;
  // Continuous mode: how many checkpoints the exam's weights may lag behind the trainer's before the exam
  // pauses (training on mistakes of much older weights teaches the wrong lesson).
  std::uint32_t max_staleness = 1;
  // Continuous mode: the next round's exam starts this many checkpoints before a round ends, so that the exam
  // and the teacher overlap the round's last steps (at most max_staleness; 0: when the round ends, on its
  // last weights). Its mistakes and corrections wait for the next round's training.
  std::uint32_t exam_lead_checkpoints = 0;
  // Continuous mode: a round after the first starts training once its exam is graded and the teacher has
  // answered what it asked (corrections of mistakes; the ablation's random questions), as in round mode, so
  // that the round trains on them from its first step. false: it starts at once, on what the pools hold, and
  // its teacher data joins as it comes; the trainer stays busy while the exam and the teacher work, but the
  // round's first steps (at its re-warmed learning rate) go over old data, which cost the embedded default
  // about 6 points after round 3 (README).
  bool wait_for_corrections = true;
  std::uint64_t seed = 42;
  std::string device = "auto"; // "cpu", "cuda", "cuda:N" or "auto" (a GPU when there is one)
  bool bf16 = true;            // bf16 autocast on a GPU, training and exams (ignored on the CPU)
  std::uint32_t threads = 0;   // LibTorch intra-op threads (0: its default)
  // Data-parallel trainer ranks on this machine (`tailor run --nproc`): each optimizer step's batch is split
  // over them and their gradients all-reduced over c10d. 1: the trainer alone.
  std::uint32_t nproc = 1;
  std::string output_dir;      // the run directory; empty: <data-dir>/runs/<run-id>

  friend bool operator==(const run_config&, const run_config&) = default;
};

// The endpoint that answers requests of `kind`: the one of `teachers` the route names, else `teacher`'s own.
inline const teacher_config& routed_teacher(const run_config& c, teacher_request_kind kind) {
  const auto& name =
      kind == teacher_request_kind::tailored_feedback ? c.teacher.feedback_teacher : c.teacher.chain_of_thought_teacher;
  for (const auto& named : c.teachers)
    if (named.name == name)
      return named.endpoint;
  return c.teacher;
}

// The optimizer steps the config fixes for `round`: first_round_steps for round 1 when set, else
// steps_per_round. 0 when they are not fixed (the loop then counts epochs over its positives).
inline std::uint64_t fixed_steps_of_round(const run_config& c, std::uint32_t round) {
  return round == 1 && c.first_round_steps > 0 ? c.first_round_steps : c.steps_per_round;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_config& x) {
  return f(caf::meta::type_name("run_config"), x.data, x.prompts, x.student, x.teacher, x.teachers, x.exam, x.loss,
           x.reflection, x.optimizer, x.rounds, x.epochs_per_round, x.steps_per_round, x.first_round_steps,
           x.checkpoint_every_steps, x.mode, x.strategy, x.max_staleness, x.exam_lead_checkpoints,
           x.wait_for_corrections, x.seed, x.device, x.bf16, x.threads, x.nproc, x.output_dir);
}

} // namespace tailor

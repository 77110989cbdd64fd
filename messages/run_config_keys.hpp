// The run config's keys: each section names its keys once, as (key, field) pairs handed to a visitor, which
// serves the JSON reader and writer (io/config) and the prompt overrides (io/teacher). A key is its field's
// name.
#pragma once

#include "messages/run_config.hpp"

#include <concepts>
#include <string>
#include <type_traits>
#include <vector>

namespace tailor::config_keys {

template <class Visit>
void fields(Visit& v, data_config& x) {
  v("task", x.task);
  v("train_file", x.train_file);
  v("test_file", x.test_file);
  v("generated_train_size", x.generated_train_size);
  v("generated_test_size", x.generated_test_size);
  v("arith_min_operations", x.arith_min_operations);
  v("arith_max_operations", x.arith_max_operations);
  v("arith_max_operand", x.arith_max_operand);
  v("arith_max_factor", x.arith_max_factor);
}

template <class Visit>
void fields(Visit& v, prompt_config& x) {
  v("demos", x.demos);
  v("cot_system", x.cot_system);
  v("cot_user", x.cot_user);
  v("feedback_system", x.feedback_system);
  v("feedback_user", x.feedback_user);
}

template <class Visit>
void fields(Visit& v, lora_config& x) {
  v("rank", x.rank);
  v("alpha", x.alpha);
  v("dropout", x.dropout);
  v("targets", x.targets);
}

template <class Visit>
void fields(Visit& v, student_config& x) {
  v("checkpoint_dir", x.checkpoint_dir);
  v("tokenizer_path", x.tokenizer_path);
  v("dim", x.dim);
  v("layers", x.layers);
  v("heads", x.heads);
  v("kv_heads", x.kv_heads);
  v("vocab_size", x.vocab_size);
  v("max_seq_len", x.max_seq_len);
  v("lora", x.lora);
}

template <class Visit>
void fields(Visit& v, sampling_params& x) {
  v("temperature", x.temperature);
  v("top_p", x.top_p);
  v("max_tokens", x.max_tokens);
}

// The keys of one teacher endpoint: where it is, how it is asked, what it costs and may cost.
template <class Visit>
void endpoint_fields(Visit& v, teacher_config& x) {
  v("kind", x.kind);
  v("base_url", x.base_url);
  v("model", x.model);
  v("api_key_env", x.api_key_env);
  v("concurrency", x.concurrency);
  v("request_timeout_ms", x.request_timeout_ms);
  v("max_retries", x.max_retries);
  v("usd_per_million_prompt_tokens", x.usd_per_million_prompt_tokens);
  v("usd_per_million_completion_tokens", x.usd_per_million_completion_tokens);
  v("budget_tokens", x.budget_tokens);
  v("budget_usd", x.budget_usd);
  v("batch", x.batch);
  v("batch_flush_ms", x.batch_flush_ms);
  v("batch_poll_ms", x.batch_poll_ms);
}

template <class Visit>
void fields(Visit& v, named_teacher& x) {
  endpoint_fields(v, x.endpoint);
}

template <class Visit>
void fields(Visit& v, teacher_config& x) {
  endpoint_fields(v, x);
  v("failed_request_retry_ms", x.failed_request_retry_ms);
  v("max_failed_share", x.max_failed_share);
  v("failure_window", x.failure_window);
  v("chain_of_thought_samples", x.chain_of_thought_samples);
  v("tailored_feedback_samples", x.tailored_feedback_samples);
  v("initial_questions", x.initial_questions);
  v("requests_per_round", x.requests_per_round);
  v("mistake_order", x.mistake_order);
  v("sampling", x.sampling);
  v("chain_of_thought_teacher", x.chain_of_thought_teacher);
  v("feedback_teacher", x.feedback_teacher);
  v("fallback_teacher", x.fallback_teacher);
}

template <class Visit>
void fields(Visit& v, exam_config& x) {
  v("samples", x.samples);
  v("temperature", x.temperature);
  v("top_k", x.top_k);
  v("max_new_tokens", x.max_new_tokens);
  v("eval_max_new_tokens", x.eval_max_new_tokens);
  v("batch_size", x.batch_size);
  v("questions", x.questions);
  v("eval_questions", x.eval_questions);
}

template <class Visit>
void fields(Visit& v, loss_config& x) {
  v("prefix_weight", x.prefix_weight);
  v("lambda", x.lambda);
  v("margin", x.margin);
  v("rationale_max_tokens", x.rationale_max_tokens);
}

template <class Visit>
void fields(Visit& v, reflection_config& x) {
  v("max_positives", x.max_positives);
  v("max_negatives", x.max_negatives);
  v("fresh_share", x.fresh_share);
  v("spread_first_pass", x.spread_first_pass);
}

template <class Visit>
void fields(Visit& v, optimizer_config& x) {
  v("learning_rate", x.learning_rate);
  v("weight_decay", x.weight_decay);
  v("beta1", x.beta1);
  v("beta2", x.beta2);
  v("eps", x.eps);
  v("warmup_steps", x.warmup_steps);
  v("schedule", x.schedule);
  v("min_lr_ratio", x.min_lr_ratio);
  v("grad_clip", x.grad_clip);
  v("grad_accumulation", x.grad_accumulation);
  v("batch_size", x.batch_size);
  v("later_rounds_learning_rate", x.later_rounds_learning_rate);
  v("activation_checkpointing", x.activation_checkpointing);
}

template <class Visit>
void fields(Visit& v, run_config& x) {
  v("data", x.data);
  v("prompts", x.prompts);
  v("student", x.student);
  v("teacher", x.teacher);
  v("teachers", x.teachers);
  v("exam", x.exam);
  v("loss", x.loss);
  v("reflection", x.reflection);
  v("optimizer", x.optimizer);
  v("rounds", x.rounds);
  v("epochs_per_round", x.epochs_per_round);
  v("steps_per_round", x.steps_per_round);
  v("first_round_steps", x.first_round_steps);
  v("checkpoint_every_steps", x.checkpoint_every_steps);
  v("mode", x.mode);
  v("strategy", x.strategy);
  v("max_staleness", x.max_staleness);
  v("exam_lead_checkpoints", x.exam_lead_checkpoints);
  v("wait_for_corrections", x.wait_for_corrections);
  v("seed", x.seed);
  v("device", x.device);
  v("bf16", x.bf16);
  v("threads", x.threads);
  v("nproc", x.nproc);
  v("output_dir", x.output_dir);
}

// Sections by name (`teachers`): a JSON object whose keys are the names and whose values are sections.
template <class T>
concept named_sections = std::same_as<T, std::vector<named_teacher>>;

// Every other struct field is a section (an object of keys) except the strings.
template <class T>
concept config_section = std::is_class_v<T> && !std::same_as<T, std::string> &&
                         !std::same_as<T, std::vector<std::string>> && !named_sections<T>;

} // namespace tailor::config_keys

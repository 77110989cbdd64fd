// A run config with every field away from its default: the config and message tests' shared sample, so that
// a new field is set (and so checked) in one place.
#pragma once

#include "messages/run_config.hpp"

#include <string>

namespace tailor::test {

// File paths are under `files_dir` (gsm8k/train.jsonl, gsm8k/test.jsonl, ckpt/, spm.model, runs/r1); the
// caller makes the files where a test reads them.
inline run_config every_field_set(const std::string& files_dir) {
  run_config c;
  c.data = {task_kind::gsm8k, files_dir + "/gsm8k/train.jsonl", files_dir + "/gsm8k/test.jsonl", 5000, 800, 2, 6, 50,
            12};
  c.prompts = {"Question: 1+1?\nReasoning: 1+1=2.\nAnswer: 2\n\n", "You solve problems.", "{demos}\nQ: {question}",
               "You correct students.", "Q: {question}\nStudent: {student_reasoning}\nGold: {gold_answer}"};
  c.student = {files_dir + "/ckpt", files_dir + "/spm.model", 512, 8, 16, 2, 32000, 2048,
               {8, 32, 0.05, {"q_proj", "v_proj", "down_proj"}}};
  c.teacher = {teacher_kind::openai_compatible,
               "http://127.0.0.1:9000/v1",
               "gpt-4.1-mini",
               "TAILOR_TEACHER_KEY",
               32,
               30000,
               2,
               1500,
               0.35,
               80,
               0.4,
               1.6,
               5'000'000'000ULL,
               2.5,
               4,
               3,
               300,
               40,
               feedback_order::as_graded,
               {0.3, 0.9, 256},
               "cheap",
               "strong",
               "strong",
               true,
               500,
               250};
  // Only their endpoint keys are read and written; the rest keep their defaults.
  teacher_config cheap;
  cheap.kind = teacher_kind::openai_compatible;
  cheap.base_url = "http://127.0.0.1:9001/v1";
  cheap.model = "small-model";
  cheap.api_key_env = "TAILOR_CHEAP_KEY";
  cheap.concurrency = 4;
  cheap.request_timeout_ms = 1234;
  cheap.max_retries = 7;
  cheap.usd_per_million_prompt_tokens = 0.1;
  cheap.usd_per_million_completion_tokens = 0.2;
  cheap.budget_tokens = 1'000'000;
  cheap.budget_usd = 1.5;
  cheap.batch = true;
  cheap.batch_flush_ms = 100;
  cheap.batch_poll_ms = 50;
  teacher_config strong = cheap;
  strong.model = "large-model";
  strong.budget_usd = 3;
  c.teachers = {{"cheap", cheap}, {"strong", strong}};
  c.exam = {8, 0.8, 40, 256, 192, 64, 500, 100};
  c.loss = {0.2, 0.25, 0.5, 128};
  c.reflection = {6, 2, 0.25, true};
  c.optimizer = {7e-6, 0.1, 0.85, 0.95, 1e-6, 10, lr_schedule::constant, 0.05, 0.5, 4, 32, 1e-4, true};
  c.rounds = 5;
  c.epochs_per_round = 2;
  c.steps_per_round = 300;
  c.first_round_steps = 120;
  c.checkpoint_every_steps = 50;
  c.mode = loop_mode::continuous;
  c.strategy = teacher_strategy::random;
  c.max_staleness = 2;
  c.exam_lead_checkpoints = 2;
  c.wait_for_corrections = false;
  c.seed = 18'000'000'000'000'000'000ULL;
  c.device = "cuda:1";
  c.bf16 = false;
  c.threads = 4;
  c.nproc = 2;
  c.output_dir = files_dir + "/runs/r1";
  return c;
}

} // namespace tailor::test

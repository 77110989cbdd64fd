// The student answering questions: sampled answers to training questions (the exam) or greedy answers to
// test questions (the evaluation), graded with METHOD.md's answer extraction.
#pragma once

#include "gpu/llama_model.hpp"
#include "gpu/tokenizer.hpp"
#include "io/common/result.hpp"
#include "messages/example.hpp"
#include "messages/grading.hpp"
#include "messages/run_config.hpp"

#include <functional>
#include <span>
#include <vector>

namespace tailor::gpu {

struct exam_options {
  bool greedy = false;
  int samples = 4; // answers per question (1 when greedy)
  double temperature = 1.0;
  int top_k = 50;
  int max_new_tokens = 128;
  int batch_size = 32; // prompts decoded together
  std::uint64_t seed = 0;
  std::string demos; // empty: the task's defaults
  bool bf16 = true;  // bf16 autocast when the model is on a GPU; the CPU always decodes in fp32
};

// METHOD.md's "Evaluation": how long a greedy answer may run, per task (arith as the math tasks' short end).
int default_max_new_tokens(task_kind task);

// The exam of a run (sampling, the config's exam settings) and its evaluation (greedy, one answer).
exam_options exam_options_from(const run_config& config, bool greedy, std::uint64_t seed);

// Answers each question `samples` times (in question order, samples together) and grades every answer.
// `reasoning.text` is what the student wrote before its answer line. `progress(done, total)` is called after
// each batch of prompts; returning false stops early with the answers so far.
result<std::vector<graded_answer>> sit_exam(llama_for_causal_lm& model, const tokenizer& tokens,
                                            std::span<const example> questions, const exam_options& options,
                                            std::uint64_t weights_version,
                                            const std::function<bool(std::size_t, std::size_t)>& progress = {});

// The fraction of distinct questions (by id) whose first answer is correct: with greedy answers, accuracy.
double accuracy_of(std::span<const graded_answer> answers);

// The reasoning of a generated answer: the text before its "\nAnswer" line, trimmed.
std::string reasoning_of(std::string_view generated);

} // namespace tailor::gpu

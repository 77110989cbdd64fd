// The student sitting the exam and the evaluation: prompts, continuous decoding, grading each answer.
#include "gpu/student_exam.hpp"

#include "gpu/autocast.hpp"
#include "gpu/continuous_sampler.hpp"
#include "gpu/generation.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/data/prompts.hpp"
#include "io/common/text.hpp"

#include <algorithm>
#include <unordered_set>

namespace tailor::gpu {

int default_max_new_tokens(task_kind task) {
  switch (task) {
  case task_kind::gsm8k:
    return 256;
  case task_kind::svamp:
  case task_kind::multiarith:
    return 192;
  case task_kind::csqa:
    return 96;
  case task_kind::strategyqa:
  case task_kind::arith:
    return 128;
  }
  return 128;
}

exam_options exam_options_from(const run_config& config, bool greedy, std::uint64_t seed) {
  exam_options options;
  options.greedy = greedy;
  options.samples = greedy ? 1 : static_cast<int>(std::max<std::uint32_t>(1, config.exam.samples));
  options.temperature = config.exam.temperature;
  options.top_k = static_cast<int>(config.exam.top_k);
  options.max_new_tokens = greedy ? (config.exam.eval_max_new_tokens > 0
                                         ? static_cast<int>(config.exam.eval_max_new_tokens)
                                         : default_max_new_tokens(config.data.task))
                                  : static_cast<int>(config.exam.max_new_tokens);
  options.batch_size = static_cast<int>(std::max<std::uint32_t>(1, config.exam.batch_size));
  options.seed = seed;
  options.demos = config.prompts.demos;
  options.bf16 = config.bf16;
  return options;
}

std::string reasoning_of(std::string_view generated) {
  const auto text = generated.substr(0, blank_line_start(generated));
  const auto answer_line = text.find("\nAnswer");
  return std::string{text::trim(text.substr(0, answer_line))};
}

result<std::vector<graded_answer>> sit_exam(llama_for_causal_lm& model, const tokenizer& tokens,
                                            std::span<const example> questions, const exam_options& options,
                                            std::uint64_t weights_version,
                                            const std::function<bool(std::size_t, std::size_t)>& progress) {
  generation_options generation;
  generation.sampling.greedy = options.greedy;
  generation.sampling.temperature = options.temperature;
  generation.sampling.top_k = options.top_k;
  generation.max_new_tokens = options.max_new_tokens;
  generation.samples_per_prompt = options.greedy ? 1 : options.samples;
  // Sample s of question q draws from the stream of (seed + q, s): the same answers whatever the batch size,
  // and the same as one call over all questions when a caller passes a part with the seed moved by its start.
  generation.seed = options.seed;

  std::vector<std::vector<int>> prompts;
  prompts.reserve(questions.size());
  for (const auto& item : questions)
    prompts.push_back(tokens.encode(student_prefix(item.task, item.question, options.demos), /*add_bos=*/true));
  continuous_options continuous;
  // As many rows as a batch of prompts and their samples, as the static batches had.
  continuous.slots = std::max(1, options.batch_size) * generation.samples_per_prompt;
  continuous.order = longest_first(prompts);

  std::vector<std::vector<graded_answer>> by_question(questions.size());
  const auto batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  std::size_t done = 0;
  // Each question is graded as soon as its samples are done; progress is told after each batch of them.
  continuous.on_prompt_done = [&](std::size_t q, const prompt_completions& answers) {
    const auto& item = questions[q];
    for (const auto& answer : answers) {
      graded_answer graded;
      graded.example_id = item.id;
      graded.reasoning = {.text = reasoning_of(answer.text),
                          .source = rationale_source::student,
                          .tokens = static_cast<std::uint32_t>(answer.token_count)};
      graded.extracted_answer = extract_answer(answer.text, item.task);
      graded.correct = answer_matches(graded.extracted_answer, item.answer);
      graded.weights_version = weights_version;
      by_question[q].push_back(std::move(graded));
    }
    ++done;
    const bool report = done % batch == 0 || done == questions.size();
    return !(progress && report && !progress(done, questions.size()));
  };
  const bool on_gpu = !model->parameters().empty() && model->parameters().front().device().is_cuda();
  cuda_autocast_scope autocast(options.bf16 && on_gpu); // and so a bf16 KV cache: the slots take its dtype
  auto out = generate_continuous(model, tokens, prompts, generation, continuous);
  if (!out)
    return out.error();
  std::vector<graded_answer> answers;
  for (auto& list : by_question)
    for (auto& answer : list)
      answers.push_back(std::move(answer));
  return answers;
}

double accuracy_of(std::span<const graded_answer> answers) {
  std::unordered_set<std::string> seen;
  std::size_t correct = 0;
  for (const auto& answer : answers)
    if (seen.insert(answer.example_id).second && answer.correct)
      ++correct;
  return seen.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(seen.size());
}

} // namespace tailor::gpu

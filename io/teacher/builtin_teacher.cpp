// The built-in arith teacher as a teacher_backend: built from problems, it answers chat requests with
// worded rationales and feedback.
#include "io/teacher/builtin_teacher.hpp"

#include "io/common/jsonl.hpp"
#include "io/common/text.hpp"
#include "io/teacher/builtin_teacher_parts.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace tailor {
namespace {

constexpr std::string_view builtin_model = "tailor-builtin";
constexpr int most_samples = 128; // OpenAI's own limit on n

using builtin_detail::number;

std::int64_t rough_tokens(std::string_view text) {
  return static_cast<std::int64_t>((text.size() + 3) / 4);
}

} // namespace

builtin_teacher::builtin_teacher(std::vector<arith_problem> problems, prompt_templates templates)
    : problems_(std::move(problems)), templates_(std::move(templates)) {
  for (std::size_t i = 0; i < problems_.size(); ++i)
    by_question_.emplace(std::string(text::trim(problems_[i].question)), i);
}

result<std::unique_ptr<builtin_teacher>> builtin_teacher::create(std::vector<arith_problem> problems,
                                                                 prompt_templates templates) {
  // The teacher reads its requests through the templates, so they must hold what it reads back.
  if (auto checked = load_prompt_templates(to_json(templates)); !checked)
    return problem{"built-in teacher: " + checked.error().message};
  if (problems.empty())
    return problem{"built-in teacher: no arith problems to answer from"};
  std::vector<arith_problem> kept;
  std::unordered_map<std::string, std::size_t> seen;
  for (auto& candidate : problems) {
    if (candidate.steps.empty())
      return problem{"built-in teacher: problem " + candidate.id + " has no solution steps"};
    const auto [at, fresh] = seen.emplace(std::string(text::trim(candidate.question)), kept.size());
    if (fresh)
      kept.push_back(std::move(candidate));
    else if (kept[at->second].steps != candidate.steps)
      return problem{"built-in teacher: problems " + kept[at->second].id + " and " + candidate.id +
                     " ask the same question with different solutions: \"" + at->first + "\""};
  }
  return std::unique_ptr<builtin_teacher>(new builtin_teacher(std::move(kept), std::move(templates)));
}

result<std::unique_ptr<builtin_teacher>>
builtin_teacher::load(const std::vector<std::filesystem::path>& files, prompt_templates templates) {
  std::vector<arith_problem> problems;
  for (const auto& file : files) {
    std::optional<problem> first_bad;
    const status read = for_each_jsonl_record(file, [&](result<jsonl_record> record) {
      if (first_bad)
        return;
      if (!record) {
        first_bad = record.error();
        return;
      }
      auto parsed = parse_arith_record(record->object);
      if (!parsed)
        first_bad =
            problem{file.string() + ":" + std::to_string(record->line) + ": " + parsed.error().message};
      else
        problems.push_back(std::move(*parsed));
    });
    if (!read)
      return problem{"built-in teacher: " + read.error().message};
    if (first_bad)
      return problem{"built-in teacher: " + first_bad->message};
  }
  return create(std::move(problems), std::move(templates));
}

const arith_problem* builtin_teacher::find_problem(std::string_view question) const {
  const auto found = by_question_.find(std::string(text::trim(question)));
  return found == by_question_.end() ? nullptr : &problems_[found->second];
}

const arith_problem* builtin_teacher::find_problem_in(std::string_view text) const {
  const arith_problem* best = nullptr;
  for (const auto& candidate : problems_) {
    const auto question = text::trim(candidate.question);
    if (!question.empty() && (best == nullptr || question.size() > best->question.size()) &&
        text.find(question) != std::string_view::npos)
      best = &candidate;
  }
  return best;
}

// Every refusal is about the request (status 400 behind teacher-serve), not the teacher.
result<chat_response> builtin_teacher::answer(const chat_request& request) const {
  if (request.n < 1 || request.n > most_samples)
    return problem{"built-in teacher: n must be in [1, " + std::to_string(most_samples) + "], not " +
                       std::to_string(request.n),
                   problem_cause::rejected};
  const auto user = std::find_if(request.messages.rbegin(), request.messages.rend(),
                                 [](const chat_message& m) { return m.role == "user"; });
  if (user == request.messages.rend())
    return problem{"built-in teacher: the request has no user message", problem_cause::rejected};
  // tailor's own requests (the run's templates) first: they say which question, and the student's reasoning
  // a feedback is about. Any other client's message is answered as a chain of thought when it holds a known
  // question anywhere.
  const auto feedback = match_template(templates_.feedback_user, user->content);
  const auto cot = feedback ? std::nullopt : match_template(templates_.cot_user, user->content);
  const arith_problem* solved = nullptr;
  if (feedback || cot) {
    const auto& question = (feedback ? *feedback : *cot).at("question");
    solved = find_problem(question);
    if (solved == nullptr)
      solved = find_problem_in(question);
    if (solved == nullptr)
      return problem{"built-in teacher: none of its " + std::to_string(problems_.size()) +
                         " arith problems asks \"" + question.substr(0, 160) +
                         "\" (build it from the dataset the run trains on)",
                     problem_cause::rejected};
  } else if (solved = find_problem_in(user->content); solved == nullptr) {
    return problem{"built-in teacher: the user message holds none of its " + std::to_string(problems_.size()) +
                       " arith problems' questions, and matches neither the chain-of-thought nor the feedback "
                       "prompt it was built with (send a question from the dataset it serves)",
                   problem_cause::rejected};
  }

  chat_response response;
  response.model = request.model.empty() ? std::string(builtin_model) : request.model;
  const auto answer_line = "\nAnswer: " + number(solved->answer);
  for (int sample = 0; sample < request.n; ++sample) {
    std::string reply;
    if (feedback) {
      const auto found = diagnose_reasoning(*solved, feedback->at("student_reasoning"), sample);
      reply = "Feedback: " + found.feedback + "\nReasoning: " + found.corrected_reasoning + answer_line;
    } else {
      reply = "Reasoning: " + worded_rationale(*solved, sample) + answer_line;
    }
    for (const auto& stop : request.stop)
      if (const auto at = stop.empty() ? std::string::npos : reply.find(stop); at != std::string::npos)
        reply.resize(at);
    if (request.max_tokens > 0 && rough_tokens(reply) > request.max_tokens)
      reply.resize(static_cast<std::size_t>(request.max_tokens) * 4);
    response.usage.completion_tokens += rough_tokens(reply);
    response.choices.push_back(std::move(reply));
  }
  for (const auto& message : request.messages)
    response.usage.prompt_tokens += rough_tokens(message.content);
  return response;
}

void builtin_teacher::complete(chat_request request, callback done) {
  std::optional<result<chat_response>> answered;
  try {
    answered.emplace(answer(request));
  } catch (const std::exception& error) {
    answered.emplace(problem{std::string("built-in teacher: ") + error.what()});
  }
  done(std::move(*answered));
}

} // namespace tailor

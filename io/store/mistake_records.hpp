// A run's mistakes and the teacher's corrections, per round: <run>/mistakes/round_N.jsonl, one line per
// mistaken exam question that went to the teacher; and each exam's per-question outcome,
// <run>/exams/round_N.jsonl, from which the reader tells whether a mistake was fixed in the next exam.
#pragma once

#include "io/common/result.hpp"
#include "messages/grading.hpp"
#include "messages/teacher.hpp"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tailor {

struct mistake_record {
  std::string example_id;
  std::string task; // "gsm8k", "arith", ...
  std::string question;
  std::string gold_answer;
  std::string wrong_rationale; // the student's
  std::string wrong_answer;    // what the answer extraction found in it; empty when none
  // False in the ablation: it asked the teacher about a random question where the method would have asked
  // about this mistake, so there is no feedback to show, only the mistake.
  bool teacher_asked = true;
  std::string feedback;            // the reply's "Feedback:" section; empty when it had none
  std::string corrected_rationale; // the first answer-correct rationale of the reply; empty when none
  std::string teacher_error;       // why the request failed, when it did
  std::uint64_t teacher_tokens = 0;

  friend bool operator==(const mistake_record&, const mistake_record&) = default;
};

// A tailored-feedback request and the teacher's answer to it.
mistake_record mistake_of(const teacher_request& request, const teacher_reply& reply);
// A mistake the ablation did not send (it asked about a random question in its place).
mistake_record unasked_mistake_of(const example& problem, const graded_answer& answer);

nlohmann::json to_json(const mistake_record& record);

// <run_dir>/mistakes/round_<round>.jsonl
std::filesystem::path mistake_file(const std::filesystem::path& run_dir, std::uint32_t round);

// Appends one line (fsynced), creating the directory: the teacher's answers arrive one by one.
status append_mistake(const std::filesystem::path& run_dir, std::uint32_t round, const mistake_record& record);
// Drops a round's records: a round done again after a resume writes them anew.
status clear_mistakes(const std::filesystem::path& run_dir, std::uint32_t round);
// The records of one file, in order. A missing file has none; a torn last line (a crash while appending) is
// dropped; any other bad line is an error naming the file and the line.
result<std::vector<mistake_record>> read_mistakes(const std::filesystem::path& file);

// How one training question fared in one exam: `answers` sampled answers, `right` of them right.
struct exam_outcome {
  std::string example_id;
  std::uint32_t answers = 0;
  std::uint32_t right = 0;

  friend bool operator==(const exam_outcome&, const exam_outcome&) = default;
};

// <run_dir>/exams/round_<round>.jsonl
std::filesystem::path exam_outcome_file(const std::filesystem::path& run_dir, std::uint32_t round);
// Replaced atomically once the exam pass is over (a resumed run writes it again).
status write_exam_outcomes(const std::filesystem::path& run_dir, std::uint32_t round,
                           std::span<const exam_outcome> outcomes);
// A missing file is an exam not (yet) over: nullopt. A bad line names the file and the line.
result<std::optional<std::vector<exam_outcome>>> read_exam_outcomes(const std::filesystem::path& file);

} // namespace tailor

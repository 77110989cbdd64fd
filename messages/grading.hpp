// What the exam produces: each sampled answer graded against gold, and the wrong ones as mistakes.
#pragma once

#include "messages/rationale.hpp"

#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <string>

namespace tailor {

// One sampled answer of the student to one question, graded.
struct graded_answer {
  std::string example_id;
  rationale reasoning;               // what the student wrote (source: student)
  std::string extracted_answer;      // by METHOD.md's answer extraction; empty when none was found
  bool correct = false;              // extracted_answer equals gold as lowercase strings
  std::uint64_t weights_version = 0; // the snapshot that answered, to measure staleness

  friend bool operator==(const graded_answer&, const graded_answer&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, graded_answer& x) {
  return f(caf::meta::type_name("graded_answer"), x.example_id, x.reasoning, x.extracted_answer, x.correct,
           x.weights_version);
}

// A wrong answer, self-contained so that the teacher can be asked about it without the dataset at hand.
struct mistake {
  std::string example_id;
  std::string question;
  std::string gold_answer;
  rationale wrong_rationale;    // the student's own reasoning (source: student); it also becomes a negative
  std::string extracted_answer; // the student's wrong final answer
  std::uint64_t weights_version = 0;

  friend bool operator==(const mistake&, const mistake&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mistake& x) {
  return f(caf::meta::type_name("mistake"), x.example_id, x.question, x.gold_answer, x.wrong_rationale,
           x.extracted_answer, x.weights_version);
}

} // namespace tailor

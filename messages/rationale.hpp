// A rationale: one written chain of reasoning, by the teacher or by the student.
#pragma once

#include "messages/enum_names.hpp"

#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <string>

namespace tailor {

// Who wrote it, which decides the pool it joins: teacher rationales are positives, the student's wrong ones
// negatives. `teacher_tailored` answers a student's mistake (tailored feedback), `teacher` a plain question.
enum class rationale_source : std::uint8_t { teacher, teacher_tailored, student };

template <>
struct enum_names<rationale_source> {
  static constexpr std::array<std::string_view, 3> values = {"teacher", "teacher_tailored", "student"};
};

struct rationale {
  std::string text; // the reasoning alone, without the "Answer: …" line
  rationale_source source = rationale_source::teacher;
  std::uint32_t tokens = 0; // length under the student's tokenizer; 0 until someone has counted it

  friend bool operator==(const rationale&, const rationale&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rationale& x) {
  return f(caf::meta::type_name("rationale"), x.text, x.source, x.tokens);
}

} // namespace tailor

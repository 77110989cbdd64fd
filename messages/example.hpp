// One question of a dataset with its gold answer: the unit of work every actor of the loop refers to.
#pragma once

#include "messages/enum_names.hpp"

#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tailor {

// The tasks of METHOD.md; `arith` is tailor's generated embedded default.
enum class task_kind : std::uint8_t { gsm8k, svamp, multiarith, strategyqa, csqa, arith };

template <>
struct enum_names<task_kind> {
  static constexpr std::array<std::string_view, 6> values = {"gsm8k",      "svamp", "multiarith",
                                                             "strategyqa", "csqa",  "arith"};
};

std::string_view to_string(task_kind task);
std::optional<task_kind> parse_task_kind(std::string_view name);
// "gsm8k, svamp, multiarith, strategyqa, csqa, arith": for error messages and --help.
std::string_view task_kind_names();

struct example {
  std::string id;             // unique within its dataset ("train.jsonl:17", "arith-1-42")
  task_kind task = task_kind::gsm8k;
  std::string question;       // the full question text the student sees (CSQA: with its answer choices)
  std::string answer;         // gold final answer, compared as a lowercase string ("18", "yes", "b")
  std::string gold_rationale; // the dataset's own rationale when it has one, else empty

  friend bool operator==(const example&, const example&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, example& x) {
  return f(caf::meta::type_name("example"), x.id, x.task, x.question, x.answer, x.gold_rationale);
}

} // namespace tailor

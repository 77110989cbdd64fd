// Joining a run's mistake records with its later exams (io/store/mistake_review.hpp).
#include "io/store/mistake_review.hpp"

#include "io/store/evaluation_records.hpp"
#include "io/store/mistake_records.hpp"

#include <map>
#include <unordered_map>

namespace tailor {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Each exam's outcomes by question, read once: nullopt for an exam that is not over (no file yet).
class exam_history {
public:
  explicit exam_history(fs::path run_dir) : run_dir_(std::move(run_dir)) {}

  result<const std::optional<std::unordered_map<std::string, exam_outcome>>*> exam(std::uint32_t round) {
    if (auto found = exams_.find(round); found != exams_.end())
      return &found->second;
    auto read = read_exam_outcomes(exam_outcome_file(run_dir_, round));
    if (!read)
      return read.error();
    std::optional<std::unordered_map<std::string, exam_outcome>> by_id;
    if (*read) {
      by_id.emplace();
      for (auto& outcome : **read)
        by_id->emplace(outcome.example_id, outcome);
    }
    return &exams_.emplace(round, std::move(by_id)).first->second;
  }

private:
  fs::path run_dir_;
  std::map<std::uint32_t, std::optional<std::unordered_map<std::string, exam_outcome>>> exams_;
};

// Fills "fixed", "fixed_in_round" and "next_exam" of a round-`round` mistake of `id`.
status judge(exam_history& exams, std::uint32_t round, const std::string& id, json& out) {
  out["fixed"] = nullptr;
  out["fixed_in_round"] = nullptr;
  out["next_exam"] = nullptr;
  // Exams are over in round order; the first missing one ends what is known.
  for (std::uint32_t later = round + 1;; ++later) {
    auto exam = exams.exam(later);
    if (!exam)
      return exam.error();
    if (!**exam)
      return ok_status();
    const auto found = (**exam)->find(id);
    if (found == (**exam)->end() || found->second.answers == 0)
      continue;
    out["fixed"] = found->second.right == found->second.answers;
    out["fixed_in_round"] = later;
    out["next_exam"] = {{"answers", found->second.answers}, {"right", found->second.right}};
    return ok_status();
  }
}

} // namespace

result<json> review_mistakes(const fs::path& run_dir, std::optional<std::uint32_t> round) {
  const auto rounds = round_files_in(run_dir / "mistakes");
  json out = {{"rounds", rounds}, {"mistakes", json::array()}};
  exam_history exams{run_dir};
  for (const auto number : rounds) {
    if (round && *round != number)
      continue;
    auto records = read_mistakes(mistake_file(run_dir, number));
    if (!records)
      return records.error();
    for (const auto& record : *records) {
      json line = to_json(record);
      line["round"] = number;
      if (auto judged = judge(exams, number, record.example_id, line); !judged)
        return judged.error();
      out["mistakes"].push_back(std::move(line));
    }
  }
  return out;
}

} // namespace tailor

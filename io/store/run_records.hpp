// What a run writes to its directory: one record per round in journal.jsonl (durable, for resume) and the
// same in results.json (for people and tools), plus each training step in metrics.jsonl.
#pragma once

#include "io/common/result.hpp"
#include "messages/training.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace tailor {

// What one of the run's teachers was asked and cost in a round.
struct teacher_spend {
  std::uint64_t requests = 0; // answered by it (a request it failed and the fallback answered counts there)
  std::uint64_t failed = 0;
  std::uint64_t tokens = 0;
  double cost_usd = 0;
};

struct round_record {
  std::uint32_t round = 0;
  double accuracy = 0;               // held-out, a fraction
  std::uint64_t exam_questions = 0;  // questions the exams of the round asked
  std::uint64_t wrong_answers = 0;   // sampled answers that were wrong
  std::uint64_t mistakes = 0;        // distinct wrong rationales
  std::uint64_t teacher_requests = 0;
  std::uint64_t teacher_rationales = 0; // answer-correct rationales the replies brought
  // Replies (choices) the teacher wrote and how many of them were answer-correct: "teacher replies kept: 91%".
  std::uint64_t teacher_replies = 0;
  std::uint64_t teacher_replies_kept = 0;
  // Requests that failed after all their tries, also when asked again (teacher_requests counts them too).
  std::uint64_t teacher_failed = 0;
  std::map<std::string, teacher_spend> teachers; // by teacher name ("teacher", or one of the config's `teachers`)
  std::uint64_t teacher_tokens = 0;
  double teacher_cost_usd = 0;
  double loss = 0;         // mean total loss over the round's last steps
  double triplet_loss = 0; // the same for L_cl
  std::uint64_t steps = 0;  // optimizer steps of the round
  double wall_seconds = 0;  // from the run's start (or resume) to the round's evaluation
  std::uint64_t weights_version = 0;
  std::string checkpoint; // the round's checkpoint directory
};

nlohmann::json to_json(const round_record& record);
result<round_record> round_record_from_json(const nlohmann::json& json);

// Appends one line and fsyncs it: a record in the journal is a round that survives a crash.
status append_journal(const std::filesystem::path& journal, const round_record& record);
// The records of a journal, in order. A torn last line (a crash while appending) is ignored; any other bad
// line is an error naming it. A missing journal is an empty one.
result<std::vector<round_record>> read_journal(const std::filesystem::path& journal);

// results.json: {"run_id", "mode", "strategy", "finished", "rounds": [...]}, written atomically.
status write_results(const std::filesystem::path& file, const std::string& run_id, const std::string& mode,
                     const std::string& strategy, bool finished, const std::vector<round_record>& rounds);

// The results table a person reads at the end of a run.
std::string results_table(const std::vector<round_record>& rounds);

// metrics.jsonl: one JSON line per optimizer step, flushed but not synced (lost steps only cost a plot).
class metrics_log {
public:
  // Opens for appending after dropping the lines past `last_kept_step` and any torn line: a resumed run trains
  // again the steps a crash cut off, and each step must be logged once.
  metrics_log(const std::filesystem::path& file, std::uint64_t last_kept_step);
  void append(const training_metrics& metrics, double elapsed_seconds);

private:
  std::ofstream out_;
};

} // namespace tailor

#include "io/store/run_records.hpp"

#include "io/common/atomic_file.hpp"
#include "io/common/jsonl.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>
#include <sstream>

namespace tailor {

namespace {

nlohmann::json spend_json(const std::map<std::string, teacher_spend>& teachers) {
  auto out = nlohmann::json::object();
  for (const auto& [name, s] : teachers)
    out[name] = {{"requests", s.requests}, {"failed", s.failed}, {"tokens", s.tokens}, {"cost_usd", s.cost_usd}};
  return out;
}

std::map<std::string, teacher_spend> spend_from_json(const nlohmann::json& j) {
  std::map<std::string, teacher_spend> teachers;
  for (const auto& [name, s] : j.items())
    teachers[name] = {s.value("requests", std::uint64_t{0}), s.value("failed", std::uint64_t{0}),
                      s.value("tokens", std::uint64_t{0}), s.value("cost_usd", 0.0)};
  return teachers;
}

} // namespace

nlohmann::json to_json(const round_record& r) {
  return {{"round", r.round},
          {"accuracy", r.accuracy},
          {"exam_questions", r.exam_questions},
          {"wrong_answers", r.wrong_answers},
          {"mistakes", r.mistakes},
          {"teacher_requests", r.teacher_requests},
          {"teacher_rationales", r.teacher_rationales},
          {"teacher_replies", r.teacher_replies},
          {"teacher_replies_kept", r.teacher_replies_kept},
          {"teacher_failed", r.teacher_failed},
          {"teachers", spend_json(r.teachers)},
          {"teacher_tokens", r.teacher_tokens},
          {"teacher_cost_usd", r.teacher_cost_usd},
          {"loss", r.loss},
          {"triplet_loss", r.triplet_loss},
          {"steps", r.steps},
          {"wall_seconds", r.wall_seconds},
          {"weights_version", r.weights_version},
          {"checkpoint", r.checkpoint}};
}

result<round_record> round_record_from_json(const nlohmann::json& j) {
  try {
    round_record r;
    r.round = j.at("round").get<std::uint32_t>();
    r.accuracy = j.at("accuracy").get<double>();
    r.exam_questions = j.value("exam_questions", std::uint64_t{0});
    r.wrong_answers = j.value("wrong_answers", std::uint64_t{0});
    r.mistakes = j.value("mistakes", std::uint64_t{0});
    r.teacher_requests = j.value("teacher_requests", std::uint64_t{0});
    r.teacher_rationales = j.value("teacher_rationales", std::uint64_t{0});
    r.teacher_replies = j.value("teacher_replies", std::uint64_t{0});
    r.teacher_replies_kept = j.value("teacher_replies_kept", std::uint64_t{0});
    r.teacher_failed = j.value("teacher_failed", std::uint64_t{0});
    r.teachers = spend_from_json(j.value("teachers", nlohmann::json::object()));
    r.teacher_tokens = j.value("teacher_tokens", std::uint64_t{0});
    r.teacher_cost_usd = j.value("teacher_cost_usd", 0.0);
    r.loss = j.value("loss", 0.0);
    r.triplet_loss = j.value("triplet_loss", 0.0);
    r.steps = j.value("steps", std::uint64_t{0});
    r.wall_seconds = j.value("wall_seconds", 0.0);
    r.weights_version = j.value("weights_version", std::uint64_t{0});
    r.checkpoint = j.at("checkpoint").get<std::string>();
    return r;
  } catch (const nlohmann::json::exception& error) {
    return problem{std::string{"round record: "} + error.what()};
  }
}

status append_journal(const std::filesystem::path& journal, const round_record& record) {
  return append_line_durably(journal, to_json(record).dump() + "\n");
}

result<std::vector<round_record>> read_journal(const std::filesystem::path& journal) {
  return read_append_log_as<round_record>(journal, [](const nlohmann::json& line) { return round_record_from_json(line); });
}

status write_results(const std::filesystem::path& file, const std::string& run_id, const std::string& mode,
                     const std::string& strategy, bool finished, const std::vector<round_record>& rounds) {
  auto list = nlohmann::json::array();
  for (const auto& r : rounds)
    list.push_back(to_json(r));
  const nlohmann::json results{{"run_id", run_id},   {"mode", mode},           {"strategy", strategy},
                               {"finished", finished}, {"rounds", std::move(list)}};
  return write_file_atomically(file, results.dump(2) + "\n");
}

std::string results_table(const std::vector<round_record>& rounds) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%5s %9s %9s %9s %9s %7s %6s %11s %8s %7s %8s\n", "round", "accuracy",
                "exam q", "mistakes", "requests", "failed", "kept", "tok (teach)", "loss", "steps", "wall s");
  out << line;
  for (const auto& r : rounds) {
    // The share of the teacher's replies that were answer-correct; "-" when it wrote none.
    char kept[16] = "-";
    if (r.teacher_replies > 0)
      std::snprintf(kept, sizeof kept, "%.0f%%",
                    100.0 * static_cast<double>(r.teacher_replies_kept) / static_cast<double>(r.teacher_replies));
    std::snprintf(line, sizeof line, "%5u %8.1f%% %9llu %9llu %9llu %7llu %6s %11llu %8.3f %7llu %8.0f\n",
                  r.round, 100.0 * r.accuracy, static_cast<unsigned long long>(r.exam_questions),
                  static_cast<unsigned long long>(r.mistakes), static_cast<unsigned long long>(r.teacher_requests),
                  static_cast<unsigned long long>(r.teacher_failed), kept,
                  static_cast<unsigned long long>(r.teacher_tokens), r.loss,
                  static_cast<unsigned long long>(r.steps), r.wall_seconds);
    out << line;
  }
  // Spend per teacher, when the run has more than its one.
  std::map<std::string, teacher_spend> total;
  for (const auto& r : rounds)
    for (const auto& [name, s] : r.teachers) {
      auto& t = total[name];
      t.requests += s.requests;
      t.failed += s.failed;
      t.tokens += s.tokens;
      t.cost_usd += s.cost_usd;
    }
  if (total.size() > 1 || (total.size() == 1 && total.begin()->first != "teacher"))
    for (const auto& [name, t] : total) {
      std::snprintf(line, sizeof line, "teacher %s: %llu requests, %llu failed, %llu tokens, $%.4f\n", name.c_str(),
                    static_cast<unsigned long long>(t.requests), static_cast<unsigned long long>(t.failed),
                    static_cast<unsigned long long>(t.tokens), t.cost_usd);
      out << line;
    }
  return out.str();
}

namespace {

// The lines of a metrics file up to `last_kept_step`, or nothing when there is no such file.
std::optional<std::string> metrics_through(const std::filesystem::path& file, std::uint64_t last_kept_step) {
  std::ifstream in(file);
  if (!in)
    return std::nullopt;
  std::string kept, line;
  bool dropped = false;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool keep = json.is_object() && json.contains("step") && json["step"].is_number_unsigned() &&
                      json["step"].get<std::uint64_t>() <= last_kept_step;
    if (keep)
      kept += line + '\n';
    dropped |= !keep;
  }
  return dropped ? std::optional{kept} : std::nullopt;
}

} // namespace

metrics_log::metrics_log(const std::filesystem::path& file, std::uint64_t last_kept_step) {
  if (auto kept = metrics_through(file, last_kept_step))
    (void)write_file_atomically(file, *kept); // if this fails the extra lines only cost a plot
  out_.open(file, std::ios::app);
}

void metrics_log::append(const training_metrics& m, double elapsed_seconds) {
  if (!out_)
    return;
  out_ << nlohmann::json{{"step", m.step},
                         {"round", m.round},
                         {"lm_loss", m.lm_loss},
                         {"triplet_loss", m.triplet_loss},
                         {"total_loss", m.total_loss},
                         {"learning_rate", m.learning_rate},
                         {"tokens", m.tokens},
                         {"triplet_examples", m.triplet_examples},
                         {"seconds", elapsed_seconds}}
              .dump()
       << '\n';
  out_.flush();
}

} // namespace tailor

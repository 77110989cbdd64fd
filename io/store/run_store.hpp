// The daemon's runs on disk: <data-dir>/runs/<id>/{submitted.json, state.json, ...the run's own files}.
// Every state file is replaced atomically, so a crash at any moment leaves the old or the new one, whole.
#pragma once

#include "io/common/atomic_file.hpp"
#include "io/common/result.hpp"
#include "messages/progress.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tailor {

// 1 to 64 characters of [A-Za-z0-9._-], starting with a letter or digit: one path component that cannot
// climb out of runs/ ("..", "/", "\", NUL) nor hide (".x").
bool is_valid_run_id(std::string_view id);
// Why an id is refused, for a 400 a user can act on.
std::string run_id_rules();

// "20250314-093012-7f3a": sortable by submission time, random enough for several runs per second.
std::string make_run_id();

// What the daemon knows of a run beyond the run's own files.
struct run_record {
  std::string id;
  run_phase phase = run_phase::queued; // last phase reported (or queued before the first event)
  bool cancel_requested = false;       // a cancel survives a crash: such a run is not resumed
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::uint32_t resumed = 0; // times the daemon restarted it after finding it unfinished
  std::string base_dir;      // what relative paths in its config are relative to
  // What the submitter said the run is part of, kept for it: `tailor compare --server` sets compare, arm and
  // seed, by which the daemon groups a compare's runs (GET /v1/compares).
  std::map<std::string, std::string> labels;
  std::optional<progress_event> last_event;
};

nlohmann::json to_json(const run_record& record);
result<run_record> run_record_from_json(const nlohmann::json& value);

class run_store {
public:
  // Creates <data_dir>/runs when missing; a data dir that cannot be created or written is a problem.
  static result<run_store> open(const std::filesystem::path& data_dir);

  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path run_dir(const std::string& id) const;

  // Creates the run's directory with its submitted config and first state; a problem when the id is
  // taken (checked atomically by creating the directory).
  status create(const run_record& record, const nlohmann::json& submitted_config);
  bool exists(const std::string& id) const;
  status save(const run_record& record);

  result<run_record> load(const std::string& id) const;
  result<nlohmann::json> load_config(const std::string& id) const;
  // The run's results.json, when it wrote one that parses.
  std::optional<nlohmann::json> load_results(const std::string& id) const;
  // Ids of the run directories, sorted; directories whose names are not valid ids are skipped.
  std::vector<std::string> list_ids() const;

private:
  explicit run_store(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
  std::filesystem::path data_dir_;
};

} // namespace tailor

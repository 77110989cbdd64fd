// Run directories and their atomically replaced state files (io/store/run_store.hpp).
#include "io/store/run_store.hpp"

#include "io/store/progress_json.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace tailor {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool is_valid_run_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front()))
    return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string run_id_rules() {
  return "a run id is 1 to 64 characters of letters, digits, `.`, `_` and `-`, starting with a letter or "
         "digit";
}

std::string make_run_id() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  static thread_local std::mt19937_64 random(std::random_device{}());
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random() & 0xffff));
  return std::string(stamp) + "-" + suffix;
}

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return problem{"cannot read " + path.string()};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

result<json> read_json(const fs::path& path) {
  auto text = read_text(path);
  if (!text)
    return text.error();
  json value = json::parse(text.value(), nullptr, false);
  if (value.is_discarded())
    return problem{path.string() + " is not valid JSON"};
  return value;
}

} // namespace

json to_json(const run_record& r) {
  json value = {{"id", r.id},
                {"phase", to_string(r.phase)},
                {"cancel_requested", r.cancel_requested},
                {"created_ms", r.created_ms},
                {"updated_ms", r.updated_ms},
                {"resumed", r.resumed},
                {"base_dir", r.base_dir},
                {"labels", r.labels}};
  value["last_event"] = r.last_event ? to_json(*r.last_event) : json(nullptr);
  return value;
}

result<run_record> run_record_from_json(const json& value) {
  if (!value.is_object())
    return problem{"a run state must be a JSON object"};
  try {
    run_record r;
    r.id = value.at("id").get<std::string>();
    const auto phase = parse_enum<run_phase>(value.at("phase").get<std::string>());
    if (!phase)
      return problem{"unknown phase in run state"};
    r.phase = *phase;
    r.cancel_requested = value.value("cancel_requested", false);
    r.created_ms = value.value("created_ms", std::int64_t{0});
    r.updated_ms = value.value("updated_ms", std::int64_t{0});
    r.resumed = value.value("resumed", std::uint32_t{0});
    r.base_dir = value.value("base_dir", std::string{});
    r.labels = value.value("labels", std::map<std::string, std::string>{});
    if (const auto last = value.find("last_event"); last != value.end() && !last->is_null()) {
      auto event = progress_event_from_json(*last);
      if (!event)
        return event.error();
      r.last_event = std::move(event.value());
    }
    return r;
  } catch (const json::exception& error) {
    return problem{std::string("a run state is malformed: ") + error.what()};
  }
}

result<run_store> run_store::open(const fs::path& data_dir) {
  std::error_code ec;
  const fs::path runs = data_dir / "runs";
  fs::create_directories(runs, ec);
  if (ec)
    return problem{"cannot create the data directory " + runs.string() + ": " + ec.message()};
  if (::access(runs.c_str(), W_OK | X_OK) != 0)
    return problem{"the data directory " + runs.string() + " is not writable: " + errno_text()};
  return run_store(fs::absolute(data_dir, ec));
}

fs::path run_store::run_dir(const std::string& id) const {
  return data_dir_ / "runs" / id;
}

status run_store::create(const run_record& record, const json& submitted_config) {
  if (!is_valid_run_id(record.id))
    return problem{run_id_rules()};
  std::error_code ec;
  const fs::path dir = run_dir(record.id);
  if (!fs::create_directory(dir, ec))
    return problem{ec ? "cannot create " + dir.string() + ": " + ec.message()
                      : "a run with id `" + record.id + "` already exists"};
  [[maybe_unused]] const status synced = sync_directory(dir.parent_path());
  // The config first: a directory with a config and no state is a submitted run that never started.
  if (auto written = write_file_atomically(dir / "submitted.json", submitted_config.dump(2)); !written)
    return written;
  return save(record);
}

bool run_store::exists(const std::string& id) const {
  std::error_code ec;
  return is_valid_run_id(id) && fs::is_directory(run_dir(id), ec);
}

status run_store::save(const run_record& record) {
  return write_file_atomically(run_dir(record.id) / "state.json", dump_json(to_json(record)));
}

result<run_record> run_store::load(const std::string& id) const {
  auto value = read_json(run_dir(id) / "state.json");
  if (!value)
    return value.error();
  auto record = run_record_from_json(value.value());
  if (record && record->id != id)
    return problem{"the state of run `" + id + "` names another run"};
  return record;
}

result<json> run_store::load_config(const std::string& id) const {
  return read_json(run_dir(id) / "submitted.json");
}

std::optional<json> run_store::load_results(const std::string& id) const {
  auto value = read_json(run_dir(id) / "results.json");
  if (!value)
    return std::nullopt;
  return std::move(value.value());
}

std::vector<std::string> run_store::list_ids() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(data_dir_ / "runs", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_valid_run_id(name) && it->is_directory(ec))
      ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

} // namespace tailor

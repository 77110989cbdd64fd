// Reading, compacting and appending to the batch journal. Lines:
//   {"batch": <id>, "input_file": <id>, "requests": [{"custom_id": ..., "key": ...}, ...]}
//   {"done": <batch id>, "custom_ids": [...]}
#include "io/teacher/batch_journal.hpp"

#include "io/common/atomic_file.hpp"
#include "io/common/jsonl.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace tailor {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string batch_line(const journaled_batch& batch) {
  json requests = json::array();
  for (const auto& request : batch.requests)
    requests.push_back({{"custom_id", request.custom_id}, {"key", request.key}});
  const json line = {{"batch", batch.batch_id}, {"input_file", batch.input_file_id}, {"requests", requests}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool is_string_at(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

// A batch record, or why the line is not one.
result<journaled_batch> parse_batch(const json& object) {
  journaled_batch batch;
  batch.batch_id = object.at("batch").get<std::string>();
  if (!is_string_at(object, "input_file"))
    return problem{"batch record without `input_file`"};
  batch.input_file_id = object.at("input_file").get<std::string>();
  auto requests = object.find("requests");
  if (requests == object.end() || !requests->is_array())
    return problem{"batch record without a `requests` array"};
  for (const json& request : *requests) {
    if (!request.is_object() || !is_string_at(request, "custom_id") || !is_string_at(request, "key"))
      return problem{"a request of the batch record lacks `custom_id` or `key`"};
    batch.requests.push_back(
        {request.at("custom_id").get<std::string>(), request.at("key").get<std::string>()});
  }
  return batch;
}

bool ends_with_newline(const fs::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() <= 0)
    return true;
  in.seekg(-1, std::ios::end);
  return in.get() == '\n';
}

} // namespace

result<batch_journal> batch_journal::open(const fs::path& file) {
  batch_journal journal;
  journal.file_ = file;
  std::error_code error;
  if (!fs::exists(file, error) || (fs::is_regular_file(file, error) && fs::file_size(file, error) == 0))
    return journal;

  std::vector<result<jsonl_record>> lines;
  const status read =
      for_each_jsonl_record(file, [&](result<jsonl_record> line) { lines.push_back(std::move(line)); });
  if (!read) {
    // Only blank lines: as good as empty.
    if (lines.empty() && read.error().message.find("empty file") != std::string::npos)
      return journal;
    return read.error();
  }
  const bool torn = !ends_with_newline(file);

  std::vector<journaled_batch> batches;
  std::unordered_map<std::string, std::size_t> index_of; // batch id -> place in `batches`
  std::unordered_map<std::string, std::unordered_set<std::string>> done;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i]) {
      if (i + 1 == lines.size() && torn) {
        spdlog::warn("{} (the last line, cut short; dropped)", lines[i].error().message);
        continue;
      }
      return lines[i].error();
    }
    const json& object = lines[i]->object;
    const std::string where = file.string() + ":" + std::to_string(lines[i]->line) + ": ";
    if (is_string_at(object, "batch")) {
      auto batch = parse_batch(object);
      if (!batch)
        return problem{where + batch.error().message};
      if (index_of.emplace(batch->batch_id, batches.size()).second)
        batches.push_back(std::move(batch).value());
    } else if (is_string_at(object, "done")) {
      auto ids = object.find("custom_ids");
      if (ids == object.end() || !ids->is_array())
        return problem{where + "done record without a `custom_ids` array"};
      auto& finished = done[object.at("done").get<std::string>()];
      for (const json& id : *ids)
        if (id.is_string())
          finished.insert(id.get<std::string>());
    } else {
      return problem{where + "not a journal record (expected a `batch` or `done` field)"};
    }
  }

  for (auto& batch : batches) {
    const auto finished = done.find(batch.batch_id);
    if (finished != done.end())
      std::erase_if(batch.requests, [&](const journaled_request& request) {
        return finished->second.contains(request.custom_id);
      });
    if (!batch.requests.empty())
      journal.unfinished_.push_back(std::move(batch));
  }
  if (torn || journal.unfinished_.size() != lines.size()) {
    std::string compacted;
    for (const auto& batch : journal.unfinished_)
      compacted += batch_line(batch);
    if (const status written = write_file_atomically(file, compacted); !written)
      return written.error();
  }
  return journal;
}

status batch_journal::record_batch(const journaled_batch& batch) {
  return append(batch_line(batch));
}

status batch_journal::record_done(const std::string& batch_id, const std::vector<std::string>& custom_ids) {
  if (custom_ids.empty())
    return ok_status();
  const json line = {{"done", batch_id}, {"custom_ids", custom_ids}};
  return append(line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

status batch_journal::append(const std::string& line) {
  if (file_.empty())
    return ok_status();
  const std::string name = file_.string();
  std::error_code ignored;
  const bool created = !fs::exists(file_, ignored);
  const int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return problem{name + ": cannot open the batch journal for writing: " + std::strerror(errno)};
  const char* bytes = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, bytes, left);
    if (written < 0 && errno == EINTR)
      continue;
    if (written < 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      return problem{name + ": cannot write to the batch journal: " + reason};
    }
    bytes += written;
    left -= static_cast<std::size_t>(written);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = synced ? std::string{} : std::strerror(errno);
  ::close(fd);
  if (!synced)
    return problem{name + ": fsync of the batch journal failed: " + reason};
  if (created) {
    const auto parent = file_.parent_path();
    return sync_directory(parent.empty() ? fs::path{"."} : parent);
  }
  return ok_status();
}

} // namespace tailor

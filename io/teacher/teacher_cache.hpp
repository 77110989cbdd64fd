// The teacher's answers on disk (SQLite), so that no answer is ever paid for twice, across runs and crashes.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace tailor {

// One sample of one request, with its share of what the request cost.
struct cached_answer {
  std::string model;
  std::string text;
  chat_usage usage;
  double cost_usd = 0;
};

struct cache_entry {
  std::string key;
  cached_answer answer;
};

// Hits to add to the totals kept in the file.
struct cache_hits {
  std::int64_t count = 0;
  chat_usage saved;
  double saved_usd = 0;
};

struct teacher_cache_stats {
  std::int64_t entries = 0;
  chat_usage stored; // summed over the entries
  double stored_usd = 0;
  std::int64_t hits = 0; // recorded over the file's lifetime, by every process that used it
  chat_usage saved;
  double saved_usd = 0;
};

// ~/.cache/tailor/teacher-cache.sqlite (or under $XDG_CACHE_HOME).
std::filesystem::path default_teacher_cache_path();

// SHA-256 (hex) of the model, the messages, the sampling parameters that change the answer (temperature,
// top_p, max_tokens, stop) and the sample's index. `n` is not part of it: sample 2 of a request for 4 is
// sample 2 of a request for 3.
std::string teacher_cache_key(const chat_request& request, std::string_view model, int sample_index);

// One SQLite connection in WAL mode with a busy timeout: several processes may share one file. Every
// write is one transaction, synced before it returns. Thread-safe (a mutex serialises the connection).
class teacher_cache {
public:
  // Creates the file (and its folder) when missing.
  static result<std::unique_ptr<teacher_cache>> open(const std::filesystem::path& file);
  ~teacher_cache();
  teacher_cache(const teacher_cache&) = delete;
  teacher_cache& operator=(const teacher_cache&) = delete;

  // One result per key, in order; nothing for a key not stored.
  result<std::vector<std::optional<cached_answer>>> lookup(std::span<const std::string> keys);
  // Stores the entries (a key already there keeps its first answer) and adds `hits` to the totals, in one
  // transaction.
  status store(std::span<const cache_entry> entries, const cache_hits& hits = {});
  result<teacher_cache_stats> stats();
  const std::filesystem::path& file() const { return file_; }

private:
  teacher_cache(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  status execute(const char* sql);
  std::string error_text(std::string_view what) const;

  std::mutex mutex_;
  sqlite3* db_;
  std::filesystem::path file_;
};

} // namespace tailor

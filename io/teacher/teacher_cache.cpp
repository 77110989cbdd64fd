// The teacher cache file: schema, keys, lookups, transactional stores and the hit totals.
#include "io/teacher/teacher_cache.hpp"

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <sqlite3.h>

namespace tailor {
namespace {

// Long enough to ride out another process's write transaction, short enough to report a stuck lock.
constexpr int busy_timeout_ms = 30'000;

// The hit totals live in one row, so that every process sharing the file adds to the same numbers.
constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS answers (
  key TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  text TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  created_unix INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hit_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  hits INTEGER NOT NULL,
  saved_prompt_tokens INTEGER NOT NULL,
  saved_completion_tokens INTEGER NOT NULL,
  saved_usd REAL NOT NULL
);
INSERT OR IGNORE INTO hit_totals VALUES (1, 0, 0, 0, 0);
)sql";

// A prepared statement that finalizes itself.
class statement {
public:
  statement(sqlite3* db, const char* sql) { code_ = sqlite3_prepare_v2(db, sql, -1, &handle_, nullptr); }
  ~statement() { sqlite3_finalize(handle_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  bool prepared() const { return code_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return handle_; }
  void bind(int index, std::string_view text) {
    sqlite3_bind_text(handle_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(handle_, index, value); }
  void bind(int index, double value) { sqlite3_bind_double(handle_, index, value); }
  int step() { return sqlite3_step(handle_); }
  void reset() {
    sqlite3_reset(handle_);
    sqlite3_clear_bindings(handle_);
  }
  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(handle_, column));
    return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(handle_, column)))
                : std::string{};
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(handle_, column); }
  double real(int column) const { return sqlite3_column_double(handle_, column); }

private:
  sqlite3_stmt* handle_ = nullptr;
  int code_ = SQLITE_OK;
};

std::string hex(const unsigned char* bytes, unsigned size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(size * 2);
  for (unsigned i = 0; i < size; ++i) {
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text;
}

} // namespace

std::filesystem::path default_teacher_cache_path() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "tailor" / "teacher-cache.sqlite";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : ".") / ".cache" / "tailor" / "teacher-cache.sqlite";
}

std::string teacher_cache_key(const chat_request& request, std::string_view model, int sample_index) {
  // nlohmann's objects keep keys sorted, so the text is canonical; "v" lets a future key format coexist.
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& message : request.messages)
    messages.push_back({message.role, message.content});
  const nlohmann::json key = {{"v", 1},
                              {"model", model},
                              {"messages", messages},
                              {"temperature", request.temperature},
                              {"top_p", request.top_p},
                              {"max_tokens", request.max_tokens},
                              {"stop", request.stop},
                              {"sample", sample_index}};
  const std::string text = key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  return hex(digest, size);
}

result<std::unique_ptr<teacher_cache>> teacher_cache::open(const std::filesystem::path& file) {
  const std::string where = "teacher cache " + file.string();
  std::error_code ignored;
  if (file.has_parent_path())
    std::filesystem::create_directories(file.parent_path(), ignored);
  sqlite3* db = nullptr;
  const int code = sqlite3_open_v2(file.c_str(), &db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (code != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    sqlite3_close(db);
    return problem{where + ": cannot open: " + message};
  }
  std::unique_ptr<teacher_cache> cache(new teacher_cache(db, file));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // WAL lets readers in other processes go on while one writes; FULL syncs each commit, which is what makes
  // "stored before used" hold across a power cut, not only a crash of the process.
  for (const char* setup : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", schema})
    if (auto done = cache->execute(setup); !done)
      return problem{where + ": " + done.error().message};
  return cache;
}

teacher_cache::~teacher_cache() {
  sqlite3_close(db_);
}

status teacher_cache::execute(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return problem{text};
  }
  return ok_status();
}

std::string teacher_cache::error_text(std::string_view what) const {
  return "teacher cache " + file_.string() + ": " + std::string{what} + ": " + sqlite3_errmsg(db_);
}

result<std::vector<std::optional<cached_answer>>> teacher_cache::lookup(std::span<const std::string> keys) {
  std::lock_guard lock(mutex_);
  statement query(
      db_, "SELECT model, text, prompt_tokens, completion_tokens, cost_usd FROM answers WHERE key = ?");
  if (!query.prepared())
    return problem{error_text("cannot read")};
  std::vector<std::optional<cached_answer>> found;
  found.reserve(keys.size());
  for (const auto& key : keys) {
    query.bind(1, key);
    const int code = query.step();
    if (code == SQLITE_ROW) {
      found.push_back(
          cached_answer{query.text(0), query.text(1), {query.integer(2), query.integer(3)}, query.real(4)});
    } else if (code == SQLITE_DONE) {
      found.emplace_back();
    } else {
      return problem{error_text("cannot read")};
    }
    query.reset();
  }
  return found;
}

status teacher_cache::store(std::span<const cache_entry> entries, const cache_hits& hits) {
  if (entries.empty() && hits.count == 0)
    return ok_status();
  std::lock_guard lock(mutex_);
  // IMMEDIATE takes the write lock up front, so a busy file waits in the busy handler instead of failing
  // when a read transaction tries to become a write one.
  if (auto begun = execute("BEGIN IMMEDIATE"); !begun)
    return problem{"teacher cache " + file_.string() + ": cannot write: " + begun.error().message};
  const auto rollback = [&](std::string_view what) {
    std::string message = error_text(what);
    execute("ROLLBACK");
    return problem{std::move(message)};
  };
  if (!entries.empty()) {
    statement insert(db_, "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!insert.prepared())
      return rollback("cannot write");
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    for (const auto& entry : entries) {
      insert.bind(1, entry.key);
      insert.bind(2, entry.answer.model);
      insert.bind(3, entry.answer.text);
      insert.bind(4, entry.answer.usage.prompt_tokens);
      insert.bind(5, entry.answer.usage.completion_tokens);
      insert.bind(6, entry.answer.cost_usd);
      insert.bind(7, now);
      if (insert.step() != SQLITE_DONE)
        return rollback("cannot store an answer");
      insert.reset();
    }
  }
  if (hits.count != 0) {
    statement update(db_,
                     "UPDATE hit_totals SET hits = hits + ?, saved_prompt_tokens = saved_prompt_tokens + ?, "
                     "saved_completion_tokens = saved_completion_tokens + ?, saved_usd = saved_usd + ? "
                     "WHERE id = 1");
    if (!update.prepared())
      return rollback("cannot count hits");
    update.bind(1, hits.count);
    update.bind(2, hits.saved.prompt_tokens);
    update.bind(3, hits.saved.completion_tokens);
    update.bind(4, hits.saved_usd);
    if (update.step() != SQLITE_DONE)
      return rollback("cannot count hits");
  }
  if (auto committed = execute("COMMIT"); !committed)
    return rollback("cannot commit");
  return ok_status();
}

result<teacher_cache_stats> teacher_cache::stats() {
  std::lock_guard lock(mutex_);
  teacher_cache_stats stats;
  statement entries(db_,
                    "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
                    "COALESCE(SUM(cost_usd), 0) FROM answers");
  if (!entries.prepared() || entries.step() != SQLITE_ROW)
    return problem{error_text("cannot read")};
  stats.entries = entries.integer(0);
  stats.stored = {entries.integer(1), entries.integer(2)};
  stats.stored_usd = entries.real(3);
  statement totals(db_,
                   "SELECT hits, saved_prompt_tokens, saved_completion_tokens, saved_usd FROM hit_totals");
  if (!totals.prepared() || totals.step() != SQLITE_ROW)
    return problem{error_text("cannot read")};
  stats.hits = totals.integer(0);
  stats.saved = {totals.integer(1), totals.integer(2)};
  stats.saved_usd = totals.real(3);
  return stats;
}

} // namespace tailor

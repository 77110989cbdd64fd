// Reads JSON Lines files: one JSON object per non-blank line, every problem worded "file:line: what".
#pragma once

#include "io/common/result.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tailor {

struct jsonl_record {
  std::size_t line = 0;  // 1-based line number in the file
  nlohmann::json object; // always a JSON object
};

// Calls `visit` once per non-blank line, in file order, with the parsed object or with that line's problem
// ("train.jsonl:3: invalid UTF-8 at byte 12", "...: invalid JSON: ...", "...: expected a JSON object, got
// array"), so that a caller can report every bad line and not only the first. Returns a file-level problem
// when the file cannot be opened or read, or holds no non-blank line. Never throws; an exception thrown by
// `visit` is reported as a file-level problem.
status for_each_jsonl_record(const std::filesystem::path& file,
                             const std::function<void(result<jsonl_record>)>& visit);

// An append-only log (a journal, a run's mistake records): its records in file order. A missing or empty file
// is an empty log; a bad last line is one a crash tore while appending and is dropped; any other bad line is
// the problem, named "file:line: what".
result<std::vector<jsonl_record>> read_append_log(const std::filesystem::path& file);

// The same, each record made a T by `convert` (jsonl_record's object -> result<T>); its problem gets the
// record's "file:line: ".
template <class T, class Convert>
result<std::vector<T>> read_append_log_as(const std::filesystem::path& file, Convert convert) {
  auto lines = read_append_log(file);
  if (!lines)
    return lines.error();
  std::vector<T> records;
  for (const auto& line : lines.value()) {
    result<T> record = convert(line.object);
    if (!record)
      return problem{file.string() + ":" + std::to_string(line.line) + ": " + record.error().message};
    records.push_back(std::move(record.value()));
  }
  return records;
}

// The position of the first byte that is not valid UTF-8 (overlong forms, surrogates and code points above
// U+10FFFF included), or `text.size()` when all of it is valid.
std::size_t first_invalid_utf8(std::string_view text);

} // namespace tailor

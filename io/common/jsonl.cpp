// JSON Lines reading, UTF-8 checked before parsing so that each bad line gets an actionable message.
#include "io/common/jsonl.hpp"

#include <fstream>
#include <string>

namespace tailor {
namespace {

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

// nlohmann's reason reads "[json.exception.parse_error.101] parse error at line 1, column 5: ..."; each line
// is parsed alone, so its id and "line 1" would only mislead next to our own file line number.
std::string parse_error_reason(const nlohmann::json::parse_error& error) {
  std::string reason = error.what();
  if (const auto end_of_id = reason.find("] ");
      reason.starts_with("[json.exception.") && end_of_id != std::string::npos)
    reason.erase(0, end_of_id + 2);
  if (const auto at = reason.find("at line 1, column "); at != std::string::npos)
    reason.replace(at, 18, "at column ");
  return reason;
}

result<jsonl_record> parse_line(const std::string& where, std::size_t line_number, std::string_view line) {
  if (const auto bad = first_invalid_utf8(line); bad != line.size())
    return problem{where + "invalid UTF-8 at byte " + std::to_string(bad + 1)};
  try {
    auto value = nlohmann::json::parse(line.begin(), line.end());
    if (!value.is_object())
      return problem{where + "expected a JSON object, got " + value.type_name()};
    return jsonl_record{line_number, std::move(value)};
  } catch (const nlohmann::json::parse_error& error) {
    return problem{where + "invalid JSON: " + parse_error_reason(error)};
  }
}

} // namespace

std::size_t first_invalid_utf8(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    char32_t code = 0;
    char32_t smallest = 0; // below it, the sequence is an overlong form of a shorter one
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, code = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code = lead & 0x0F, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code = lead & 0x07, smallest = 0x10000;
    } else {
      return i;
    }
    if (text.size() - i < length)
      return i;
    for (std::size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80)
        return i;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return i;
    i += length;
  }
  return text.size();
}

status for_each_jsonl_record(const std::filesystem::path& file,
                             const std::function<void(result<jsonl_record>)>& visit) {
  const std::string name = file.string();
  try {
    std::error_code error;
    if (!std::filesystem::exists(file, error))
      return problem{name + ": no such file"};
    if (std::filesystem::is_directory(file, error))
      return problem{name + ": is a directory, not a JSONL file"};
    std::ifstream in(file, std::ios::binary);
    if (!in)
      return problem{name + ": cannot be opened for reading"};

    std::string line;
    std::size_t line_number = 0;
    std::size_t records = 0;
    while (std::getline(in, line)) {
      ++line_number;
      // Files saved by some editors start with a byte order mark, which JSON does not allow.
      if (line_number == 1 && line.starts_with("\xEF\xBB\xBF"))
        line.erase(0, 3);
      if (is_blank(line))
        continue;
      ++records;
      visit(parse_line(name + ":" + std::to_string(line_number) + ": ", line_number, line));
    }
    if (in.bad())
      return problem{name + ":" + std::to_string(line_number + 1) + ": read error"};
    if (records == 0)
      return problem{name + ": empty file (no JSON line in it)"};
    return ok_status();
  } catch (const std::exception& error) {
    return problem{name + ": " + error.what()};
  }
}

result<std::vector<jsonl_record>> read_append_log(const std::filesystem::path& file) {
  std::vector<jsonl_record> records;
  std::error_code error;
  if (!std::filesystem::exists(file, error))
    return records;
  std::vector<result<jsonl_record>> lines;
  const auto read = for_each_jsonl_record(file, [&](result<jsonl_record> line) { lines.push_back(std::move(line)); });
  if (!read)
    return lines.empty() ? result<std::vector<jsonl_record>>{records} : read.error();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i]) {
      if (i + 1 == lines.size())
        break;
      return lines[i].error();
    }
    records.push_back(std::move(lines[i].value()));
  }
  return records;
}

} // namespace tailor

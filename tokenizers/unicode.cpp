// UTF-8 decoding with Rust's replacement rules, character classes, and Unicode normalization through
// utf8proc.
#include "tokenizers/unicode.hpp"

#include <cstdlib>
#include <utf8proc.h>

namespace tailor::tokenizers {
namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

bool continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// Length of the valid sequence at `at`, or 0 with `invalid` set to the length of the maximal subpart that is
// replaced by one U+FFFD (the Unicode recommendation Rust and Python follow).
std::size_t valid_sequence_at(std::string_view bytes, std::size_t at, std::size_t& invalid) {
  const auto byte = [&](std::size_t i) -> int {
    return at + i < bytes.size() ? static_cast<unsigned char>(bytes[at + i]) : -1;
  };
  const int first = byte(0);
  invalid = 1;
  if (first < 0x80)
    return 1;
  int width = 0, low = 0x80, high = 0xBF;
  if (first >= 0xC2 && first <= 0xDF)
    width = 2;
  else if (first >= 0xE0 && first <= 0xEF) {
    width = 3;
    low = first == 0xE0 ? 0xA0 : 0x80;
    high = first == 0xED ? 0x9F : 0xBF;
  } else if (first >= 0xF0 && first <= 0xF4) {
    width = 4;
    low = first == 0xF0 ? 0x90 : 0x80;
    high = first == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  const int second = byte(1);
  if (second < low || second > high)
    return 0;
  for (int i = 2; i < width; ++i) {
    const int next = byte(i);
    if (next < 0 || !continuation(static_cast<unsigned char>(next))) {
      invalid = static_cast<std::size_t>(i);
      return 0;
    }
  }
  return static_cast<std::size_t>(width);
}

} // namespace

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::size_t invalid = 0;
    if (auto valid = valid_sequence_at(bytes, at, invalid); valid > 0) {
      out.append(bytes.substr(at, valid));
      at += valid;
    } else {
      out.append(replacement_character);
      at += invalid;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view bytes) {
  for (std::size_t at = 0, invalid = 0; at < bytes.size();) {
    auto valid = valid_sequence_at(bytes, at, invalid);
    if (valid == 0)
      return false;
    at += valid;
  }
  return true;
}

std::size_t utf8_length(unsigned char first_byte) {
  return first_byte < 0x80 ? 1 : first_byte < 0xE0 ? 2 : first_byte < 0xF0 ? 3 : 4;
}

char32_t code_point_at(std::string_view text, std::size_t at, std::size_t& length) {
  const auto first = static_cast<unsigned char>(text[at]);
  length = utf8_length(first);
  if (length == 1)
    return first;
  char32_t c = first & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i)
    c = (c << 6) | (static_cast<unsigned char>(text[at + i]) & 0x3F);
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_numeric(char32_t c) {
  if (c < 0x80)
    return c >= '0' && c <= '9';
  auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_NL ||
         category == UTF8PROC_CATEGORY_NO;
}

bool is_word_character(char32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  if (c == 0x200C || c == 0x200D)
    return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_MN:
  case UTF8PROC_CATEGORY_MC:
  case UTF8PROC_CATEGORY_ME:
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_PC:
    return true;
  default:
    return false;
  }
}

std::string normalize_unicode(std::string_view text, normal_form form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
  case normal_form::nfc:
    options |= UTF8PROC_COMPOSE;
    break;
  case normal_form::nfd:
    options |= UTF8PROC_DECOMPOSE;
    break;
  case normal_form::nfkc:
    options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    break;
  case normal_form::nfkd:
    options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    break;
  }
  utf8proc_uint8_t* mapped = nullptr;
  auto length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                             static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                             static_cast<utf8proc_option_t>(options));
  if (length < 0)
    return std::string{text}; // only on invalid UTF-8, which callers have already replaced
  std::string out{reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(length)};
  std::free(mapped);
  return out;
}

} // namespace tailor::tokenizers

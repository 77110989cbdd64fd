// The GPT-2 byte map, built once: printable bytes keep their code point, the others take 256 + n in byte
// order.
#include "tokenizers/byte_level.hpp"

#include "tokenizers/unicode.hpp"

#include <array>

namespace tailor::tokenizers {
namespace {

struct byte_map {
  std::array<std::string, 256> text_of_byte; // UTF-8 of each byte's character
  std::array<int, 512> byte_of_code_point;   // the mapped code points are all below 0x144; -1 elsewhere

  byte_map() {
    byte_of_code_point.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      append_utf8(text_of_byte[b], c);
      byte_of_code_point[c] = b;
    }
  }
};

const byte_map& the_map() {
  static const byte_map map;
  return map;
}

} // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  const auto& map = the_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes)
    out.append(map.text_of_byte[b]);
  return out;
}

bool byte_level_to_bytes(std::string_view token, std::string& bytes) {
  const auto& map = the_map();
  const auto kept = bytes.size();
  for (std::size_t at = 0, length = 0; at < token.size(); at += length) {
    const char32_t c = code_point_at(token, at, length);
    const int b = c < map.byte_of_code_point.size() ? map.byte_of_code_point[c] : -1;
    if (b < 0) {
      bytes.resize(kept);
      return false;
    }
    bytes.push_back(static_cast<char>(b));
  }
  return true;
}

std::string decode_byte_level(const std::vector<std::string>& tokens) {
  std::string bytes;
  for (const auto& token : tokens)
    if (!byte_level_to_bytes(token, bytes))
      bytes.append(token);
  return utf8_lossy(bytes);
}

} // namespace tailor::tokenizers

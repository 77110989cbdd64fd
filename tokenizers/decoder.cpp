// The decoders of Hugging Face tokenizers that the supported families use, each HF's decode_chain.
#include "tokenizers/decoder.hpp"

#include "tokenizers/byte_level.hpp"
#include "tokenizers/unicode.hpp"

#include <charconv>

namespace tailor::tokenizers {
namespace {

class byte_level_decoder final : public decoder {
public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    auto text = decode_byte_level(tokens);
    tokens.assign(1, std::move(text));
  }
};

class sequence_decoder final : public decoder {
public:
  explicit sequence_decoder(std::vector<std::unique_ptr<decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_)
      step->decode_chain(tokens);
  }

private:
  std::vector<std::unique_ptr<decoder>> steps_;
};

class replace_decoder final : public decoder {
public:
  replace_decoder(text_pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens)
      token = pattern_.replace_all(token, content_);
  }

private:
  text_pattern pattern_;
  std::string content_;
};

// The byte of a `<0xXX>` token, or -1 (Rust's u8::from_str_radix on the two characters, which takes "+F"
// too).
int fallback_byte(const std::string& token) {
  if (token.size() != 6 || !token.starts_with("<0x") || token.back() != '>')
    return -1;
  const char* digits = token.data() + (token[3] == '+' ? 4 : 3);
  unsigned value = 0;
  auto [end, error] = std::from_chars(digits, token.data() + 5, value, 16);
  return error == std::errc{} && end == token.data() + 5 ? static_cast<int>(value) : -1;
}

// Runs of `<0xXX>` tokens become their bytes as text when those are valid UTF-8, else one U+FFFD per byte.
class byte_fallback_decoder final : public decoder {
public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    std::size_t byte_count = 0;
    const auto flush = [&] {
      if (byte_count == 0)
        return;
      if (is_valid_utf8(bytes))
        out.push_back(bytes);
      else
        out.insert(out.end(), byte_count, "\xEF\xBF\xBD");
      bytes.clear();
      byte_count = 0;
    };
    for (auto& token : tokens) {
      if (int byte = fallback_byte(token); byte >= 0) {
        bytes.push_back(static_cast<char>(byte));
        ++byte_count;
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }
};

class fuse_decoder final : public decoder {
public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const auto& token : tokens)
      joined += token;
    tokens.assign(1, std::move(joined));
  }
};

// Up to `start` leading and `stop` trailing copies of one character removed from each token.
class strip_decoder final : public decoder {
public:
  strip_decoder(char32_t content, std::size_t start, std::size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) {
      std::vector<std::pair<std::size_t, char32_t>> characters; // byte offset, code point
      for (std::size_t at = 0, length = 0; at < token.size(); at += length)
        characters.emplace_back(at, code_point_at(token, at, length));
      std::size_t start_cut = 0;
      for (std::size_t i = 0; i < std::min(start_, characters.size()) && characters[i].second == content_;
           ++i)
        start_cut = i + 1;
      std::size_t stop_cut = characters.size();
      for (std::size_t i = 0; i < std::min(stop_, characters.size() - start_cut); ++i) {
        const auto index = characters.size() - i - 1;
        if (characters[index].second != content_)
          break;
        stop_cut = index;
      }
      const auto byte_at = [&](std::size_t index) {
        return index < characters.size() ? characters[index].first : token.size();
      };
      token = token.substr(byte_at(start_cut), byte_at(stop_cut) - byte_at(start_cut));
    }
  }

private:
  char32_t content_;
  std::size_t start_, stop_;
};

// The replacement character back to spaces; in the first token it is dropped unless nothing was prepended.
class metaspace_decoder final : public decoder {
public:
  metaspace_decoder(char32_t replacement, bool prepends) : replacement_(replacement), prepends_(prepends) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const auto& token = tokens[i];
      for (std::size_t at = 0, length = 0; at < token.size(); at += length) {
        const char32_t c = code_point_at(token, at, length);
        if (c != replacement_)
          out.append(token, at, length);
        else if (i != 0 || !prepends_)
          out.push_back(' ');
      }
      tokens[i] = std::move(out);
    }
  }

private:
  char32_t replacement_;
  bool prepends_;
};

char32_t single_character(const json& spec, const char* key, const std::string& path) {
  const auto text = string_field(spec, key, path);
  std::size_t length = 0;
  if (text.empty() || !is_valid_utf8(text) || (code_point_at(text, 0, length), length != text.size()))
    refuse(child(path, key), "is not one character");
  return code_point_at(text, 0, length);
}

constexpr const char* supported_decoders =
    "ByteLevel, Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace";

} // namespace

std::unique_ptr<decoder> parse_decoder(const json& spec, const std::string& path) {
  if (spec.is_null())
    return nullptr;
  const auto type = type_field(spec, path);
  if (type == "ByteLevel")
    return std::make_unique<byte_level_decoder>();
  if (type == "Sequence")
    return std::make_unique<sequence_decoder>(parse_steps(spec, "decoders", path, parse_decoder));
  if (type == "Replace")
    return std::make_unique<replace_decoder>(pattern_field(spec, "pattern", path),
                                             string_field(spec, "content", path));
  if (type == "ByteFallback")
    return std::make_unique<byte_fallback_decoder>();
  if (type == "Fuse")
    return std::make_unique<fuse_decoder>();
  if (type == "Strip") {
    const auto start = integer_field(spec, "start", path, 0), stop = integer_field(spec, "stop", path, 0);
    if (start < 0 || stop < 0)
      refuse(path, "start and stop must not be negative");
    return std::make_unique<strip_decoder>(single_character(spec, "content", path),
                                           static_cast<std::size_t>(start), static_cast<std::size_t>(stop));
  }
  if (type == "Metaspace") {
    bool prepends = bool_field(spec, "add_prefix_space", path, true);
    if (spec.contains("prepend_scheme"))
      prepends = string_field(spec, "prepend_scheme", path) != "never";
    return std::make_unique<metaspace_decoder>(single_character(spec, "replacement", path), prepends);
  }
  unsupported_type(path, type, supported_decoders);
}

} // namespace tailor::tokenizers

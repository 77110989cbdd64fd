// The normalizers of Hugging Face tokenizers that the supported families use, each as HF applies it to a
// segment.
#include "tokenizers/normalizer.hpp"

#include "tokenizers/unicode.hpp"

#include <vector>

namespace tailor::tokenizers {
namespace {

class unicode_normalizer final : public normalizer {
public:
  explicit unicode_normalizer(normal_form form) : form_(form) {}
  void normalize(std::string& text) const override { text = normalize_unicode(text, form_); }

private:
  normal_form form_;
};

class sequence_normalizer final : public normalizer {
public:
  explicit sequence_normalizer(std::vector<std::unique_ptr<normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_)
      step->normalize(text);
  }

private:
  std::vector<std::unique_ptr<normalizer>> steps_;
};

// HF prepends only to non-empty text.
class prepend_normalizer final : public normalizer {
public:
  explicit prepend_normalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty())
      text.insert(0, prefix_);
  }

private:
  std::string prefix_;
};

class replace_normalizer final : public normalizer {
public:
  replace_normalizer(text_pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = pattern_.replace_all(text, content_); }

private:
  text_pattern pattern_;
  std::string content_;
};

// Rust's str::trim_start / trim_end (White_Space characters).
class strip_normalizer final : public normalizer {
public:
  strip_normalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    std::size_t begin = 0, end = text.size();
    if (left_)
      for (std::size_t length = 0; begin < end && is_whitespace(code_point_at(text, begin, length));
           begin += length) {
      }
    if (right_)
      while (end > begin) {
        std::size_t start = end - 1, length = 0;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
          --start;
        if (!is_whitespace(code_point_at(text, start, length)))
          break;
        end = start;
      }
    text = text.substr(begin, end - begin);
  }

private:
  bool left_, right_;
};

constexpr const char* supported_normalizers = "NFC, NFD, NFKC, NFKD, Sequence, Prepend, Replace, Strip";

} // namespace

std::unique_ptr<normalizer> parse_normalizer(const json& spec, const std::string& path) {
  if (spec.is_null())
    return nullptr;
  const auto type = type_field(spec, path);
  if (type == "NFC")
    return std::make_unique<unicode_normalizer>(normal_form::nfc);
  if (type == "NFD")
    return std::make_unique<unicode_normalizer>(normal_form::nfd);
  if (type == "NFKC")
    return std::make_unique<unicode_normalizer>(normal_form::nfkc);
  if (type == "NFKD")
    return std::make_unique<unicode_normalizer>(normal_form::nfkd);
  if (type == "Sequence")
    return std::make_unique<sequence_normalizer>(parse_steps(spec, "normalizers", path, parse_normalizer));
  if (type == "Prepend")
    return std::make_unique<prepend_normalizer>(string_field(spec, "prepend", path));
  if (type == "Replace")
    return std::make_unique<replace_normalizer>(pattern_field(spec, "pattern", path),
                                                string_field(spec, "content", path));
  if (type == "Strip")
    return std::make_unique<strip_normalizer>(bool_field(spec, "strip_left", path, true),
                                              bool_field(spec, "strip_right", path, true));
  unsupported_type(path, type, supported_normalizers);
}

} // namespace tailor::tokenizers

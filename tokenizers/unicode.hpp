// UTF-8 and Unicode character classes as Rust's `str`/`char` define them, which Hugging Face tokenizers rely
// on.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tailor::tokenizers {

// Bytes as text, each invalid sequence replaced by one U+FFFD per maximal subpart (Rust's
// String::from_utf8_lossy, Python's errors="replace").
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// The code point starting at `at` of valid UTF-8, and its length in bytes.
char32_t code_point_at(std::string_view text, std::size_t at, std::size_t& length);
std::size_t utf8_length(unsigned char first_byte);
void append_utf8(std::string& out, char32_t code_point);

// Rust's char::is_whitespace (the White_Space property), also what `\s` means in Rust's regex crate.
bool is_whitespace(char32_t c);
// Rust's char::is_numeric: general categories Nd, Nl and No.
bool is_numeric(char32_t c);
// `\w` of Rust's regex crate: letters, marks, decimal digits, connector punctuation, joiners.
bool is_word_character(char32_t c);

enum class normal_form { nfc, nfd, nfkc, nfkd };
std::string normalize_unicode(std::string_view text, normal_form form);

} // namespace tailor::tokenizers

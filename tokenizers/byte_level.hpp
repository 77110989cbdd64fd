// GPT-2's byte <-> unicode map: every byte becomes a printable character, so BPE works on bytes as text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tailor::tokenizers {

// The split regex GPT-2 uses, which the ByteLevel pre-tokenizer applies when `use_regex` is set.
inline constexpr std::string_view gpt2_split_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Each byte of `bytes` as its character (UTF-8), e.g. ' ' -> "Ġ", '\n' -> "Ċ".
std::string bytes_to_byte_level(std::string_view bytes);

// The bytes that the characters of `token` stand for; false (and `bytes` unchanged) when a character is not
// one of the 256, e.g. in an added token such as " ö".
bool byte_level_to_bytes(std::string_view token, std::string& bytes);

// The ByteLevel decoder: tokens back to bytes (tokens outside the map as their own UTF-8), then text with
// each invalid UTF-8 sequence replaced by U+FFFD.
std::string decode_byte_level(const std::vector<std::string>& tokens);

} // namespace tailor::tokenizers

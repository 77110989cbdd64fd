// What both decoding loops (gpu/generation.cpp, gpu/continuous_sampler.cpp) share: the request's checks,
// the blank-line stop and each token's text decoded once. Internal to gpu/.
#pragma once

#include "gpu/generation.hpp"
#include "io/common/result.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tailor::gpu::decoding {

inline bool is_blank_char(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Watches one row's text, token by token, for a blank line. Only each new token's own text is read: a blank
// line is a newline, whitespace only, and a newline, so one bit of state carries everything earlier tokens
// said. (A token's text decoded alone may lose a leading space; whitespace never decides the outcome.)
struct blank_line_watch {
  bool open = false; // a newline was seen and only whitespace since

  bool feed(std::string_view piece) {
    for (char c : piece) {
      if (c == '\n') {
        if (open)
          return true;
        open = true;
      } else if (!is_blank_char(c)) {
        open = false;
      }
    }
    return false;
  }
};

// Each token's text, decoded once: the stop check reads it at every step of every row.
class piece_texts {
public:
  explicit piece_texts(const token_decoder& decoder) : decoder_(decoder) {}
  const std::string& operator()(int id) {
    auto it = texts_.find(id);
    if (it == texts_.end())
      it = texts_.emplace(id, decoder_.decode(std::span<const int>{&id, 1})).first;
    return it->second;
  }

private:
  const token_decoder& decoder_;
  std::unordered_map<int, std::string> texts_;
};

// What generate() and generate_continuous() refuse alike: options out of range, empty or negative prompts.
inline problem check_generation_request(const generation_options& options,
                                        const std::vector<std::vector<int>>& prompts) {
  const auto& s = options.sampling;
  if (options.max_new_tokens < 0)
    return {"max new tokens must be 0 or more, not " + std::to_string(options.max_new_tokens)};
  if (options.samples_per_prompt < 1)
    return {"samples per prompt must be at least 1, not " + std::to_string(options.samples_per_prompt)};
  if (!(s.temperature >= 0.0))
    return {"temperature must be 0 or more, not " + std::to_string(s.temperature)};
  if (s.top_k < 0)
    return {"top-k must be 0 (off) or more, not " + std::to_string(s.top_k)};
  if (!(s.top_p > 0.0 && s.top_p <= 1.0))
    return {"top-p must be in (0, 1], not " + std::to_string(s.top_p)};
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    if (prompts[p].empty())
      return problem{"prompt " + std::to_string(p) + " has no tokens"};
    if (*std::min_element(prompts[p].begin(), prompts[p].end()) < 0)
      return problem{"prompt " + std::to_string(p) + " holds a negative token id"};
  }
  return {};
}

inline bool is_greedy(const sampling_options& options) {
  return options.greedy || options.temperature == 0.0;
}

// The longest prompt's length: a batch's width.
inline int64_t longest(const std::vector<std::vector<int>>& prompts) {
  std::size_t width = 0;
  for (const auto& prompt : prompts)
    width = std::max(width, prompt.size());
  return static_cast<int64_t>(width);
}

} // namespace tailor::gpu::decoding

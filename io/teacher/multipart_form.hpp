// multipart/form-data bodies, as the Files API takes an upload: written by the batch client, read by
// teacher-serve.
#pragma once

#include "io/common/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace tailor {

struct form_part {
  std::string name;
  std::string filename;     // empty: a plain field
  std::string content_type; // empty: none sent
  std::string content;

  friend bool operator==(const form_part&, const form_part&) = default;
};

struct form_body {
  std::string content_type; // "multipart/form-data; boundary=..."
  std::string body;
};

// The body of `parts`, delimited by `boundary`, which must not occur in any part (a random one of 32 hex
// digits does not, in practice).
form_body make_form_body(const std::vector<form_part>& parts, std::string_view boundary);

// The parts of a body sent with `content_type`; a problem says what is malformed ("no boundary in the
// Content-Type", "part 2 has no name").
result<std::vector<form_part>> parse_form_body(std::string_view content_type, std::string_view body);

} // namespace tailor

// What the daemon's HTTP sessions read from a request: query parameters, the token, the dashboard's files.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace tailor::api_http {

// `a=1&b=x%20y` -> {a: 1, b: "x y"}; `+` is a space; a key without `=` maps to "".
std::map<std::string, std::string> parse_query(std::string_view query);
std::string percent_decode(std::string_view text);

// Compares in time independent of where the first difference is, so a token cannot be guessed byte by byte.
bool same_secret(std::string_view a, std::string_view b);

// The dashboard's files: a fixed table, so that no request path ever names a file.
struct static_file {
  std::string_view url;
  std::string_view name; // under the web root; empty: Chart.js
  std::string_view content_type;
};
// The file served at `path`, or null.
const static_file* find_static_file(std::string_view path);

} // namespace tailor::api_http

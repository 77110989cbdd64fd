// The base URL of an OpenAI-compatible endpoint, split into what a connection needs.
#pragma once

#include "io/common/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace tailor {

struct http_endpoint {
  bool tls = false;
  std::string host;        // without brackets for IPv6 literals
  std::uint16_t port = 0;  // 443 / 80 unless the URL names one
  std::string path_prefix; // e.g. "/v1", never ending in '/'; empty for a bare host

  // `base` + "/chat/completions", as shown to users in messages (never carries credentials).
  std::string url(std::string_view path = {}) const;
  // The Host header: the port only when it is not the scheme's default.
  std::string host_header() const;
};

// Accepts `http://host[:port][/prefix]` and `https://...`; user info, queries and fragments are refused
// because they would silently change where requests go.
result<http_endpoint> parse_http_endpoint(std::string_view base_url);

} // namespace tailor

// Parsing of endpoint base URLs: scheme, host, port and path prefix.
#include "io/http/http_endpoint.hpp"

#include <charconv>

namespace tailor {

std::string http_endpoint::url(std::string_view path) const {
  std::string text = tls ? "https://" : "http://";
  text += host_header();
  text += path_prefix;
  text += path;
  return text;
}

std::string http_endpoint::host_header() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string text = ipv6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80))
    text += ":" + std::to_string(port);
  return text;
}

result<http_endpoint> parse_http_endpoint(std::string_view base_url) {
  const std::string quoted = "teacher base URL `" + std::string{base_url} + "`";
  http_endpoint endpoint;
  std::string_view rest = base_url;
  if (rest.starts_with("https://")) {
    endpoint.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return problem{quoted + " must start with http:// or https://"};
  }
  if (rest.find_first_of("?#") != std::string_view::npos)
    return problem{quoted + " must not contain a query or fragment"};
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return problem{quoted + " must not contain user info; give the API key through its environment variable"};
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return problem{quoted + ": unterminated IPv6 address"};
    endpoint.host = std::string{authority.substr(1, close - 1)};
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':')
        return problem{quoted + ": unexpected text after the IPv6 address"};
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    endpoint.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos)
      port_text = authority.substr(colon + 1);
  }
  if (endpoint.host.empty())
    return problem{quoted + " has no host"};
  endpoint.port = endpoint.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535)
      return problem{quoted + ": port `" + std::string{port_text} + "` is not a number from 1 to 65535"};
    endpoint.port = static_cast<std::uint16_t>(value);
  }
  while (path.ends_with('/'))
    path.remove_suffix(1);
  endpoint.path_prefix = std::string{path};
  return endpoint;
}

} // namespace tailor

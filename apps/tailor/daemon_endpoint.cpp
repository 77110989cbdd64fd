// The daemon's address and token for the CLI (apps/tailor/daemon_endpoint.hpp).
#include "apps/tailor/daemon_endpoint.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace tailor::cli {

result<api_endpoint> daemon_endpoint(const std::string& server_option, const std::string& token_file) {
  std::string server = server_option;
  if (server.empty())
    if (const char* env = std::getenv("TAILOR_SERVER"); env != nullptr && *env != '\0')
      server = env;
  if (server.empty())
    server = "http://127.0.0.1:8470";
  auto endpoint = parse_api_endpoint(server);
  if (!endpoint)
    return problem{"--server: " + endpoint.error().message};
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in)
      return problem{"cannot read the token file " + token_file};
    std::getline(in, endpoint->token);
    while (!endpoint->token.empty() && (endpoint->token.back() == '\r' || endpoint->token.back() == ' '))
      endpoint->token.pop_back();
  } else if (const char* token = std::getenv("TAILOR_TOKEN"); token != nullptr) {
    endpoint->token = token;
  }
  return endpoint;
}

std::string percent_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

} // namespace tailor::cli

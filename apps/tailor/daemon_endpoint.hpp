// Where the CLI finds tailord: --server, else TAILOR_SERVER, else the default address; the token from
// --token-file, else TAILOR_TOKEN. Shared by the client commands and `tailor compare --server`.
#pragma once

#include "io/api/api_client.hpp"
#include "io/common/result.hpp"

#include <string>

namespace tailor::cli {

result<api_endpoint> daemon_endpoint(const std::string& server, const std::string& token_file);

// For query values: everything but [A-Za-z0-9-_.~/] as %XX.
std::string percent_encode(const std::string& text);

} // namespace tailor::cli

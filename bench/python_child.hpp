// Runs a Python baseline of a benchmark as a child process and reads the one JSON object it prints.
#pragma once

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace tailor::bench {

// The JSON object `command` prints on stdout; an empty object when it fails or prints something else.
inline nlohmann::json json_of_command(const std::string& command) {
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    std::array<char, 4096> chunk{};
    while (std::size_t read = std::fread(chunk.data(), 1, chunk.size(), pipe))
      output.append(chunk.data(), read);
    if (::pclose(pipe) != 0)
      output.clear();
  }
  auto parsed = nlohmann::json::parse(output, nullptr, false);
  return parsed.is_object() ? parsed : nlohmann::json::object();
}

} // namespace tailor::bench

// Helpers shared by the safetensors and checkpoint tests: scratch directories and the parity scripts.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace tailor::test {

// A fresh, empty directory under the system temp dir, removed with the fixture.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const std::string& name) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("tailor-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs `tests/parity/<script> <arguments>` with the project's Python; returns its exit status (-1: no exit).
inline int run_parity_script(const std::string& script, const std::string& arguments) {
  std::string command = std::string{"'"} + TAILOR_PYTHON + "' '" + TAILOR_SOURCE_DIR + "/tests/parity/" +
                        script + "' " + arguments;
  int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string quoted(const std::filesystem::path& path) {
  std::string text{"'"};
  text += path.string();
  text += "'";
  return text;
}

} // namespace tailor::test

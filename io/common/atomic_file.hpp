// Durable replacement of files: a crash leaves either the old file or the new one, never half of one.
#pragma once

#include "io/common/result.hpp"

#include <filesystem>
#include <string_view>

namespace tailor {

// Bytes go to a temporary file beside `target`; commit() fsyncs it, renames it over `target` and fsyncs
// the directory, so that a crash leaves either the old file or the new one. Dropped uncommitted, it removes the temporary file.
class atomic_file {
public:
  static result<atomic_file> create(const std::filesystem::path& target);
  atomic_file(atomic_file&& other) noexcept;
  atomic_file& operator=(atomic_file&&) = delete;
  ~atomic_file();

  status write(const void* data, std::size_t size);
  status commit();

private:
  atomic_file(std::filesystem::path target, std::filesystem::path temporary, int fd);
  std::filesystem::path target_, temporary_;
  int fd_ = -1;
};

status write_file_atomically(const std::filesystem::path& target, std::string_view bytes);

// Appends `line` (which ends in a newline) in one write and fsyncs it: a crash leaves every earlier line whole
// and at most this one torn, which readers of append-only logs skip when it is the last.
status append_line_durably(const std::filesystem::path& file, std::string_view line);

// fsync of a directory, so that the names created or renamed in it survive a power loss.
status sync_directory(const std::filesystem::path& dir);

} // namespace tailor

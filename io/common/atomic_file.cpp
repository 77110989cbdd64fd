#include "io/common/atomic_file.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace tailor {
namespace fs = std::filesystem;
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

atomic_file::atomic_file(fs::path target, fs::path temporary, int fd)
    : target_(std::move(target)), temporary_(std::move(temporary)), fd_(fd) {}

atomic_file::atomic_file(atomic_file&& other) noexcept
    : target_(std::move(other.target_)), temporary_(std::move(other.temporary_)),
      fd_(std::exchange(other.fd_, -1)) {
  other.temporary_.clear();
}

atomic_file::~atomic_file() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!temporary_.empty())
    ::unlink(temporary_.c_str());
}

result<atomic_file> atomic_file::create(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  auto temporary = target;
  temporary += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return problem{target.string() + ": cannot create a file beside it: " + errno_text()};
  return atomic_file{target, temporary, fd};
}

status atomic_file::write(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(fd_, bytes, std::min<std::size_t>(size, std::size_t{1} << 30));
    if (written < 0 && errno == EINTR)
      continue;
    if (written < 0)
      return problem{target_.string() + ": write failed: " + errno_text()};
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
  return ok_status();
}

status atomic_file::commit() {
  if (::fsync(fd_) != 0)
    return problem{target_.string() + ": fsync failed: " + errno_text()};
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0)
    return problem{target_.string() + ": close failed: " + errno_text()};
  if (::rename(temporary_.c_str(), target_.c_str()) != 0)
    return problem{target_.string() + ": cannot rename the finished file into place: " + errno_text()};
  temporary_.clear();
  auto parent = target_.parent_path();
  return sync_directory(parent.empty() ? fs::path{"."} : parent);
}

status write_file_atomically(const fs::path& target, std::string_view bytes) {
  auto out = atomic_file::create(target);
  if (!out)
    return out.error();
  if (auto written = out->write(bytes.data(), bytes.size()); !written)
    return written;
  return out->commit();
}

status append_line_durably(const fs::path& file, std::string_view line) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return problem{file.string() + ": cannot open: " + errno_text()};
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = written && ::fsync(fd) == 0;
  const std::string why = errno_text();
  ::close(fd);
  if (!synced)
    return problem{file.string() + ": cannot append: " + why};
  return ok_status();
}

status sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return problem{dir.string() + ": cannot open the directory to sync it: " + errno_text()};
  int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0)
    return problem{dir.string() + ": directory fsync failed: " + errno_text()};
  return ok_status();
}

} // namespace tailor

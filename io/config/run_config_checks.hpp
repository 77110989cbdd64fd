// The run config's value checks (ranges, keys that must agree, paths), for run_config_json.cpp.
#pragma once

#include "io/common/result.hpp"
#include "messages/run_config.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tailor {

// Every problem found in one config, each "json.path: what is wrong" (just "what" without a path).
class problem_list {
public:
  void add(std::string_view path, std::string_view what);
  bool empty() const { return lines_.empty(); }
  problem_list& append(const problem_list& more) {
    lines_.insert(lines_.end(), more.lines_.begin(), more.lines_.end());
    return *this;
  }
  problem joined() const; // one line per problem, in the order found

private:
  std::vector<std::string> lines_;
};

// Makes the config's relative paths absolute against `base_dir`, then adds a problem for each value that
// makes no sense alone or with the others, and for each named file or directory that is not there. The
// prompt texts are run_config_json.cpp's to check: it knows their keys.
void check_run_config(run_config& config, const std::filesystem::path& base_dir, problem_list& problems);

} // namespace tailor

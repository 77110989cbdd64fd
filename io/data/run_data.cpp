#include "io/data/run_data.hpp"

#include "io/data/arith.hpp"
#include "io/common/atomic_file.hpp"
#include "io/data/datasets.hpp"

#include <nlohmann/json.hpp>

namespace tailor {
namespace {

namespace fs = std::filesystem;

// Writes the split once; a resumed run finds it and keeps it.
status write_generated(const fs::path& file, std::size_t count, std::uint64_t seed, arith_split split,
                       const arith_options& options) {
  if (fs::exists(file))
    return ok_status();
  std::string text;
  for (const auto& problem : generate_arith(count, seed, split, options))
    text += to_jsonl_record(problem).dump() + "\n";
  return write_file_atomically(file, text);
}

} // namespace

result<run_data> prepare_run_data(const run_config& config) {
  const auto& d = config.data;
  fs::path train_file = d.train_file, test_file = d.test_file;
  if (d.task == task_kind::arith && (train_file.empty() || test_file.empty())) {
    const arith_options options{.min_operations = static_cast<int>(d.arith_min_operations),
                                .max_operations = static_cast<int>(d.arith_max_operations),
                                .max_operand = d.arith_max_operand,
                                .max_factor = d.arith_max_factor};
    if (auto checked = check_arith_options(options); !checked)
      return problem{"data: " + checked.error().message};
    std::error_code error;
    fs::create_directories(config.output_dir, error);
    const fs::path dir = config.output_dir;
    if (train_file.empty()) {
      train_file = dir / "train.jsonl";
      if (auto written = write_generated(train_file, d.generated_train_size, config.seed, arith_split::train, options);
          !written)
        return written.error();
    }
    if (test_file.empty()) {
      test_file = dir / "test.jsonl";
      if (auto written = write_generated(test_file, d.generated_test_size, config.seed, arith_split::test, options);
          !written)
        return written.error();
    }
  }
  if (train_file.empty())
    return problem{"data.train_file: required for task " + std::string{to_string(d.task)}};
  if (test_file.empty())
    return problem{"data.test_file: required for task " + std::string{to_string(d.task)}};
  auto train = load_dataset(train_file, d.task);
  if (!train)
    return train.error();
  auto test = load_dataset(test_file, d.task);
  if (!test)
    return test.error();
  if (train->empty())
    return problem{train_file.string() + ": no questions"};
  if (test->empty())
    return problem{test_file.string() + ": no questions"};
  run_data data;
  auto index = std::make_shared<std::unordered_map<std::string, example>>();
  for (const auto& item : *train)
    index->emplace(item.id, item);
  data.train = std::move(train.value());
  data.test = std::move(test.value());
  data.index = std::move(index);
  data.train_files = {train_file};
  return data;
}

} // namespace tailor

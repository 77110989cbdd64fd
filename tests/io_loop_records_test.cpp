// The loop's bookkeeping without actors: the reflection pools and the run's journal.
#include "io/loop/reflection_pools.hpp"
#include "io/store/run_records.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

using namespace tailor;

namespace {

example question(const std::string& id) {
  return {.id = id, .task = task_kind::arith, .question = "Q " + id + "?", .answer = "7", .gold_rationale = ""};
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("tailor-loop-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

} // namespace

TEST_CASE("pools deduplicate by text, cap each question and build triplets", "[loop][pools]") {
  reflection_pools pools{{.max_positives = 2, .max_negatives = 1, .triplets = true, .demos = "none"}};
  auto q = question("a");
  CHECK(pools.add_positive(q, "3 + 4 = 7. Therefore, the answer is 7.", false));
  CHECK_FALSE(pools.add_positive(q, "  3 + 4 =   7.\nTherefore, the answer is 7. ", false)); // same text
  CHECK(pools.add_positive(q, "4 + 3 = 7. Therefore, the answer is 7.", false));
  CHECK_FALSE(pools.add_positive(q, "7. Therefore, the answer is 7.", false)); // full
  std::mt19937_64 rng{1};
  SECTION("without a negative an item has no triplet") {
    auto item = pools.item("a", 0, rng);
    CHECK_FALSE(item.has_triplet());
    CHECK(item.prefix == "\nQuestion: Q a?\nReasoning: ");
    CHECK(item.target == "3 + 4 = 7. Therefore, the answer is 7.\nAnswer: 7 ");
  }
  SECTION("a negative completes it: the other positive, and the negative with the gold answer") {
    CHECK(pools.add_negative(q, "3 + 4 = 8.\nAnswer: 8"));
    CHECK_FALSE(pools.add_negative(q, "3 * 4 = 12.")); // full
    auto item = pools.item("a", 1, rng);
    REQUIRE(item.has_triplet());
    CHECK(item.contrast.anchor == item.target);
    CHECK(item.contrast.positive == "3 + 4 = 7. Therefore, the answer is 7.\nAnswer: 7 ");
    CHECK(item.contrast.negative == "3 + 4 = 8.\nAnswer: 7 ");
  }
  SECTION("the ablation's pools never build a triplet") {
    reflection_pools plain{{.triplets = false, .demos = "none"}};
    plain.add_positive(q, "one. Therefore, the answer is 7.", false);
    plain.add_positive(q, "two. Therefore, the answer is 7.", false);
    plain.add_negative(q, "wrong.");
    CHECK_FALSE(plain.item("a", 0, rng).has_triplet());
  }
}

TEST_CASE("batches hold distinct questions, fresh corrections first and once", "[loop][pools]") {
  reflection_pools pools{{.demos = "none"}};
  for (int i = 0; i < 20; ++i)
    pools.add_positive(question("q" + std::to_string(i)), "r" + std::to_string(i), false);
  pools.add_positive(question("q3"), "fresh three", true);
  pools.add_positive(question("q5"), "fresh five", true);
  std::mt19937_64 rng{7};
  auto batch = pools.draw_batch(8, 0.5, rng);
  REQUIRE(batch.size() == 8);
  std::set<std::string> ids;
  for (const auto& item : batch)
    ids.insert(item.example_id);
  CHECK(ids.size() == 8);
  CHECK(batch[0].fresh_correction);
  CHECK(batch[1].fresh_correction);
  CHECK(batch[0].target.find("fresh") == 0);
  CHECK(pools.fresh_waiting() == 0);
  auto next = pools.draw_batch(8, 0.5, rng);
  for (const auto& item : next)
    CHECK_FALSE(item.fresh_correction);
  SECTION("an empty pool gives an empty batch") {
    reflection_pools empty;
    CHECK(empty.draw_batch(8, 0.5, rng).empty());
  }
}

TEST_CASE("pools survive a save and a restore, and a foreign question is refused", "[loop][pools]") {
  reflection_pools pools{{.demos = "none"}};
  pools.add_positive(question("a"), "ra", false);
  pools.add_positive(question("b"), "rb", true);
  pools.add_negative(question("b"), "wrong b");
  std::unordered_map<std::string, example> known{{"a", question("a")}, {"b", question("b")}};
  auto restored = reflection_pools::from_json(pools.to_json(), known, {.demos = "none"});
  REQUIRE(restored);
  CHECK(restored->to_json() == pools.to_json());
  CHECK(restored->fresh_waiting() == 1);
  known.erase("b");
  auto refused = reflection_pools::from_json(pools.to_json(), known, {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("`b`") != std::string::npos);
}

TEST_CASE("the journal keeps finished rounds and shrugs off a torn last line", "[loop][journal]") {
  const auto dir = temp_dir("journal");
  const auto journal = dir / "journal.jsonl";
  auto empty = read_journal(journal);
  REQUIRE(empty);
  CHECK(empty->empty());
  round_record one{.round = 1, .accuracy = 0.25, .teacher_requests = 10, .steps = 5, .checkpoint = "c1"};
  round_record two{.round = 2, .accuracy = 0.5, .mistakes = 3, .steps = 5, .checkpoint = "c2"};
  REQUIRE(append_journal(journal, one));
  REQUIRE(append_journal(journal, two));
  std::ofstream{journal, std::ios::app} << R"({"round": 3, "accur)"; // a crash while appending
  auto read = read_journal(journal);
  REQUIRE(read);
  REQUIRE(read->size() == 2);
  CHECK(read->at(0).accuracy == 0.25);
  CHECK(read->at(1).checkpoint == "c2");
  SECTION("a bad line before the last one is an error naming it") {
    std::ofstream{journal, std::ios::app} << "\n" << to_json(one).dump() << "\n";
    auto bad = read_journal(journal);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("journal.jsonl:3") != std::string::npos);
  }
  SECTION("results.json holds the rounds with accuracy as a fraction") {
    REQUIRE(write_results(dir / "results.json", "r", "continuous", "tailored", true, *read));
    auto results = nlohmann::json::parse(std::ifstream{dir / "results.json"});
    CHECK(results["rounds"][1]["round"] == 2);
    CHECK(results["rounds"][1]["accuracy"] == 0.5);
    CHECK(results["finished"] == true);
    CHECK(results_table(*read).find("50.0%") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a resumed metrics log drops the steps a crash cut off and a torn line", "[loop][journal]") {
  const auto dir = temp_dir("metrics");
  const auto file = dir / "metrics.jsonl";
  const auto steps_in = [&] {
    std::vector<std::uint64_t> steps;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      steps.push_back(nlohmann::json::parse(line).at("step").get<std::uint64_t>());
    return steps;
  };
  {
    metrics_log log(file, 0);
    for (std::uint64_t step = 1; step <= 7; ++step)
      log.append({.step = step, .round = step <= 5 ? 1u : 2u}, 0.5);
  }
  std::ofstream{file, std::ios::app} << R"({"step": 8, "lm_l)"; // a kill -9 while writing
  {
    metrics_log resumed(file, 5); // the journal holds round 1, five steps
    CHECK(steps_in() == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
    resumed.append({.step = 6, .round = 2}, 0.5);
  }
  CHECK(steps_in() == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6});
  SECTION("a log with nothing to drop is left as it is") {
    const auto before = std::filesystem::last_write_time(file);
    metrics_log again(file, 6);
    CHECK(std::filesystem::last_write_time(file) == before);
    CHECK(steps_in().size() == 6);
  }
  std::filesystem::remove_all(dir);
}

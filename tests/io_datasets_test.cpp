// The JSONL reader and the dataset loaders, on small files each test writes itself.
#include "io/data/datasets.hpp"
#include "io/common/jsonl.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace tailor;

namespace {

// A fresh directory per test, removed afterwards, so that tests running in parallel never share a file.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static std::atomic<int> counter = 0;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() /
           ("tailor-io-test-" + std::to_string(stamp) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return path / name;
  }
};

std::vector<example> load_ok(const fs::path& file, task_kind task) {
  auto loaded = load_dataset(file, task);
  INFO((loaded ? std::string() : loaded.error().message));
  REQUIRE(loaded);
  return std::move(loaded).value();
}

std::string load_error(const fs::path& file, task_kind task) {
  auto loaded = load_dataset(file, task);
  REQUIRE_FALSE(loaded);
  return loaded.error().message;
}

} // namespace

TEST_CASE("jsonl reader yields objects with their line numbers and skips blank lines") {
  temp_dir dir;
  const auto file = dir.write("a.jsonl", "{\"x\": 1}\n\n   \r\n{\"x\": 2}\r\n");
  std::vector<std::size_t> lines;
  const auto read = for_each_jsonl_record(file, [&](result<jsonl_record> record) {
    REQUIRE(record);
    lines.push_back(record->line);
    CHECK(record->object.at("x") == lines.size());
  });
  CHECK(read);
  CHECK(lines == std::vector<std::size_t>{1, 4});
}

TEST_CASE("jsonl reader: a byte order mark at the start of the file is skipped") {
  temp_dir dir;
  const auto file = dir.write("bom.jsonl", "\xEF\xBB\xBF{\"x\": 1}\n");
  int seen = 0;
  CHECK(for_each_jsonl_record(file, [&](result<jsonl_record> record) { seen += record ? 1 : 100; }));
  CHECK(seen == 1);
}

TEST_CASE("first_invalid_utf8 finds truncated, overlong, surrogate and stray bytes") {
  CHECK(first_invalid_utf8("plain ascii") == 11);
  CHECK(first_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == 14);
  CHECK(first_invalid_utf8("ab\xC3") == 2);            // truncated sequence
  CHECK(first_invalid_utf8("ab\xC0\xAF") == 2);        // overlong "/"
  CHECK(first_invalid_utf8("\xED\xA0\x80") == 0);      // UTF-16 surrogate
  CHECK(first_invalid_utf8("x\xF4\x90\x80\x80") == 1); // above U+10FFFF
  CHECK(first_invalid_utf8("xy\x80") == 2);            // continuation byte alone
}

TEST_CASE("gsm8k: gold after ####, commas removed; gold rationale; ids from the file name and line") {
  temp_dir dir;
  const auto file =
      dir.write("train.jsonl", "{\"question\": \"  How many?  \", \"answer\": \"He has 2 + 3 = 5.\\nSo 5 * "
                               "200 = 1000.\\n#### 1,000\"}\n"
                               "\n"
                               "{\"question\": \"Owed?\", \"answer\": \"She owes 3.\\n#### -3\"}\n");
  const auto examples = load_ok(file, task_kind::gsm8k);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].id == "train.jsonl:1");
  CHECK(examples[0].task == task_kind::gsm8k);
  CHECK(examples[0].question == "How many?");
  CHECK(examples[0].answer == "1000");
  CHECK(examples[0].gold_rationale == "He has 2 + 3 = 5.\nSo 5 * 200 = 1000. Therefore, the answer is 1000.");
  CHECK(examples[1].id == "train.jsonl:3");
  CHECK(examples[1].answer == "-3");
}

TEST_CASE("arith records in GSM8K form load with their ids; extra fields are ignored") {
  temp_dir dir;
  const auto file =
      dir.write("arith.jsonl", R"({"id": "arith-1-0", "question": "Ann has 2 and 3 more. How many?", )"
                               R"("answer": "2 + 3 = 5.\n#### 5", "steps": [{"op": "+"}]})"
                               "\n");
  const auto examples = load_ok(file, task_kind::arith);
  REQUIRE(examples.size() == 1);
  CHECK(examples[0] == example{"arith-1-0", task_kind::arith, "Ann has 2 and 3 more. How many?", "5",
                               "2 + 3 = 5. Therefore, the answer is 5."});
}

TEST_CASE("svamp: body gets its final period, answers become integers or shortest decimals") {
  temp_dir dir;
  const auto file =
      dir.write("svamp.jsonl",
                R"({"ID": "chal-1", "Body": "Jack had 8 pens", "Question": "How many now?", "Answer": 8.0})"
                "\n"
                R"({"Body": "A cake is cut. ", "Question": "What part?", "Answer": 2.5})"
                "\n"
                R"({"id": 7, "Body": "B.", "Question": "Q?", "Answer": "12.0"})"
                "\n");
  const auto examples = load_ok(file, task_kind::svamp);
  REQUIRE(examples.size() == 3);
  CHECK(examples[0].id == "chal-1");
  CHECK(examples[0].question == "Jack had 8 pens. How many now?");
  CHECK(examples[0].answer == "8");
  CHECK(examples[1].question == "A cake is cut. What part?");
  CHECK(examples[1].answer == "2.5");
  CHECK(examples[1].id == "svamp.jsonl:2");
  CHECK(examples[2].id == "7");
  CHECK(examples[2].answer == "12");
  CHECK(examples[2].gold_rationale.empty());
}

TEST_CASE("multiarith: both the plain keys and the original sQuestion/lSolutions keys") {
  temp_dir dir;
  const auto file = dir.write("ma.jsonl", R"({"question": "How many?", "answer": "6"})"
                                          "\n"
                                          R"({"iIndex": 12, "sQuestion": " Left? ", "lSolutions": [9.0]})"
                                          "\n");
  const auto examples = load_ok(file, task_kind::multiarith);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].answer == "6");
  CHECK(examples[1].id == "12");
  CHECK(examples[1].question == "Left?");
  CHECK(examples[1].answer == "9");
}

TEST_CASE("strategyqa: booleans and yes/no strings become Yes/No") {
  temp_dir dir;
  const auto file = dir.write("sqa.jsonl", R"({"qid": "q1", "question": "A?", "answer": true})"
                                           "\n"
                                           R"({"question": "B?", "answer": false})"
                                           "\n"
                                           R"({"question": "C?", "answer": " yes"})"
                                           "\n"
                                           R"({"question": "D?", "answer": "NO"})"
                                           "\n");
  const auto examples = load_ok(file, task_kind::strategyqa);
  REQUIRE(examples.size() == 4);
  CHECK(examples[0].id == "q1");
  CHECK(examples[0].answer == "Yes");
  CHECK(examples[1].answer == "No");
  CHECK(examples[2].answer == "Yes");
  CHECK(examples[3].answer == "No");
}

namespace {
std::string csqa_line(const std::string& id, const std::string& choices, const std::string& key) {
  return R"({"id": ")" + id + R"(", "question": {"stem": "Where do fish live?", "choices": [)" + choices +
         R"(]}, "answerKey": ")" + key + "\"}\n";
}
const std::string five_choices = R"({"label": "A", "text": "tree"}, {"label": "B", "text": "water"}, )"
                                 R"({"label": "C", "text": "sky"}, {"label": "D", "text": "desk"}, )"
                                 R"({"label": "E", "text": "car"})";
} // namespace

TEST_CASE("csqa: the stem is followed by the five lettered choices; gold is the lowercase letter") {
  temp_dir dir;
  const auto examples =
      load_ok(dir.write("dev.jsonl", csqa_line("abc123", five_choices, "B")), task_kind::csqa);
  REQUIRE(examples.size() == 1);
  CHECK(examples[0].id == "abc123");
  CHECK(examples[0].question ==
        "Where do fish live?\nAnswer Choices:\n(a) tree\n(b) water\n(c) sky\n(d) desk\n(e) car");
  CHECK(examples[0].answer == "b");
}

TEST_CASE("csqa: four choices, or an answer key that is no label, are problems") {
  temp_dir dir;
  const auto four = R"({"label": "A", "text": "tree"}, {"label": "B", "text": "water"}, )"
                    R"({"label": "C", "text": "sky"}, {"label": "D", "text": "desk"})";
  const auto file = dir.write("dev.jsonl", csqa_line("x", four, "B") + csqa_line("y", five_choices, "F"));
  const auto report = check_dataset(file, task_kind::csqa);
  REQUIRE(report.problems.size() == 2);
  CHECK(report.problems[0] == file.string() + ":1: field `question.choices` must hold 5 choices, got 4");
  CHECK(report.problems[1] ==
        file.string() + ":2: field `answerKey` must be the label of a choice, got \"f\"");
}

TEST_CASE("bad JSON is reported with its line and nlohmann's reason") {
  temp_dir dir;
  const auto file =
      dir.write("train.jsonl", "{\"question\": \"Q\", \"answer\": \"#### 1\"}\n{\"question\": \n");
  const auto message = load_error(file, task_kind::gsm8k);
  CHECK_THAT(message, Catch::StartsWith(file.string() + ":2: invalid JSON: parse error at column "));
  CHECK_THAT(message, Catch::Contains("unexpected end of input"));
}

TEST_CASE("a line that is not a JSON object is reported with what it is") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", "[1, 2]\n");
  CHECK(load_error(file, task_kind::gsm8k) == file.string() + ":1: expected a JSON object, got array");
}

TEST_CASE("a missing field is named") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", "\n{\"question\": \"Q\"}\n");
  CHECK(load_error(file, task_kind::gsm8k) == file.string() + ":2: field `answer` is missing");
}

TEST_CASE("a field of the wrong type is named with the type it has") {
  temp_dir dir;
  const auto gsm = dir.write("gsm.jsonl", "{\"question\": \"Q\", \"answer\": 5}\n");
  CHECK(load_error(gsm, task_kind::gsm8k) ==
        gsm.string() + ":1: field `answer` must be a string, got number");
  const auto sqa = dir.write("sqa.jsonl", "{\"question\": \"Q\", \"answer\": null}\n");
  CHECK(load_error(sqa, task_kind::strategyqa) ==
        sqa.string() + ":1: field `answer` must be true or false, got null");
  const auto svamp = dir.write("svamp.jsonl", R"({"Body": "B", "Question": "Q", "Answer": "many"})"
                                              "\n");
  CHECK(load_error(svamp, task_kind::svamp) ==
        svamp.string() + ":1: field `Answer` must be a number, got \"many\"");
}

TEST_CASE("an empty file, or one of blank lines only, is a problem; so is a missing file") {
  temp_dir dir;
  const auto empty = dir.write("empty.jsonl", "");
  CHECK(load_error(empty, task_kind::gsm8k) == empty.string() + ": empty file (no JSON line in it)");
  const auto blank = dir.write("blank.jsonl", "\n  \n\n");
  CHECK(load_error(blank, task_kind::gsm8k) == blank.string() + ": empty file (no JSON line in it)");
  const auto missing = dir.path / "missing.jsonl";
  CHECK(load_error(missing, task_kind::gsm8k) == missing.string() + ": no such file");
  const auto report = check_dataset(missing, task_kind::gsm8k);
  CHECK(report.problem_count == 1);
  CHECK(report.lines == 0);
}

TEST_CASE("non-UTF-8 bytes are reported with their byte position in the line") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", "{\"question\": \"Q\", \"answer\": \"#### 1\"}\n"
                                             "{\"question\": \"caf\xE9\", \"answer\": \"#### 1\"}\n");
  CHECK(load_error(file, task_kind::gsm8k) == file.string() + ":2: invalid UTF-8 at byte 18");
}

TEST_CASE("a duplicate id is reported with the line of its first use") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", R"({"id": "a", "question": "Q1", "answer": "#### 1"})"
                                             "\n"
                                             R"({"id": "b", "question": "Q2", "answer": "#### 2"})"
                                             "\n"
                                             R"({"id": "a", "question": "Q3", "answer": "#### 3"})"
                                             "\n");
  CHECK(load_error(file, task_kind::gsm8k) == file.string() + ":3: duplicate id `a` (first seen at line 1)");
}

TEST_CASE("a GSM8K answer without #### or with no number after it is a problem") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", R"({"question": "Q", "answer": "It is 5."})"
                                             "\n"
                                             R"({"question": "Q", "answer": "It is five. #### five"})"
                                             "\n");
  const auto report = check_dataset(file, task_kind::gsm8k);
  REQUIRE(report.problems.size() == 2);
  CHECK(report.problems[0] == file.string() + ":1: field `answer` has no `#### <number>` final answer");
  CHECK(report.problems[1] ==
        file.string() + ":2: field `answer`: the text after `####` must be a number, got \"five\"");
}

TEST_CASE("check_dataset keeps going, keeps max_problems messages and counts them all") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", "{\"question\": \"Q1\", \"answer\": \"#### 1\"}\n"
                                             "not json\n"
                                             "{\"question\": \"Q2\"}\n"
                                             "{\"question\": \"Q3\", \"answer\": \"#### 3\"}\n"
                                             "{\"answer\": \"#### 4\"}\n");
  const auto report = check_dataset(file, task_kind::gsm8k, 2);
  CHECK(report.lines == 5);
  CHECK(report.examples == 2);
  CHECK(report.problem_count == 3);
  REQUIRE(report.problems.size() == 2);
  CHECK_THAT(report.problems[0], Catch::StartsWith(file.string() + ":2: invalid JSON: "));
  CHECK(report.problems[1] == file.string() + ":3: field `answer` is missing");

  CHECK(load_error(file, task_kind::gsm8k) == report.problems[0] + " (and 2 more bad lines)");
}

TEST_CASE("a good file gives a clean report") {
  temp_dir dir;
  const auto file = dir.write("train.jsonl", "{\"question\": \"Q1\", \"answer\": \"#### 1\"}\n");
  const auto report = check_dataset(file, task_kind::gsm8k);
  CHECK(report.lines == 1);
  CHECK(report.examples == 1);
  CHECK(report.problem_count == 0);
  CHECK(report.problems.empty());
}

// tokenizer.json files tailor must refuse, with the file and the JSON path named, and the ones it must
// accept.
#include "tests/gpu_checkpoint_support.hpp"
#include "tokenizers/tokenizer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using tailor::test::scratch_dir;
using tailor::test::write_bytes;
using tailor::tokenizers::tokenizer;
using json = nlohmann::json;

namespace {

// A byte-level BPE small enough to reason about: "ab" and "abc" are merges, "<eos>" is special.
json tiny_tokenizer() {
  json vocab = json::object();
  for (const char* token : {"a", "b", "c", "Ġ", "ab", "abc", "Ġab"})
    vocab[token] = static_cast<int>(vocab.size());
  return {
      {"version", "1.0"},
      {"added_tokens",
       json::array({{{"id", 7}, {"content", "<eos>"}, {"special", true}, {"normalized", false}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges",
         json::array({json::array({"a", "b"}), json::array({"ab", "c"}), json::array({"Ġ", "ab"})})},
        {"unk_token", nullptr},
        {"ignore_merges", false}}},
  };
}

tailor::result<tokenizer> load_json(const scratch_dir& dir, const json& document) {
  write_bytes(dir.path / "tokenizer.json", document.dump());
  return tokenizer::load_dir(dir.path);
}

} // namespace

TEST_CASE("a hand-written tokenizer.json encodes and decodes", "[tokenizers]") {
  scratch_dir dir{"tokenizer-tiny"};
  auto tokens = load_json(dir, tiny_tokenizer());
  INFO((tokens ? "" : tokens.error().message));
  REQUIRE(tokens.ok());
  CHECK(tokens->encode("abc ab<eos>ba") == std::vector<int>{5, 6, 7, 1, 0});
  CHECK(tokens->decode(std::vector<int>{5, 6, 7, 1, 0}) == "abc abba");
  CHECK(tokens->decode(std::vector<int>{5, 6, 7, 1, 0}, false) == "abc ab<eos>ba");
  CHECK(tokens->eos_id() == 7); // no config: a special token with one of EOS's usual names
  CHECK(tokens->vocab_size() == 8);
  CHECK(tokens->encode("a", false, true) == std::vector<int>{0, 7});
  CHECK_FALSE(tokens->save(dir.path / "tokenizer.model").ok());

  auto roberta = tiny_tokenizer(); // cls ... sep around the text, as RobertaProcessing adds them
  roberta["post_processor"] = {
      {"type", "RobertaProcessing"}, {"cls", json::array({"a", 0})}, {"sep", json::array({"<eos>", 7})}};
  auto wrapped = load_json(dir, roberta);
  REQUIRE(wrapped.ok());
  CHECK(wrapped->encode("ab", true, true) == std::vector<int>{0, 4, 7});
  CHECK(wrapped->encode("ab", true) == std::vector<int>{0, 4});
}

TEST_CASE("merges written as \"a b\" strings and as [a, b] pairs give the same tokenizer", "[tokenizers]") {
  scratch_dir pairs_dir{"tokenizer-pairs"}, strings_dir{"tokenizer-strings"};
  auto document = tiny_tokenizer();
  auto pairs = load_json(pairs_dir, document);
  document["model"]["merges"] = json::array({"a b", "ab c", "Ġ ab"});
  auto strings = load_json(strings_dir, document);
  REQUIRE(pairs.ok());
  REQUIRE(strings.ok());
  for (const char* text : {"abc", "ab abc cab", "a b c"})
    CHECK(pairs->encode(text) == strings->encode(text));
  CHECK(strings->encode("abc") == std::vector<int>{5});

  document["model"]["merges"] = json::array({"a b c"});
  auto three = load_json(strings_dir, document);
  REQUIRE_FALSE(three.ok());
  CHECK_THAT(three.error().message, Catch::Contains("model.merges[0]") && Catch::Contains("`a b c`"));
}

TEST_CASE("bad tokenizer.json files are refused naming the file and the field", "[tokenizers]") {
  scratch_dir dir{"tokenizer-bad"};
  const auto file = (dir.path / "tokenizer.json").string();
  const auto refused = [&](const json& document) {
    auto loaded = load_json(dir, document);
    REQUIRE_FALSE(loaded.ok());
    CHECK_THAT(loaded.error().message, Catch::StartsWith(file + ": "));
    return loaded.error().message;
  };

  auto wordpiece = tiny_tokenizer();
  wordpiece["model"]["type"] = "WordPiece";
  CHECK_THAT(refused(wordpiece),
             Catch::Contains("model.type `WordPiece` is not supported (tailor reads BPE)"));

  auto unknown_merge = tiny_tokenizer();
  unknown_merge["model"]["merges"].push_back(json::array({"ab", "zz"}));
  CHECK_THAT(refused(unknown_merge), Catch::Contains("model.merges[3] `ab zz`: `zz` is not in model.vocab"));
  auto unknown_result = tiny_tokenizer();
  unknown_result["model"]["merges"].push_back(json::array({"b", "c"})); // "bc" is not a token
  CHECK_THAT(refused(unknown_result), Catch::Contains("model.merges[3] `b c`: `bc` is not in model.vocab"));

  auto unknown_pre = tiny_tokenizer();
  unknown_pre["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", json::array({{{"type", "Digits"}}, {{"type", "UnicodeScripts"}}})}};
  CHECK_THAT(refused(unknown_pre),
             Catch::Contains("pre_tokenizer.pretokenizers[1].type `UnicodeScripts` is not "
                             "supported (tailor reads Sequence, Split"));

  auto unknown_normalizer = tiny_tokenizer();
  unknown_normalizer["normalizer"] = {{"type", "BertNormalizer"}};
  CHECK_THAT(refused(unknown_normalizer),
             Catch::Contains("normalizer.type `BertNormalizer` is not supported"));
  auto unknown_decoder = tiny_tokenizer();
  unknown_decoder["decoder"] = {{"type", "WordPiece"}};
  CHECK_THAT(refused(unknown_decoder), Catch::Contains("decoder.type `WordPiece` is not supported"));
  auto bad_regex = tiny_tokenizer();
  bad_regex["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  CHECK_THAT(refused(bad_regex),
             Catch::Contains("pre_tokenizer.pattern.Regex") && Catch::Contains("(unclosed"));
  auto prefix = tiny_tokenizer();
  prefix["model"]["continuing_subword_prefix"] = "##";
  CHECK_THAT(refused(prefix), Catch::Contains("model.continuing_subword_prefix is set"));
  auto no_model = tiny_tokenizer();
  no_model.erase("model");
  CHECK_THAT(refused(no_model), Catch::Contains("model is missing"));

  write_bytes(file, R"({"model": {"type": "BPE", "vocab": {"a": 0}, )");
  auto invalid = tokenizer::load_dir(dir.path);
  REQUIRE_FALSE(invalid.ok());
  CHECK_THAT(invalid.error().message, Catch::StartsWith(file + ": invalid JSON"));
}

TEST_CASE("config files beside tokenizer.json must name tokens it has", "[tokenizers]") {
  scratch_dir dir{"tokenizer-config"};
  write_bytes(dir.path / "tokenizer_config.json", R"({"eos_token": "<|missing|>"})");
  auto missing = load_json(dir, tiny_tokenizer());
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message,
             Catch::Contains("tokenizer_config.json: eos_token `<|missing|>` is not a token"));

  write_bytes(dir.path / "tokenizer_config.json", R"({"eos_token": {"content": "<eos>"}, "pad_token": "a"})");
  write_bytes(dir.path / "generation_config.json", R"({"eos_token_id": [7, 99]})");
  auto out_of_range = load_json(dir, tiny_tokenizer());
  REQUIRE_FALSE(out_of_range.ok());
  CHECK_THAT(out_of_range.error().message, Catch::Contains("generation_config.json: eos_token_id 99"));

  write_bytes(dir.path / "generation_config.json", R"({"eos_token_id": [7, 2]})");
  auto good = load_json(dir, tiny_tokenizer());
  REQUIRE(good.ok());
  CHECK(good->eos_id() == 7);
  CHECK(good->pad_id() == 0);
  CHECK(good->stop_ids() == std::vector<int>{7, 2});
}

TEST_CASE("load_dir names the directory when it holds no tokenizer", "[tokenizers]") {
  scratch_dir dir{"tokenizer-empty"};
  auto empty = tokenizer::load_dir(dir.path);
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.error().message, Catch::Contains(dir.path.string()) &&
                                        Catch::Contains("no tokenizer.json") &&
                                        Catch::Contains("tokenizer.model"));
  auto missing = tokenizer::load_dir(dir.path / "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("nope") && Catch::Contains("no such directory"));
}

TEST_CASE("added tokens take the ids HF gives them, not the ones written", "[tokenizers]") {
  // What tokenizers 0.23 makes of this file: the ids written are ignored; "b" is the model's, X and Y follow
  // the model's three tokens; X listed twice keeps its id, takes the later flags (lstrip) and stays special.
  const auto added = [](int id, const char* content, bool special, bool normalized, bool lstrip) {
    return json{{"id", id},         {"content", content}, {"special", special},  {"normalized", normalized},
                {"lstrip", lstrip}, {"rstrip", false},    {"single_word", false}};
  };
  json document = {
      {"added_tokens", json::array({added(6, "X", true, false, false), added(9, "b", true, false, false),
                                    added(7, "Y", false, true, false), added(7, "X", false, false, true)})},
      {"normalizer", nullptr},
      {"pre_tokenizer", nullptr},
      {"decoder", nullptr},
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"c", 5}}}, {"merges", json::array()}}}};
  scratch_dir dir{"tokenizer-added-ids"};
  auto tokens = load_json(dir, document);
  INFO((tokens ? "" : tokens.error().message));
  REQUIRE(tokens.ok());
  CHECK(tokens->encode("aXbY c X") == std::vector<int>{0, 3, 1, 4, 5, 3});
  CHECK(tokens->decode(std::vector<int>{3, 1, 4, 5, 0}) == "Y c a"); // no decoder: HF joins with spaces
  CHECK(tokens->decode(std::vector<int>{3, 1, 4, 5, 0}, false) == "X b Y c a");
  CHECK(tokens->vocab_size() == 6);
  CHECK(tokens->special_tokens() == std::map<int, std::string>{{1, "b"}, {3, "X"}});
}

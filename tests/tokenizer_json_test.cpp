// tokenizer.json parity: tailor's tokenizer against HF `tokenizers` on tokenizers and a corpus the test
// builds.
#include "tests/gpu_checkpoint_support.hpp"
#include "tokenizers/tokenizer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

using tailor::tokenizers::tokenizer;
using json = nlohmann::json;

namespace {

// The tokenizers tests/parity/make_tokenizers.py builds, and what HF made of its corpus; built once.
struct parity_data {
  tailor::test::scratch_dir dir{"tokenizer-json"};
  json expected;
  std::string unavailable; // why the HF side could not run, when it could not
};

const parity_data& parity() {
  static parity_data data = [] {
    parity_data d;
    const std::string probe =
        std::string{"'"} + TAILOR_PYTHON + "' -c 'import tokenizers, transformers' 2>/dev/null";
    if (std::system(probe.c_str()) != 0) {
      d.unavailable =
          std::string{TAILOR_PYTHON} + " has no `tokenizers`/`transformers` (./test.sh installs them)";
      return d;
    }
    if (tailor::test::run_parity_script("make_tokenizers.py", tailor::test::quoted(d.dir.path)) != 0) {
      d.unavailable = "tests/parity/make_tokenizers.py failed";
      return d;
    }
    std::ifstream in{d.dir.path / "expected.json"};
    d.expected = json::parse(in);
    return d;
  }();
  return data;
}

std::string show(const std::vector<int>& ids) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < ids.size(); ++i)
    out << (i ? ", " : "") << ids[i];
  out << "]";
  return out.str();
}

tokenizer load(const std::string& name) {
  auto loaded = tokenizer::load_dir(parity().dir.path / name);
  INFO(name << ": " << (loaded ? "" : loaded.error().message));
  REQUIRE(loaded.ok());
  return std::move(loaded.value());
}

#define SKIP_WITHOUT_HF()                                                                                    \
  if (!parity().unavailable.empty()) {                                                                       \
    WARN("skipped: " << parity().unavailable);                                                               \
    return;                                                                                                  \
  }

} // namespace

TEST_CASE("tokenizer.json encodes as HF tokenizers does token for token", "[tokenizers][parity]") {
  SKIP_WITHOUT_HF();
  const auto& texts = parity().expected["texts"];
  int compared = 0;
  for (const auto& [name, expected] : parity().expected["tokenizers"].items()) {
    auto tokens = load(name);
    CHECK(tokens.vocab_size() == expected["vocab_size"].get<int>());
    const bool trailing = expected["template_has_trailing"].get<bool>();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const auto text = texts[i].get<std::string>();
      const auto& want = expected["encodings"][i];
      INFO(name << " text " << i << ": " << json(text).dump());
      const auto ids = tokens.encode(text);
      INFO("tailor " << show(ids) << "\nHF     " << show(want["ids"].get<std::vector<int>>()));
      CHECK(ids == want["ids"].get<std::vector<int>>());
      // HF's add_special_tokens=True is the whole template: leading and, where the template has them,
      // trailing.
      CHECK(tokens.encode(text, true, trailing) == want["ids_with_special"].get<std::vector<int>>());
      ++compared;
    }
  }
  CHECK(compared == 5 * static_cast<int>(texts.size()));
}

TEST_CASE("tokenizer.json decodes as HF tokenizers does with and without special tokens",
          "[tokenizers][parity]") {
  SKIP_WITHOUT_HF();
  int replaced = 0;
  for (const auto& [name, expected] : parity().expected["tokenizers"].items()) {
    auto tokens = load(name);
    for (std::size_t i = 0; i < expected["encodings"].size(); ++i) {
      const auto& want = expected["encodings"][i];
      INFO(name << " encoding " << i);
      for (auto [ids_key, skip_key, keep_key] :
           {std::tuple{"ids", "decode", "decode_keep_special"},
            std::tuple{"ids_with_special", "decode_with_special", "decode_with_special_keep_special"}}) {
        const auto ids = want[ids_key].get<std::vector<int>>();
        CHECK(tokens.decode(ids) == want[skip_key].get<std::string>());
        CHECK(tokens.decode(ids, false) == want[keep_key].get<std::string>());
      }
    }
    for (std::size_t i = 0; i < expected["decodes"].size(); ++i) {
      const auto& want = expected["decodes"][i];
      const auto ids = want["ids"].get<std::vector<int>>();
      INFO(name << " id list " << i << " " << show(ids));
      CHECK(tokens.decode(ids) == want["skip"].get<std::string>());
      CHECK(tokens.decode(ids, false) == want["keep"].get<std::string>());
      replaced += want["skip"].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos;
    }
  }
  CHECK(replaced > 10); // the id lists do cut multi-byte characters, so U+FFFD is really compared
}

TEST_CASE("special ids come from tokenizer_config.json and generation_config.json and the template",
          "[tokenizers][parity]") {
  SKIP_WITHOUT_HF();
  const auto id_of = [](const tokenizer& tokens, const std::string& text) {
    for (const auto& [id, special] : tokens.special_tokens())
      if (special == text)
        return id;
    return -1;
  };
  auto llama3 = load("llama3");
  const int begin = id_of(llama3, "<|begin_of_text|>"), eot = id_of(llama3, "<|eot_id|>");
  const int end = id_of(llama3, "<|end_of_text|>"), eom = id_of(llama3, "<|eom_id|>");
  REQUIRE(begin >= 0);
  CHECK(llama3.kind() == "byte-level BPE");
  CHECK(llama3.bos_id() == begin);
  CHECK(llama3.eos_id() == eot);
  CHECK(llama3.pad_id() == eot); // no pad token: EOS fills padding, which the loss masks
  CHECK(llama3.unk_id() == -1);
  CHECK(llama3.stop_ids() == std::vector<int>{eot, end, eom});
  CHECK(llama3.special_tokens().size() == 11);
  const auto body = llama3.encode("Hi there");
  auto with_bos = body;
  with_bos.insert(with_bos.begin(), begin);
  CHECK(llama3.encode("Hi there", true) == with_bos);
  with_bos.push_back(eot); // no trailing special in the template: add_eos appends EOS
  CHECK(llama3.encode("Hi there", true, true) == with_bos);
  CHECK(llama3.serialized().empty());
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
    INFO(name);
    std::ifstream in{parity().dir.path / "llama3" / name, std::ios::binary};
    const std::string bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    REQUIRE(llama3.files().contains(name));
    CHECK(llama3.files().at(name) == bytes);
  }

  auto qwen = load("qwen2");
  const int im_end = id_of(qwen, "<|im_end|>"), endoftext = id_of(qwen, "<|endoftext|>");
  CHECK(qwen.bos_id() == -1);
  CHECK(qwen.encode("Hi", true) == qwen.encode("Hi")); // no BOS to add
  CHECK(qwen.encode("Hi", false, true).back() == im_end);
  CHECK(qwen.eos_id() == im_end);
  CHECK(qwen.pad_id() == endoftext);
  CHECK(qwen.stop_ids() == std::vector<int>{im_end, endoftext});
  CHECK(qwen.special_tokens().size() == 3); // <think> and café are added but not special

  auto gpt2 = load("gpt2");
  CHECK(gpt2.bos_id() == 0);
  CHECK(gpt2.eos_id() == 0);
  CHECK(gpt2.pad_id() == 0);
  CHECK(gpt2.unk_id() == 0);
  CHECK(gpt2.encode("Hi", false, true).back() == 0); // the template's trailing <|endoftext|>

  auto llama2 = load("llama2");
  CHECK(llama2.kind() == "BPE");
  CHECK(llama2.bos_id() == 1);
  CHECK(llama2.eos_id() == 2);
  CHECK(llama2.unk_id() == 0);
  CHECK(llama2.stop_ids() == std::vector<int>{2});
  CHECK(llama2.encode("Hi", true, true).front() == 1);
  CHECK(llama2.encode("Hi", true, true).back() == 2);
  CHECK_FALSE(load("mistral").files().contains("generation_config.json"));

  // load(file) of a tokenizer.json reads the configs beside it as load_dir does.
  auto single = tokenizer::load(parity().dir.path / "llama3" / "tokenizer.json");
  REQUIRE(single.ok());
  CHECK(single->stop_ids() == llama3.stop_ids());
}

TEST_CASE("encoding from several threads at once gives the same ids", "[tokenizers][parity]") {
  SKIP_WITHOUT_HF();
  auto tokens = load("llama3");
  const auto& texts = parity().expected["texts"];
  const auto& expected = parity().expected["tokenizers"]["llama3"]["encodings"];
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round)
        for (std::size_t i = 0; i < texts.size(); ++i)
          if (tokens.encode(texts[i].get<std::string>()) != expected[i]["ids"].get<std::vector<int>>())
            ++mismatches;
    });
  for (auto& thread : threads)
    thread.join();
  CHECK(mismatches == 0);
}

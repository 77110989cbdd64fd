// LibTorch and SentencePiece in one process (their protobuf copies must not clash), device choice, tokenizer.
#include "gpu/runtime.hpp"
#include "gpu/tokenizer.hpp"

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace {

std::vector<std::string> small_corpus() {
  const char* names[] = {"Tom", "Mia", "Ava", "Leo"};
  const char* things[] = {"apples", "pencils", "stickers", "books"};
  std::vector<std::string> corpus;
  for (int i = 0; i < 400; ++i)
    corpus.push_back(std::string{"Question: "} + names[i % 4] + " has " + std::to_string(i % 37) + " " +
                     things[(i / 4) % 4] + " and buys " + std::to_string(i % 9 + 2) +
                     " more. How many now?\nReasoning: " + std::to_string(i % 37) + " + " +
                     std::to_string(i % 9 + 2) + " = " + std::to_string(i % 37 + i % 9 + 2) + ".");
  return corpus;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("tailor-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

} // namespace

TEST_CASE("a trained tokenizer feeds a LibTorch computation in the same process", "[gpu][tokenizer]") {
  auto trained = tailor::gpu::train_tokenizer(small_corpus(), {.vocab_size = 96});
  REQUIRE(trained.ok());
  const auto& spm = trained.value();
  CHECK(spm.vocab_size() == 96);
  CHECK(spm.unk_id() == 0);
  CHECK(spm.bos_id() == 1);
  CHECK(spm.eos_id() == 2);

  const std::string text = "Mia has 12 books and buys 7 more.";
  auto ids = spm.encode(text, /*add_bos=*/true, /*add_eos=*/true);
  REQUIRE(ids.size() > 4);
  CHECK(ids.front() == spm.bos_id());
  CHECK(ids.back() == spm.eos_id());
  CHECK(spm.decode(ids) == text);

  // Digits split: "12" is two pieces, each a single digit.
  auto digits = spm.encode("12");
  std::vector<std::string> pieces;
  for (int id : digits)
    pieces.push_back(spm.decode(std::span<const int>{&id, 1}));
  CHECK(std::count(pieces.begin(), pieces.end(), "1") + std::count(pieces.begin(), pieces.end(), "2") == 2);

  // The ids index a real embedding table: a torch op over tokenizer output.
  torch::manual_seed(0);
  auto table = torch::randn({spm.vocab_size(), 8});
  auto index = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()));
  auto embedded = table.index_select(0, index);
  CHECK(embedded.size(0) == static_cast<int64_t>(ids.size()));
  CHECK(torch::allclose(embedded[0], table[spm.bos_id()]));
}

TEST_CASE("a tokenizer saved to disk loads back with the same ids", "[gpu][tokenizer]") {
  auto trained = tailor::gpu::train_tokenizer(small_corpus(), {.vocab_size = 80});
  REQUIRE(trained.ok());
  auto dir = temp_dir("tokenizer");
  auto file = dir / "tokenizer.model";
  REQUIRE(trained->save(file).ok());
  auto loaded = tailor::gpu::tokenizer::load(file);
  REQUIRE(loaded.ok());
  CHECK(loaded->encode("Leo has 30 stickers.") == trained->encode("Leo has 30 stickers."));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a trained tokenizer keeps the newlines and spacing of the student's format", "[gpu][tokenizer]") {
  auto corpus = small_corpus();
  for (int i = 0; i < 50; ++i)
    corpus.push_back("Question: Tom has " + std::to_string(i) + " apples.\nReasoning: 3 + 4 = 7.\nAnswer: 7 ");
  auto trained = tailor::gpu::train_tokenizer(corpus, {.vocab_size = 96});
  REQUIRE(trained);
  const std::string text = "Question: Ann has 12 pens.\nReasoning: 12 + 5 = 17.\nAnswer: 17\n\nQuestion:  two  spaces";
  CHECK(trained->decode(trained->encode(text)) == text);
  SECTION("the default normalization of SentencePiece would have eaten them") {
    auto normalized = tailor::gpu::train_tokenizer(corpus, {.vocab_size = 96, .keep_newlines = false});
    REQUIRE(normalized);
    CHECK(normalized->decode(normalized->encode(text)).find('\n') == std::string::npos);
  }
}

TEST_CASE("bad tokenizer files give a clear error", "[gpu][tokenizer]") {
  auto dir = temp_dir("bad-tokenizer");
  auto missing = tailor::gpu::tokenizer::load(dir / "nope.model");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("nope.model") && Catch::Contains("cannot open"));

  auto garbage = dir / "garbage.model";
  std::ofstream{garbage} << "this is not a protobuf";
  auto bad = tailor::gpu::tokenizer::load(garbage);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("garbage.model") && Catch::Contains("not a SentencePiece model"));

  auto empty = tailor::gpu::train_tokenizer({});
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.error().message, Catch::Contains("empty corpus"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("devices resolve to what is really there", "[gpu][runtime]") {
  auto info = tailor::gpu::describe_runtime();
  CHECK(info.torch_version.starts_with("2."));
  CHECK(info.threads >= 1);

  CHECK(tailor::gpu::resolve_device("cpu").value() == "cpu");
  auto automatic = tailor::gpu::resolve_device("auto");
  REQUIRE(automatic.ok());
  CHECK(automatic.value() == (info.cuda_devices > 0 ? "cuda:0" : "cpu"));

  auto cuda = tailor::gpu::resolve_device("cuda");
  if (info.cuda_devices == 0) {
    REQUIRE_FALSE(cuda.ok());
    CHECK_THAT(cuda.error().message, Catch::Contains("no CUDA GPU is visible"));
  } else {
    CHECK(cuda.value() == "cuda:0");
  }
  CHECK_FALSE(tailor::gpu::resolve_device("cuda:x").ok());
  CHECK_FALSE(tailor::gpu::resolve_device("tpu").ok());
  CHECK_THAT(tailor::gpu::resolve_device("cuda:99").ok() ? std::string{} : tailor::gpu::resolve_device("cuda:99").error().message,
             Catch::Contains("cuda:99"));
}

TEST_CASE("LibTorch runs on the CPU even though it is the CUDA build", "[gpu][runtime]") {
  auto info = tailor::gpu::describe_runtime();
  CHECK(info.cuda_built);  // the PyPI wheel links libtorch_cuda; no GPU is needed to run
  auto x = torch::ones({4, 4});
  auto y = torch::mm(x, x);
  CHECK(y.sum().item<float>() == Approx(64.0f));
  CHECK(tailor::gpu::set_torch_threads(1) == 1);
}

// Two runs in one process (tailord) must not change each other's thread counts: each LibTorch thread pins its
// own, and a thread that did keeps it whatever another thread sets afterwards.
TEST_CASE("set_torch_threads pins the calling thread's count, not another's", "[gpu][runtime]") {
  std::atomic<int> stage{0};
  int seen_before = 0, seen_after = 0;
  std::thread exam{[&] {
    seen_before = tailor::gpu::set_torch_threads(1);
    stage = 1;
    while (stage.load() < 2)
      std::this_thread::yield();
    seen_after = torch::get_num_threads();
  }};
  while (stage.load() < 1)
    std::this_thread::yield();
  CHECK(tailor::gpu::set_torch_threads(2) == 2); // "another run" on this thread
  stage = 2;
  exam.join();
  CHECK(seen_before == 1);
  CHECK(seen_after == 1);
  // 0: LibTorch's default for this machine, set explicitly rather than left as the thread had it.
  tailor::gpu::set_torch_threads(at::intraop_default_num_threads() + 1);
  CHECK(tailor::gpu::set_torch_threads(0) == at::intraop_default_num_threads());
  tailor::gpu::set_torch_threads(1);
}

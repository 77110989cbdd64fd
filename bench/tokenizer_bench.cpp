// Tokenizer encode throughput on GSM8K's size of text (7,473 problems with answers, ~4 MB) with a
// Llama-3-style tokenizer.json, against HF `tokenizers` (bench/tokenizer_bench.py) measured in the same run.
#include "tokenizers/tokenizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  int problems = 7473; // GSM8K's training split
  int repeats = 3;
  std::string python = TAILOR_PYTHON;
  fs::path results = fs::path(TAILOR_SOURCE_DIR) / "bench" / "results";
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    const bool has_value = i + 1 < argc;
    if (key == "--problems" && has_value)
      s.problems = std::stoi(argv[++i]);
    else if (key == "--repeats" && has_value)
      s.repeats = std::stoi(argv[++i]);
    else if (key == "--python" && has_value)
      s.python = argv[++i];
    else if (key == "--results" && has_value)
      s.results = argv[++i];
    else
      throw std::invalid_argument("unknown option " + key +
                                  " (--problems N, --repeats N, --python PATH, --results DIR)");
  }
  return s;
}

// A GSM8K-like problem and worked answer (~530 bytes, as GSM8K's average): names, prices, counts with commas,
// calculator annotations, one step per line, `#### answer` last.
std::string word_problem(std::mt19937& rng) {
  static const char* names[] = {"Natalia", "Weng", "Betty", "Julie", "James",
                                "Albert",  "Tina", "Mark",  "Ken",   "Zoë"};
  static const char* things[] = {"clips",   "apples", "pages", "cupcakes",  "marbles",
                                 "tickets", "books",  "eggs",  "bracelets", "tomatoes"};
  static const char* places[] = {"the market", "school",   "the bakery",
                                 "her garden", "the fair", "the library"};
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto with_commas = [](long long v) {
    const auto digits = std::to_string(v);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0)
        out.push_back(',');
      out.push_back(digits[i]);
    }
    return out;
  };
  const std::string name = names[pick(10)], thing = things[pick(10)], place = places[pick(6)];
  const int a = 2 + pick(98), b = 2 + pick(11), price = 1 + pick(40), cents = pick(4) * 25,
            extra = 100 + pick(9000);
  const long long total = static_cast<long long>(a) * b + a;
  const double cost = static_cast<double>(total) * (price + cents / 100.0);
  char money[64];
  std::snprintf(money, sizeof money, "%.2f", cost);
  std::string text =
      name + " sold " + std::to_string(a) + " " + thing + " at " + place + " in April, and then " +
      std::to_string(b) + " times as many in May. Each of the " + thing + " costs $" + std::to_string(price) +
      "." + (cents ? std::to_string(cents) : "00") + ". " + name + " also kept " + with_commas(extra) + " " +
      thing + " at home. The " + place + " takes no share of the money, and every " +
      "sale is paid in cash on the same day. How much money did " + name + " make from the " + thing +
      " sold in April and May altogether?\n";
  text += "In May, " + name + " sold " + std::to_string(a) + " * " + std::to_string(b) + " = <<" +
          std::to_string(a) + "*" + std::to_string(b) + "=" + std::to_string(a * b) + ">>" +
          with_commas(a * b) + " " + thing + ".\n";
  text += "Altogether, " + name + " sold " + std::to_string(a * b) + " + " + std::to_string(a) + " = <<" +
          std::to_string(a * b) + "+" + std::to_string(a) + "=" + std::to_string(total) + ">>" +
          with_commas(total) + " " + thing + ".\n";
  text += "So " + name + " made " + with_commas(total) + " * $" + std::to_string(price) + "." +
          (cents ? std::to_string(cents) : "00") + " = $" + money + " from them, not counting the " +
          with_commas(extra) + " kept at home.\n#### " + money;
  return text;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Seconds to encode every document on `threads` threads (documents dealt round-robin); median of `repeats`
// after one warm-up pass, as the Python side does.
double time_encode(const tailor::tokenizers::tokenizer& tokens, const std::vector<std::string>& documents,
                   int threads, int repeats, long long& token_count) {
  std::vector<long long> counts(static_cast<std::size_t>(threads));
  auto pass = [&] {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        long long n = 0;
        for (std::size_t i = static_cast<std::size_t>(t); i < documents.size();
             i += static_cast<std::size_t>(threads))
          n += static_cast<long long>(tokens.encode(documents[i]).size());
        counts[static_cast<std::size_t>(t)] = n;
      });
    for (auto& worker : workers)
      worker.join();
  };
  pass();
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    const auto start = clock_type::now();
    pass();
    seconds.push_back(std::chrono::duration<double>(clock_type::now() - start).count());
  }
  token_count = 0;
  for (auto n : counts)
    token_count += n;
  return median(seconds);
}

int run(const settings& s) {
  const auto scratch = fs::temp_directory_path() / ("tailor-tokenizer-bench-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  const auto quoted = [](const fs::path& p) { return "'" + p.string() + "'"; };
  const std::string make = "'" + s.python + "' '" + TAILOR_SOURCE_DIR + "/tests/parity/make_tokenizers.py' " +
                           quoted(scratch) + " > /dev/null";
  if (std::system(make.c_str()) != 0) {
    std::cerr << "tokenizer_bench: tests/parity/make_tokenizers.py failed (is `tokenizers` in " << s.python
              << "?)\n";
    return 1;
  }
  auto tokens = tailor::tokenizers::tokenizer::load_dir(scratch / "llama3");
  if (!tokens) {
    std::cerr << "tokenizer_bench: " << tokens.error().message << "\n";
    return 1;
  }
  std::mt19937 rng{1234};
  std::vector<std::string> documents;
  double megabytes = 0;
  for (int i = 0; i < s.problems; ++i) {
    documents.push_back(word_problem(rng));
    megabytes += static_cast<double>(documents.back().size()) / 1e6;
  }
  std::ofstream{scratch / "documents.json"} << nlohmann::json(documents).dump();

  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  long long tailor_tokens = 0, tailor_tokens_threads = 0;
  const double single = time_encode(*tokens, documents, 1, s.repeats, tailor_tokens);
  const double parallel = time_encode(*tokens, documents, threads, s.repeats, tailor_tokens_threads);

  const std::string baseline = "'" + s.python + "' '" + TAILOR_SOURCE_DIR + "/bench/tokenizer_bench.py' " +
                               quoted(scratch / "llama3" / "tokenizer.json") + " " +
                               quoted(scratch / "documents.json") + " --repeats " + std::to_string(s.repeats);
  std::string output;
  if (FILE* pipe = ::popen(baseline.c_str(), "r")) {
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof buffer, pipe))
      output.append(buffer, n);
    ::pclose(pipe);
  }
  fs::remove_all(scratch);
  auto hf = nlohmann::json::parse(output, nullptr, false);
  if (hf.is_discarded()) {
    std::cerr << "tokenizer_bench: bench/tokenizer_bench.py gave no result\n";
    return 1;
  }
  const double tailor_single = megabytes / single, tailor_parallel = megabytes / parallel;
  const double hf_single = hf["single_mb_per_s"].get<double>(), hf_batch = hf["batch_mb_per_s"].get<double>();
  const bool same_tokens =
      hf["tokens"].get<long long>() == tailor_tokens && tailor_tokens == tailor_tokens_threads;

  std::printf("%d documents, %.2f MB, %lld tokens (HF: %lld), %d threads for the parallel lines\n",
              s.problems, megabytes, tailor_tokens, hf["tokens"].get<long long>(), threads);
  std::printf("%-40s %10s %10s %8s\n", "name", "value", "baseline", "ratio");
  std::printf("%-40s %10.2f %10.2f %8.3f\n", "tokenizer_encode_mb_per_s", tailor_single, hf_single,
              tailor_single / hf_single);
  std::printf("%-40s %10.2f %10.2f %8.3f\n", "tokenizer_encode_threads_mb_per_s", tailor_parallel, hf_batch,
              tailor_parallel / hf_batch);
  std::printf("%-40s %10d %10d %8s\n", "tokenizer_same_tokens_as_hf", same_tokens ? 1 : 0, 1,
              same_tokens ? "ok" : "DIFF");

  nlohmann::json out = {{"documents", s.problems},
                        {"megabytes", megabytes},
                        {"tokens", tailor_tokens},
                        {"threads", threads},
                        {"tailor_single_mb_per_s", tailor_single},
                        {"tailor_threads_mb_per_s", tailor_parallel},
                        {"hf", hf},
                        {"same_tokens_as_hf", same_tokens}};
  fs::create_directories(s.results);
  std::ofstream{s.results / "tokenizer_bench.json"} << out.dump(2) << "\n";
  return same_tokens ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "tokenizer_bench: " << e.what() << "\n";
    return 1;
  }
}

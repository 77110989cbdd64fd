// A deterministic teacher for tests and benchmarks: echoes the question, with fixed token usage.
#pragma once

#include "io/teacher/chat.hpp"

#include <algorithm>
#include <atomic>
#include <string>

namespace tailor::testing {

// Answers "echo <i>: <last message>" for each sample, with fixed usage: 10 prompt tokens per request and 5
// completion tokens per sample. `max_choices` imitates servers that ignore `n` (llama.cpp, Ollama).
class echo_teacher final : public teacher_backend {
public:
  void complete(chat_request request, callback done) override {
    ++requests;
    const int n = std::min(request.n, max_choices);
    samples += n;
    last_n = request.n;
    chat_response response;
    response.model = request.model.empty() ? "echo" : request.model;
    const std::string said = request.messages.empty() ? "" : request.messages.back().content;
    for (int index = 0; index < n; ++index)
      response.choices.push_back("echo " + std::to_string(index) + ": " + said);
    response.usage = {10, 5 * static_cast<std::int64_t>(n)};
    done(std::move(response));
  }
  void cancel_all() override {}

  int max_choices = 1 << 20;
  std::atomic<int> requests{0};
  std::atomic<int> samples{0};
  std::atomic<int> last_n{0};
};

} // namespace tailor::testing

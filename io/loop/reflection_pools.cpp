#include "io/loop/reflection_pools.hpp"

#include "io/data/prompts.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <unordered_set>

namespace tailor {

std::string collapse_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space)
      out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

reflection_pools::reflection_pools(reflection_pool_options options) : options_(std::move(options)) {}

reflection_pools::entry& reflection_pools::entry_of(const example& problem) {
  auto [it, inserted] = entries_.try_emplace(problem.id);
  if (inserted) {
    it->second.problem = problem;
    order_.push_back(problem.id);
  }
  return it->second;
}

bool reflection_pools::add_positive(const example& problem, const std::string& reasoning, bool fresh,
                                    std::uint64_t weights_version) {
  auto text = collapse_whitespace(reasoning);
  if (text.empty())
    return false;
  auto& e = entry_of(problem);
  if (e.positives.size() >= options_.max_positives ||
      std::find(e.positives.begin(), e.positives.end(), text) != e.positives.end())
    return false;
  if (e.positives.empty())
    with_positives_.push_back(problem.id);
  e.positives.push_back(std::move(text));
  e.positive_versions.push_back(weights_version);
  ++positive_count_;
  if (fresh)
    fresh_.push_back({problem.id, e.positives.size() - 1});
  return true;
}

bool reflection_pools::add_negative(const example& problem, const std::string& reasoning) {
  // The student's own answer line goes: the negative is trained with the gold answer (METHOD.md).
  auto text = collapse_whitespace(std::string_view{reasoning}.substr(0, reasoning.find("\nAnswer")));
  if (text.empty())
    return false;
  auto& e = entry_of(problem);
  if (e.negatives.size() >= options_.max_negatives ||
      std::find(e.negatives.begin(), e.negatives.end(), text) != e.negatives.end())
    return false;
  e.negatives.push_back(std::move(text));
  ++negative_count_;
  return true;
}

std::size_t reflection_pools::positives_of(const std::string& example_id) const {
  auto it = entries_.find(example_id);
  return it == entries_.end() ? 0 : it->second.positives.size();
}

std::size_t reflection_pools::negatives_of(const std::string& example_id) const {
  auto it = entries_.find(example_id);
  return it == entries_.end() ? 0 : it->second.negatives.size();
}

training_item reflection_pools::item(const std::string& example_id, std::size_t index,
                                     std::mt19937_64& rng) const {
  const auto& e = entries_.at(example_id);
  const auto& problem = e.problem;
  training_item out;
  out.example_id = problem.id;
  out.prefix = student_prefix(problem.task, problem.question, options_.demos);
  out.target = student_target(problem.task, e.positives.at(index), problem.answer);
  out.weights_version = e.positive_versions.at(index);
  if (!options_.triplets || e.positives.size() < 2 || e.negatives.empty())
    return out;
  // Another positive than the anchor, and any negative. Negatives keep the student's reasoning but
  // student_target drops its wrong answer line and appends the gold one (METHOD.md's fix of the reference).
  std::uniform_int_distribution<std::size_t> other(0, e.positives.size() - 2);
  auto p = other(rng);
  if (p >= index)
    ++p;
  std::uniform_int_distribution<std::size_t> pick_negative(0, e.negatives.size() - 1);
  out.contrast.anchor = out.target;
  out.contrast.positive = student_target(problem.task, e.positives[p], problem.answer);
  out.contrast.negative = student_target(problem.task, e.negatives[pick_negative(rng)], problem.answer);
  return out;
}

std::vector<training_item> reflection_pools::all_items(std::mt19937_64& rng) const {
  std::vector<training_item> items;
  items.reserve(positive_count_);
  for (const auto& id : with_positives_)
    for (std::size_t i = 0; i < entries_.at(id).positives.size(); ++i)
      items.push_back(item(id, i, rng));
  return items;
}

std::vector<training_item> reflection_pools::draw_batch(std::size_t size, double fresh_share,
                                                        std::mt19937_64& rng) {
  std::vector<training_item> batch;
  if (size == 0 || positive_count_ == 0)
    return batch;
  std::unordered_set<std::string> used;
  const auto fresh_cap = static_cast<std::size_t>(std::clamp(fresh_share, 0.0, 1.0) * static_cast<double>(size));
  // Fresh corrections first, oldest first; one whose question is already in the batch waits for the next.
  std::deque<fresh_item> later;
  while (!fresh_.empty() && batch.size() < fresh_cap) {
    auto next = fresh_.front();
    fresh_.pop_front();
    if (!used.insert(next.example_id).second) {
      later.push_back(next);
      continue;
    }
    auto it = item(next.example_id, next.index, rng);
    it.fresh_correction = true;
    batch.push_back(std::move(it));
  }
  fresh_.insert(fresh_.begin(), later.begin(), later.end());
  // The rest: random questions with positives, a random positive each. Questions outnumber a batch by far
  // in any real run; the bound on tries keeps a tiny pool from looping.
  std::uniform_int_distribution<std::size_t> pick_question(0, with_positives_.size() - 1);
  for (std::size_t tries = 0; batch.size() < size && tries < size * 8; ++tries) {
    const auto& id = with_positives_[pick_question(rng)];
    const auto& e = entries_.at(id);
    if (used.count(id))
      continue;
    used.insert(id);
    std::uniform_int_distribution<std::size_t> pick_positive(0, e.positives.size() - 1);
    batch.push_back(item(id, pick_positive(rng), rng));
  }
  return batch;
}

nlohmann::json reflection_pools::to_json() const {
  auto questions = nlohmann::json::array();
  for (const auto& id : order_) {
    const auto& e = entries_.at(id);
    questions.push_back({{"id", id},
                         {"positives", e.positives},
                         {"positive_versions", e.positive_versions},
                         {"negatives", e.negatives}});
  }
  auto fresh = nlohmann::json::array();
  for (const auto& f : fresh_)
    fresh.push_back({{"id", f.example_id}, {"index", f.index}});
  return {{"questions", std::move(questions)}, {"fresh", std::move(fresh)}};
}

result<reflection_pools> reflection_pools::from_json(const nlohmann::json& saved,
                                                     const std::unordered_map<std::string, example>& problems,
                                                     reflection_pool_options options) {
  reflection_pools pools{std::move(options)};
  try {
    for (const auto& q : saved.at("questions")) {
      const auto id = q.at("id").get<std::string>();
      auto found = problems.find(id);
      if (found == problems.end())
        return problem{"saved pools name question `" + id + "`, which the run's training data lacks"};
      auto& e = pools.entry_of(found->second);
      e.positives = q.at("positives").get<std::vector<std::string>>();
      e.positive_versions = q.at("positive_versions").get<std::vector<std::uint64_t>>();
      e.negatives = q.at("negatives").get<std::vector<std::string>>();
      if (e.positive_versions.size() != e.positives.size())
        return problem{"saved pools of `" + id + "`: positives and their versions differ in number"};
      if (!e.positives.empty())
        pools.with_positives_.push_back(id);
      pools.positive_count_ += e.positives.size();
      pools.negative_count_ += e.negatives.size();
    }
    for (const auto& f : saved.at("fresh")) {
      fresh_item item{f.at("id").get<std::string>(), f.at("index").get<std::size_t>()};
      if (pools.positives_of(item.example_id) <= item.index)
        return problem{"saved pools: fresh correction " + std::to_string(item.index) + " of `" +
                       item.example_id + "` does not exist"};
      pools.fresh_.push_back(std::move(item));
    }
  } catch (const nlohmann::json::exception& error) {
    return problem{std::string{"saved pools are malformed: "} + error.what()};
  }
  return pools;
}

} // namespace tailor

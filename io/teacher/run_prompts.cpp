// A run config's `prompts` section as the teacher's prompt templates (io/teacher/run_prompts.hpp).
#include "io/teacher/run_prompts.hpp"

#include "messages/run_config_keys.hpp"

#include <nlohmann/json.hpp>

#include <string_view>

namespace tailor {
namespace {

using nlohmann::json;

// The non-empty prompt texts of `prompts` under their config keys, which are load_prompt_templates' keys.
// `demos` is the student's, not the teacher's.
json prompt_overrides(prompt_config prompts) {
  json overrides = json::object();
  auto collect = [&overrides](std::string_view key, const std::string& text) {
    if (key != "demos" && !text.empty())
      overrides[std::string(key)] = text;
  };
  config_keys::fields(collect, prompts);
  return overrides;
}

// "prompt templates: `cot_user` lacks ..." → "prompts.cot_user: lacks ...".
std::string located_prompt_problem(const std::string& message) {
  constexpr std::string_view lead = "prompt templates: `";
  const auto key_end = message.starts_with(lead) ? message.find("` ", lead.size()) : std::string::npos;
  if (key_end == std::string::npos)
    return "prompts: " + message;
  return "prompts." + message.substr(lead.size(), key_end - lead.size()) + ": " + message.substr(key_end + 2);
}

} // namespace

result<prompt_templates> prompt_templates_of(const prompt_config& prompts) {
  auto templates = load_prompt_templates(prompt_overrides(prompts));
  if (!templates)
    return problem{located_prompt_problem(templates.error().message)};
  return templates;
}

std::vector<std::string> prompt_problems(const prompt_config& prompts) {
  std::vector<std::string> problems;
  const auto overrides = prompt_overrides(prompts); // items() refers to it: it must outlive the loop
  for (const auto& [key, text] : overrides.items())
    if (auto templates = load_prompt_templates(json{{key, text}}); !templates)
      problems.push_back(located_prompt_problem(templates.error().message));
  return problems;
}

} // namespace tailor

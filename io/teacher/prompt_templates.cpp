// The template engine behind the teacher's prompts (filling and matching `{name}` placeholders), and the
// loading and checking of a run's template overrides.
#include "io/teacher/teacher_prompts.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tailor {
namespace {

struct template_piece {
  bool placeholder = false;
  std::string_view text; // the literal, or the placeholder's name
};

std::vector<template_piece> pieces_of(std::string_view text_template) {
  std::vector<template_piece> pieces;
  std::size_t literal_from = 0;
  for (std::size_t i = 0; i < text_template.size(); ++i) {
    if (text_template[i] != '{')
      continue;
    std::size_t end = i + 1;
    while (end < text_template.size() &&
           ((text_template[end] >= 'a' && text_template[end] <= 'z') || text_template[end] == '_'))
      ++end;
    if (end == i + 1 || end == text_template.size() || text_template[end] != '}')
      continue;
    if (i > literal_from)
      pieces.push_back({false, text_template.substr(literal_from, i - literal_from)});
    pieces.push_back({true, text_template.substr(i + 1, end - i - 1)});
    literal_from = end + 1;
    i = end;
  }
  if (literal_from < text_template.size())
    pieces.push_back({false, text_template.substr(literal_from)});
  return pieces;
}

// ---- template checks --------------------------------------------------------------------------------------

struct template_rule {
  std::string_view key;
  std::string prompt_templates::*text;
  std::vector<std::string_view> allowed;
  std::vector<std::string_view> required;
};

const std::array<template_rule, 4>& template_rules() {
  static const std::array<template_rule, 4> rules = {{
      {"cot_system", &prompt_templates::cot_system, {"demos", "question", "reply_format"}, {}},
      {"cot_user", &prompt_templates::cot_user, {"demos", "question", "reply_format"}, {"question"}},
      {"feedback_system",
       &prompt_templates::feedback_system,
       {"demos", "question", "reply_format", "student_reasoning", "gold_answer"},
       {}},
      {"feedback_user",
       &prompt_templates::feedback_user,
       {"demos", "question", "reply_format", "student_reasoning", "gold_answer"},
       {"question", "student_reasoning", "gold_answer"}},
  }};
  return rules;
}

std::string braced_list(const std::vector<std::string_view>& names) {
  std::string list;
  for (const auto name : names)
    list.append(list.empty() ? "{" : ", {").append(name).append("}");
  return list;
}

status check_template(const template_rule& rule, std::string_view text) {
  const auto pieces = pieces_of(text);
  const auto uses = [&](std::string_view name) {
    return std::any_of(pieces.begin(), pieces.end(),
                       [&](const template_piece& p) { return p.placeholder && p.text == name; });
  };
  for (const auto& piece : pieces)
    if (piece.placeholder &&
        std::find(rule.allowed.begin(), rule.allowed.end(), piece.text) == rule.allowed.end())
      return problem{"prompt templates: `" + std::string(rule.key) + "` uses {" + std::string(piece.text) +
                     "}, which it cannot fill (it may use " + braced_list(rule.allowed) + ")"};
  for (const auto name : rule.required)
    if (!uses(name))
      return problem{"prompt templates: `" + std::string(rule.key) + "` lacks the placeholder {" +
                     std::string(name) + "} (it must hold " + braced_list(rule.required) + ")"};
  return ok_status();
}

} // namespace

result<prompt_templates> load_prompt_templates(const nlohmann::json& overrides) {
  prompt_templates templates = default_prompt_templates();
  if (overrides.is_null())
    return templates;
  if (!overrides.is_object())
    return problem{"prompt templates must be a JSON object, not " + overrides.dump()};
  for (const auto& [key, value] : overrides.items()) {
    const auto& rules = template_rules();
    const auto rule = std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return r.key == key; });
    if (rule == rules.end())
      return problem{"prompt templates: unknown key `" + key +
                     "` (the keys are cot_system, cot_user, feedback_system, feedback_user)"};
    if (!value.is_string())
      return problem{"prompt templates: `" + key + "` must be a string, not " + value.dump()};
    templates.*(rule->text) = value.get<std::string>();
  }
  for (const auto& rule : template_rules())
    if (auto checked = check_template(rule, templates.*(rule.text)); !checked)
      return checked.error();
  return templates;
}

nlohmann::json to_json(const prompt_templates& templates) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& rule : template_rules())
    object[std::string(rule.key)] = templates.*(rule.text);
  return object;
}

std::string fill_template(std::string_view text_template, const template_values& values) {
  std::string filled;
  for (const auto& piece : pieces_of(text_template)) {
    if (!piece.placeholder) {
      filled.append(piece.text);
    } else if (const auto value = values.find(piece.text); value != values.end()) {
      filled.append(value->second);
    } else {
      filled.append("{").append(piece.text).append("}");
    }
  }
  return filled;
}

std::optional<template_values> match_template(std::string_view text_template, std::string_view text) {
  const auto pieces = pieces_of(text_template);
  template_values values;
  std::optional<std::string_view> pending; // a placeholder waiting for the literal that ends its value
  std::size_t at = 0;
  const auto settle = [&](std::size_t end) {
    const auto value = text.substr(at, end - at);
    const auto [slot, fresh] = values.try_emplace(std::string(*pending), value);
    pending.reset();
    return fresh || slot->second == value; // a placeholder used twice must be filled alike
  };
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& piece = pieces[i];
    if (piece.placeholder) {
      if (pending && !settle(at))
        return std::nullopt;
      pending = piece.text;
      continue;
    }
    std::size_t found = std::string_view::npos;
    if (!pending)
      found = text.substr(at).starts_with(piece.text) ? at : std::string_view::npos;
    else if (i + 1 == pieces.size())
      found = text.size() >= at + piece.text.size() && text.ends_with(piece.text)
                  ? text.size() - piece.text.size()
                  : std::string_view::npos;
    else
      found = text.find(piece.text, at);
    if (found == std::string_view::npos || (pending && !settle(found)))
      return std::nullopt;
    at = found + piece.text.size();
  }
  if (pending ? !settle(text.size()) : at != text.size())
    return std::nullopt;
  return values;
}

} // namespace tailor

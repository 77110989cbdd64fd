// Typed reads of `config.json` fields whose errors name the field, shared by the model config's parsers.
#pragma once

#include "io/common/result.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tailor::gpu::config_fields {

// "field `rope_scaling.factor`": `prefix` names the object that holds `key` (empty at the top level).
std::string field(std::string_view key, std::string_view prefix = {});

// The key is there and not null.
bool present(const nlohmann::json& object, std::string_view key);

// Each reader leaves `target` alone when the key is absent or null, and says what is wrong with a value of
// the wrong type (or an integer that does not fit an int).
status read(const nlohmann::json& object, std::string_view key, int& target, std::string_view prefix = {});
status read(const nlohmann::json& object, std::string_view key, double& target, std::string_view prefix = {});
status read(const nlohmann::json& object, std::string_view key, bool& target, std::string_view prefix = {});
status read(const nlohmann::json& object, std::string_view key, std::string& target,
            std::string_view prefix = {});

// As read(), but an absent or null key is an error.
status read_required(const nlohmann::json& object, std::string_view key, int& target,
                     std::string_view prefix = {});
status read_required(const nlohmann::json& object, std::string_view key, double& target,
                     std::string_view prefix = {});

// A token id: an integer, null (none: -1) or, in newer configs, a list whose first entry is taken.
status read_token_id(const nlohmann::json& object, std::string_view key, int& target);

// A value as a config file shows it, for messages: strings without their quotes.
std::string shown(const nlohmann::json& value);

} // namespace tailor::gpu::config_fields

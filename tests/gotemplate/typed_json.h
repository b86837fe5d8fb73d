// Builds template Values from the data sets of tests/gotemplate/cases.json,
// typed the way reference.go types them in Go, so that both engines see
// identical data. Shared by the unit test and the differential driver.
#pragma once

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "gotemplate/template.h"

namespace berth::gotemplate::testing {

// The Value of JSON `value` in an interface{} slot: integers become int,
// other numbers float64, arrays []interface {}, objects
// map[string]interface {}.
inline Value inferred_value(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return Value();
    case nlohmann::json::value_t::boolean: return Value::boolean(value.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return Value::integer(value.get<std::int64_t>(), "int");
    case nlohmann::json::value_t::number_float: return Value::floating(value.get<double>());
    case nlohmann::json::value_t::string: return Value::string(value.get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      for (const auto& item : value) items.push_back(inferred_value(item));
      return Value::list(std::move(items), "[]interface {}");
    }
    case nlohmann::json::value_t::object: {
      Value::Fields entries;
      for (const auto& [key, item] : value.items()) entries.emplace_back(key, inferred_value(item));
      return Value::map(std::move(entries), "map[string]interface {}");
    }
    default: throw std::invalid_argument("unsupported JSON value " + value.dump());
  }
}

// The Value of JSON `value` as Go type `type`, such as "int64", "[]string",
// "map[string]int" or "main.Image". `types` is the "types" section of the
// case file, which lists each struct's fields in order.
inline Value typed_value(const nlohmann::json& value, std::string_view type, const nlohmann::json& types) {
  std::string type_name(type);
  auto mismatch = [&] {
    return std::invalid_argument("JSON value " + value.dump() + " does not fit Go type " + type_name);
  };
  if (type == "interface {}") return inferred_value(value);
  if (type == "string") {
    if (!value.is_string()) throw mismatch();
    return Value::string(value.get<std::string>());
  }
  if (type == "bool") {
    if (!value.is_boolean()) throw mismatch();
    return Value::boolean(value.get<bool>());
  }
  if (type == "int" || type == "int64") {
    if (!value.is_number_integer()) throw mismatch();
    return Value::integer(value.get<std::int64_t>(), type_name);
  }
  if (type == "float64") {
    if (!value.is_number()) throw mismatch();
    return Value::floating(value.get<double>());
  }

  if (type.starts_with("[]")) {
    if (!value.is_array()) throw mismatch();
    std::vector<Value> items;
    for (const auto& item : value) items.push_back(typed_value(item, type.substr(2), types));
    return Value::list(std::move(items), type_name);
  }
  constexpr std::string_view kMapPrefix = "map[string]";
  if (type.starts_with(kMapPrefix)) {
    if (!value.is_object()) throw mismatch();
    Value::Fields entries;
    for (const auto& [key, item] : value.items()) {
      entries.emplace_back(key, typed_value(item, type.substr(kMapPrefix.size()), types));
    }
    return Value::map(std::move(entries), type_name);
  }

  if (!types.contains(type_name)) throw std::invalid_argument("unknown Go type " + type_name);
  const auto& declared = types.at(type_name);
  if (!value.is_object() || value.size() != declared.size()) {
    throw std::invalid_argument("JSON object " + value.dump() + " must give every field of " + type_name);
  }
  Value::Fields fields;
  for (const auto& field : declared) {
    const std::string name = field.at(0).get<std::string>();
    if (!value.contains(name)) throw std::invalid_argument("JSON object for " + type_name + " lacks field " + name);
    fields.emplace_back(name, typed_value(value.at(name), field.at(1).get<std::string>(), types));
  }
  return Value::structure(std::move(fields), type_name);
}

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

// Every data set of the case file, by name.
inline std::map<std::string, Value> load_data_sets(const nlohmann::json& cases) {
  std::map<std::string, Value> sets;
  for (const auto& [name, set] : cases.at("data").items()) {
    sets[name] = typed_value(set.at("value"), set.at("type").get<std::string>(), cases.at("types"));
  }
  return sets;
}

// Runs a template as --format would; returns the output, or sets `error`.
inline std::string run_template(const std::string& text, const Value& data, std::string& error) {
  error.clear();
  try {
    return Template::parse(text).execute(data);
  } catch (const TemplateError& e) {
    error = e.what();
    return {};
  }
}

}  // namespace berth::gotemplate::testing

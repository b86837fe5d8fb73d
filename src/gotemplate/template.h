// Go's text/template, as the CLI's --format option uses it: the same
// syntax, functions, printing rules and error messages as Go 1.19.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::gotemplate {

// A value a template can see, typed as Go would type it.
class Value {
 public:
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kList, kMap, kStruct };
  using Fields = std::vector<std::pair<std::string, Value>>;

  Value() = default;  // nil
  static Value boolean(bool value);
  static Value integer(std::int64_t value);
  static Value floating(double value);
  static Value string(std::string value);
  static Value list(std::vector<Value> items);
  // A Go map[string]T: keys print and range in sorted order.
  static Value map(Fields entries);
  // A Go struct: fields print in declaration order.
  static Value structure(Fields fields);

  Kind kind() const { return kind_; }
  bool as_bool() const { return bool_; }
  std::int64_t as_int() const { return int_; }
  double as_float() const { return float_; }
  const std::string& as_string() const { return string_; }
  const std::vector<Value>& items() const { return items_; }
  const Fields& fields() const { return fields_; }
  // The field or map entry called `name`, or nullptr.
  const Value* find(std::string_view name) const;

 private:
  Kind kind_ = Kind::kNil;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  std::vector<Value> items_;
  Fields fields_;
};

// A parse or execution error; what() reads like Go's, for example
// `template: format:1:8: unexpected "}" in operand`.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Template {
 public:
  // Throws TemplateError when `text` does not parse.
  static Template parse(std::string_view text, std::string name = "format");
  // Throws TemplateError when execution fails.
  std::string execute(const Value& data) const;

 private:
  struct Tree;
  std::shared_ptr<const Tree> tree_;
};

}  // namespace berth::gotemplate

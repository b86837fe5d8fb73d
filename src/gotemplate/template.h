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
//
// Every factory takes an optional Go type name, which appears only in
// error messages and in the output of printf's %T and %#v: "int64" for an
// integer field declared int64, "[]string" for a []string, "main.Image" for
// a struct. An empty name means the default for the kind: bool, int,
// float64, string, []interface {}, map[string]interface {}, or an unnamed
// struct type spelled from the field types. Elements of a list or map whose
// type name has the element type `interface {}` behave as Go's interface
// values do (a nil element prints as <nil> inside the container).
class Value {
 public:
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kList, kMap, kStruct };
  using Fields = std::vector<std::pair<std::string, Value>>;

  Value() = default;  // nil: Go's nil interface value
  static Value boolean(bool value, std::string type_name = {});
  static Value integer(std::int64_t value, std::string type_name = {});
  static Value floating(double value, std::string type_name = {});
  static Value string(std::string value, std::string type_name = {});
  static Value list(std::vector<Value> items, std::string type_name = {});
  // A Go map[string]T: keys print and range in sorted order. When a key
  // repeats, the last entry wins.
  static Value map(Fields entries, std::string type_name = {});
  // A Go struct: fields print in declaration order. A field that is nil is
  // treated as a field of type interface{}.
  static Value structure(Fields fields, std::string type_name = {});

  Kind kind() const { return kind_; }
  bool as_bool() const { return bool_; }
  std::int64_t as_int() const { return int_; }
  double as_float() const { return float_; }
  const std::string& as_string() const { return string_; }
  const std::vector<Value>& items() const { return items_; }
  // Struct fields in declaration order, or map entries sorted by key.
  const Fields& fields() const { return fields_; }
  // The field or map entry called `name`, or nullptr.
  const Value* find(std::string_view name) const;
  // The Go type, for example "int64", "[]string" or "main.Image".
  std::string type_name() const;

 private:
  Kind kind_ = Kind::kNil;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  std::vector<Value> items_;
  Fields fields_;
  std::string type_name_;
};

// A parse or execution error; what() reads like Go's, for example
// `template: format:1: unexpected "}" in operand` (parse errors carry only
// a line in Go 1.19) or `template: format:1:2: executing "format" at
// <.Foo>: can't evaluate field Foo in type main.Image`.
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

  struct Tree;

 private:
  std::shared_ptr<const Tree> tree_;
};

}  // namespace berth::gotemplate

// The template's predefined functions (and, index, len, eq, printf, ...)
// and the value references that execution passes around.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gotemplate/template.h"

namespace berth::gotemplate {

// A value during execution: a pointer into the data or into a value the
// template computed, which `owner` keeps alive. A null pointer is Go's
// invalid reflect.Value, which prints as "<no value>" (a missing map key,
// for example). `boxed` marks a value read from an interface{} slot, whose
// static type is interface {}.
struct Ref {
  const Value* value = nullptr;
  std::shared_ptr<const Value> owner;
  bool boxed = false;

  bool valid() const { return value != nullptr; }
  bool is_nil() const { return value != nullptr && value->kind() == Value::Kind::kNil; }
  // The static Go type: interface {} for a boxed value.
  std::string static_type() const;
};

Ref make_ref(Value value);
// A reference to `child`, which lives inside `parent`'s value.
Ref child_ref(const Ref& parent, const Value& child, bool boxed);
// Go's reflect.Value of the thing inside an interface: a boxed nil becomes
// invalid and a boxed value loses its box.
Ref unbox(Ref ref);
// Whether the list or map stores interface{} elements.
bool holds_interfaces(const Value& container);

// Go's template truth: false, 0, "", nil and empty containers are false.
bool is_true(const Ref& ref);

// How a builtin takes its parameters, which decides how template
// arguments convert: reflect.Value keeps invalid values, interface{}
// turns them into nil, string accepts only strings.
enum class ParamKind { kReflectValue, kInterface, kString };

struct Signature {
  std::vector<ParamKind> fixed;
  std::optional<ParamKind> variadic;
};

// The signature of builtin `name`, which must exist.
const Signature& builtin_signature(std::string_view name);

// Calls a builtin other than and/or (execution short-circuits those).
// Returns the result, or sets `error` to Go's error text and returns an
// invalid reference.
Ref call_builtin(std::string_view name, const std::vector<Ref>& args, std::string& error);

}  // namespace berth::gotemplate

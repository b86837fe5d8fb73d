#include "gotemplate/builtins.h"

#include <map>

#include "gotemplate/go_format.h"
#include "gotemplate/go_strconv.h"

namespace berth::gotemplate {

namespace {

using Kind = Value::Kind;

const Value& nil_value() {
  static const Value nil;
  return nil;
}

// Go's basic kinds for comparisons.
enum class BasicKind { kInvalid, kBool, kInt, kFloat, kString, kUint };

BasicKind basic_kind(const Ref& ref) {
  if (!ref.valid()) return BasicKind::kInvalid;
  switch (ref.value->kind()) {
    case Kind::kBool: return BasicKind::kBool;
    case Kind::kInt: return ref.value->type_name().starts_with("uint") ? BasicKind::kUint : BasicKind::kInt;
    case Kind::kFloat: return BasicKind::kFloat;
    case Kind::kString: return BasicKind::kString;
    default: return BasicKind::kInvalid;
  }
}

// reflect.Kind names that matter for canCompare: values of different kinds
// other than invalid cannot be compared.
int reflect_kind(const Ref& ref) { return ref.valid() ? static_cast<int>(ref.value->kind()) : -1; }

bool type_is_comparable(const Value& value) {
  switch (value.kind()) {
    case Kind::kList:
    case Kind::kMap: return false;
    case Kind::kStruct:
      for (const auto& [name, field] : value.fields()) {
        if (field.kind() != Kind::kNil && !type_is_comparable(field)) return false;
      }
      return true;
    default: return true;
  }
}

bool values_equal(const Value& a, const Value& b) {
  if (a.kind() != b.kind() || a.type_name() != b.type_name()) return false;
  switch (a.kind()) {
    case Kind::kNil: return true;
    case Kind::kBool: return a.as_bool() == b.as_bool();
    case Kind::kInt: return a.as_int() == b.as_int();
    case Kind::kFloat: return a.as_float() == b.as_float();
    case Kind::kString: return a.as_string() == b.as_string();
    case Kind::kStruct:
      if (a.fields().size() != b.fields().size()) return false;
      for (std::size_t i = 0; i < a.fields().size(); ++i) {
        if (!values_equal(a.fields()[i].second, b.fields()[i].second)) return false;
      }
      return true;
    default: return false;
  }
}

std::string format_s(const Value& value) { return go_sprintf("%s", {&value}); }
std::string format_v(const Value& value) { return go_sprint({&value}); }

// The Go type of the elements of a list or the values of a map, from its
// type name ("[]T" or "map[string]T").
std::string element_type(const Value& container) {
  std::string name = container.type_name();
  if (name.starts_with("[]")) return name.substr(2);
  if (name.starts_with("map[")) {
    std::size_t close = name.find(']');
    if (close != std::string::npos) return name.substr(close + 1);
  }
  return "interface {}";
}

// The zero value of type `type`; `sample` is a value of that type, when
// one is at hand, to learn a struct's fields from.
Value zero_value(const std::string& type, const Value* sample) {
  if (type == "interface {}") return Value();
  if (type == "string") return Value::string("");
  if (type == "bool") return Value::boolean(false);
  if (type == "float64" || type == "float32") return Value::floating(0, type);
  if (type.starts_with("int") || type.starts_with("uint")) return Value::integer(0, type);
  if (type.starts_with("[]")) return Value::list({}, type);
  if (type.starts_with("map[")) return Value::map({}, type);
  if (sample != nullptr && sample->kind() == Kind::kStruct) {
    Value::Fields fields;
    for (const auto& [name, field] : sample->fields()) {
      fields.emplace_back(name, field.kind() == Kind::kNil ? Value() : zero_value(field.type_name(), &field));
    }
    return Value::structure(std::move(fields), sample->type_name());
  }
  // NOTE: the zero value of a struct type with no sample to copy is
  // returned as nil.
  return Value();
}

// Go's indexArg: an integer index into something of length `cap`.
std::optional<std::int64_t> index_argument(const Ref& index, std::size_t cap, std::string& error) {
  Ref i = unbox(index);
  if (!i.valid()) {
    error = "cannot index slice/array with nil";
    return std::nullopt;
  }
  if (i.value->kind() != Kind::kInt) {
    error = "cannot index slice/array with type " + i.value->type_name();
    return std::nullopt;
  }
  std::int64_t x = i.value->as_int();
  if (x < 0 || static_cast<std::uint64_t>(x) > cap) {
    error = "index out of range: " + std::to_string(x);
    return std::nullopt;
  }
  return x;
}

Ref builtin_index(const std::vector<Ref>& args, std::string& error) {
  Ref item = unbox(args[0]);
  if (!item.valid()) {
    error = "index of untyped nil";
    return {};
  }
  for (std::size_t k = 1; k < args.size(); ++k) {
    if (item.is_nil()) {
      error = "index of nil pointer";
      return {};
    }
    const Value& container = *item.value;
    switch (container.kind()) {
      case Kind::kList:
      case Kind::kString: {
        std::size_t length = container.kind() == Kind::kList ? container.items().size() : container.as_string().size();
        auto x = index_argument(args[k], length, error);
        if (!x) return {};
        auto position = static_cast<std::size_t>(*x);
        if (position == length) {
          // Go's range check admits the length itself; reflect then panics.
          error = container.kind() == Kind::kList ? "reflect: slice index out of range"
                                                  : "reflect: string index out of range";
          return {};
        }
        if (container.kind() == Kind::kString) {
          item = make_ref(Value::integer(static_cast<unsigned char>(container.as_string()[position]), "uint8"));
        } else {
          item = child_ref(item, container.items()[position], holds_interfaces(container));
        }
        break;
      }
      case Kind::kMap: {
        Ref key = unbox(args[k]);
        if (!key.valid()) {
          error = "value is nil; should be of type string";
          return {};
        }
        if (key.value->kind() != Kind::kString) {
          error = "value has type " + key.value->type_name() + "; should be string";
          return {};
        }
        bool boxed = holds_interfaces(container);
        if (const Value* found = container.find(key.value->as_string())) {
          item = child_ref(item, *found, boxed);
        } else {
          const Value* sample = container.fields().empty() ? nullptr : &container.fields().front().second;
          Ref zero = make_ref(zero_value(element_type(container), sample));
          zero.boxed = boxed;
          item = zero;
        }
        break;
      }
      default: error = "can't index item of type " + container.type_name(); return {};
    }
  }
  return item;
}

Ref builtin_slice(const std::vector<Ref>& args, std::string& error) {
  Ref item = unbox(args[0]);
  if (!item.valid()) {
    error = "slice of untyped nil";
    return {};
  }
  std::size_t count = args.size() - 1;
  if (count > 3) {
    error = "too many slice indexes: " + std::to_string(count);
    return {};
  }

  const Value& value = *item.value;
  std::size_t length;
  if (value.kind() == Kind::kString) {
    if (count == 3) {
      error = "cannot 3-index slice a string";
      return {};
    }
    length = value.as_string().size();
  } else if (value.kind() == Kind::kList) {
    length = value.items().size();
  } else {
    error = "can't slice item of type " + value.type_name();
    return {};
  }

  std::int64_t bounds[3] = {0, static_cast<std::int64_t>(length), 0};
  for (std::size_t k = 0; k < count; ++k) {
    auto x = index_argument(args[k + 1], length, error);
    if (!x) return {};
    bounds[k] = *x;
  }
  if (bounds[0] > bounds[1]) {
    error = "invalid slice index: " + std::to_string(bounds[0]) + " > " + std::to_string(bounds[1]);
    return {};
  }
  if (count == 3 && bounds[1] > bounds[2]) {
    error = "invalid slice index: " + std::to_string(bounds[1]) + " > " + std::to_string(bounds[2]);
    return {};
  }

  auto from = static_cast<std::size_t>(bounds[0]);
  auto to = static_cast<std::size_t>(bounds[1]);
  if (value.kind() == Kind::kString)
    return make_ref(Value::string(value.as_string().substr(from, to - from), value.type_name()));
  std::vector<Value> items(value.items().begin() + static_cast<std::ptrdiff_t>(from),
                           value.items().begin() + static_cast<std::ptrdiff_t>(to));
  return make_ref(Value::list(std::move(items), value.type_name()));
}

Ref builtin_len(const Ref& arg, std::string& error) {
  if (!arg.valid()) {
    // Go calls reflect.Value.Type on the invalid value, which panics.
    error = "reflect: call of reflect.Value.Type on zero Value";
    return {};
  }
  if (arg.is_nil()) {
    error = "len of nil pointer";
    return {};
  }
  switch (arg.value->kind()) {
    case Kind::kList: return make_ref(Value::integer(static_cast<std::int64_t>(arg.value->items().size())));
    case Kind::kMap: return make_ref(Value::integer(static_cast<std::int64_t>(arg.value->fields().size())));
    case Kind::kString: return make_ref(Value::integer(static_cast<std::int64_t>(arg.value->as_string().size())));
    default: error = "len of type " + arg.value->type_name(); return {};
  }
}

std::optional<bool> builtin_eq(const std::vector<Ref>& args, std::string& error) {
  Ref first = unbox(args[0]);
  if (args.size() < 2) {
    error = "missing argument for comparison";
    return std::nullopt;
  }
  BasicKind k1 = basic_kind(first);
  for (std::size_t k = 1; k < args.size(); ++k) {
    Ref other = unbox(args[k]);
    BasicKind k2 = basic_kind(other);
    bool truth = false;
    if (k1 != k2) {
      if (k1 == BasicKind::kInt && k2 == BasicKind::kUint) {
        truth = first.value->as_int() >= 0 && first.value->as_int() == other.value->as_int();
      } else if (k1 == BasicKind::kUint && k2 == BasicKind::kInt) {
        truth = other.value->as_int() >= 0 && first.value->as_int() == other.value->as_int();
      } else if (first.valid() && other.valid()) {
        error = "incompatible types for comparison";
        return std::nullopt;
      }
    } else {
      switch (k1) {
        case BasicKind::kBool: truth = first.value->as_bool() == other.value->as_bool(); break;
        case BasicKind::kFloat: truth = first.value->as_float() == other.value->as_float(); break;
        case BasicKind::kInt:
        case BasicKind::kUint: truth = first.value->as_int() == other.value->as_int(); break;
        case BasicKind::kString: truth = first.value->as_string() == other.value->as_string(); break;
        case BasicKind::kInvalid:
          if (first.valid() && other.valid() && reflect_kind(first) != reflect_kind(other)) {
            error = "non-comparable types " + format_s(*first.value) + ": " + first.value->type_name() + ", " +
                    other.value->type_name() + ": " + format_v(*other.value);
            return std::nullopt;
          }
          if (!first.valid() || !other.valid()) {
            truth = first.valid() == other.valid();
          } else {
            if (!type_is_comparable(*other.value)) {
              error = "non-comparable type " + format_s(*other.value) + ": " + other.value->type_name();
              return std::nullopt;
            }
            truth = values_equal(*first.value, *other.value);
          }
          break;
      }
    }
    if (truth) return true;
  }
  return false;
}

std::optional<bool> builtin_lt(const Ref& left, const Ref& right, std::string& error) {
  Ref a = unbox(left);
  Ref b = unbox(right);
  BasicKind k1 = basic_kind(a);
  BasicKind k2 = basic_kind(b);
  if (k1 == BasicKind::kInvalid || k2 == BasicKind::kInvalid) {
    error = "invalid type for comparison";
    return std::nullopt;
  }
  if (k1 != k2) {
    if (k1 == BasicKind::kInt && k2 == BasicKind::kUint) return a.value->as_int() < b.value->as_int();
    if (k1 == BasicKind::kUint && k2 == BasicKind::kInt)
      return b.value->as_int() >= 0 && a.value->as_int() < b.value->as_int();
    error = "incompatible types for comparison";
    return std::nullopt;
  }
  switch (k1) {
    case BasicKind::kFloat: return a.value->as_float() < b.value->as_float();
    case BasicKind::kInt:
    case BasicKind::kUint: return a.value->as_int() < b.value->as_int();
    case BasicKind::kString: return a.value->as_string() < b.value->as_string();
    default: error = "invalid type for comparison"; return std::nullopt;
  }
}

std::optional<bool> builtin_le(const Ref& a, const Ref& b, std::string& error) {
  auto less = builtin_lt(a, b, error);
  if (!less || *less) return less;
  return builtin_eq({a, b}, error);
}

// fmt arguments: what a function with ...interface{} parameters receives.
FormatArgs format_args(const std::vector<Ref>& args, std::size_t from) {
  FormatArgs out;
  for (std::size_t k = from; k < args.size(); ++k) out.push_back(args[k].valid() ? args[k].value : &nil_value());
  return out;
}

// The text that html, js and urlquery escape: a lone string argument as it
// is, anything else printed with fmt.Sprint, a nil as "<no value>".
std::string escaper_input(const std::vector<Ref>& args) {
  if (args.size() == 1 && args[0].valid() && args[0].value->kind() == Kind::kString &&
      args[0].value->type_name() == "string") {
    return args[0].value->as_string();
  }
  static const Value no_value = Value::string("<no value>");
  FormatArgs printable;
  for (const Ref& arg : args) printable.push_back(!arg.valid() || arg.is_nil() ? &no_value : arg.value);
  return go_sprint(printable);
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\0': out += "\uFFFD"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string js_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        case '"': out += "\\\""; break;
        case '<': out += "\\u003C"; break;
        case '>': out += "\\u003E"; break;
        case '&': out += "\\u0026"; break;
        case '=': out += "\\u003D"; break;
        default:
          if (c < ' ') {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::size_t width = 0;
    char32_t rune = decode_rune(s, i, width);
    if (is_print(rune)) {
      out.append(s.substr(i, width));
    } else {
      std::string hex;
      for (char32_t v = rune; v != 0 || hex.empty(); v >>= 4) hex.insert(hex.begin(), kHex[v & 0xF]);
      if (hex.size() < 4) hex.insert(0, 4 - hex.size(), '0');
      out += "\\u" + hex;
    }
    i += width;
  }
  return out;
}

// url.QueryEscape.
std::string query_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

Ref bool_ref(std::optional<bool> value) { return value ? make_ref(Value::boolean(*value)) : Ref{}; }

}  // namespace

std::string Ref::static_type() const {
  if (!valid()) return "<nil>";
  if (boxed || is_nil()) return "interface {}";
  return value->type_name();
}

Ref make_ref(Value value) {
  auto owner = std::make_shared<const Value>(std::move(value));
  const Value* pointer = owner.get();
  return Ref{pointer, std::move(owner), false};
}

Ref child_ref(const Ref& parent, const Value& child, bool boxed) {
  return Ref{&child, parent.owner, boxed || child.kind() == Kind::kNil};
}

Ref unbox(Ref ref) {
  if (ref.is_nil()) return {};
  ref.boxed = false;
  return ref;
}

bool holds_interfaces(const Value& container) { return container.type_name().ends_with("]interface {}"); }

bool is_true(const Ref& ref) {
  Ref v = unbox(ref);
  if (!v.valid()) return false;
  const Value& value = *v.value;
  switch (value.kind()) {
    case Kind::kNil: return false;
    case Kind::kBool: return value.as_bool();
    case Kind::kInt: return value.as_int() != 0;
    case Kind::kFloat: return value.as_float() != 0;
    case Kind::kString: return !value.as_string().empty();
    case Kind::kList: return !value.items().empty();
    case Kind::kMap: return !value.fields().empty();
    case Kind::kStruct: return true;
  }
  return false;
}

const Signature& builtin_signature(std::string_view name) {
  using P = ParamKind;
  static const std::map<std::string, Signature, std::less<>> signatures = {
      {"and", {{P::kReflectValue}, P::kReflectValue}},
      {"or", {{P::kReflectValue}, P::kReflectValue}},
      {"not", {{P::kReflectValue}, std::nullopt}},
      {"len", {{P::kReflectValue}, std::nullopt}},
      {"index", {{P::kReflectValue}, P::kReflectValue}},
      {"slice", {{P::kReflectValue}, P::kReflectValue}},
      {"call", {{P::kReflectValue}, P::kReflectValue}},
      {"eq", {{P::kReflectValue}, P::kReflectValue}},
      {"ne", {{P::kReflectValue, P::kReflectValue}, std::nullopt}},
      {"lt", {{P::kReflectValue, P::kReflectValue}, std::nullopt}},
      {"le", {{P::kReflectValue, P::kReflectValue}, std::nullopt}},
      {"gt", {{P::kReflectValue, P::kReflectValue}, std::nullopt}},
      {"ge", {{P::kReflectValue, P::kReflectValue}, std::nullopt}},
      {"html", {{}, P::kInterface}},
      {"js", {{}, P::kInterface}},
      {"urlquery", {{}, P::kInterface}},
      {"print", {{}, P::kInterface}},
      {"println", {{}, P::kInterface}},
      {"printf", {{P::kString}, P::kInterface}},
  };
  return signatures.find(name)->second;
}

Ref call_builtin(std::string_view name, const std::vector<Ref>& args, std::string& error) {
  if (name == "not") return make_ref(Value::boolean(!is_true(args[0])));
  if (name == "len") return builtin_len(args[0], error);
  if (name == "index") return builtin_index(args, error);
  if (name == "slice") return builtin_slice(args, error);
  if (name == "call") {
    Ref function = unbox(args[0]);
    error = function.valid() ? "non-function of type " + function.value->type_name() : "call of nil";
    return {};
  }

  if (name == "eq") return bool_ref(builtin_eq(args, error));
  if (name == "ne") {
    auto equal = builtin_eq(args, error);
    return bool_ref(equal ? std::optional<bool>(!*equal) : std::nullopt);
  }
  if (name == "lt") return bool_ref(builtin_lt(args[0], args[1], error));
  if (name == "le") return bool_ref(builtin_le(args[0], args[1], error));
  if (name == "gt") {
    auto less_or_equal = builtin_le(args[0], args[1], error);
    return bool_ref(less_or_equal ? std::optional<bool>(!*less_or_equal) : std::nullopt);
  }
  if (name == "ge") {
    auto less = builtin_lt(args[0], args[1], error);
    return bool_ref(less ? std::optional<bool>(!*less) : std::nullopt);
  }

  if (name == "html") return make_ref(Value::string(html_escape(escaper_input(args))));
  if (name == "js") return make_ref(Value::string(js_escape(escaper_input(args))));
  if (name == "urlquery") return make_ref(Value::string(query_escape(escaper_input(args))));
  if (name == "print") return make_ref(Value::string(go_sprint(format_args(args, 0))));
  if (name == "println") return make_ref(Value::string(go_sprintln(format_args(args, 0))));
  if (name == "printf") return make_ref(Value::string(go_sprintf(args[0].value->as_string(), format_args(args, 1))));
  error = "function " + std::string(name) + " is not implemented";
  return {};
}

}  // namespace berth::gotemplate

#include <algorithm>

#include "gotemplate/template.h"

namespace berth::gotemplate {

Value Value::boolean(bool value, std::string type_name) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = value;
  v.type_name_ = std::move(type_name);
  return v;
}

Value Value::integer(std::int64_t value, std::string type_name) {
  Value v;
  v.kind_ = Kind::kInt;
  v.int_ = value;
  v.type_name_ = std::move(type_name);
  return v;
}

Value Value::floating(double value, std::string type_name) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = value;
  v.type_name_ = std::move(type_name);
  return v;
}

Value Value::string(std::string value, std::string type_name) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(value);
  v.type_name_ = std::move(type_name);
  return v;
}

Value Value::list(std::vector<Value> items, std::string type_name) {
  Value v;
  v.kind_ = Kind::kList;
  v.items_ = std::move(items);
  v.type_name_ = std::move(type_name);
  return v;
}

Value Value::map(Fields entries, std::string type_name) {
  // Sort by key, keeping the last of equal keys as a Go map literal would.
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Fields unique;
  for (auto& entry : entries) {
    if (!unique.empty() && unique.back().first == entry.first) {
      unique.back().second = std::move(entry.second);
    } else {
      unique.push_back(std::move(entry));
    }
  }
  Value v;
  v.kind_ = Kind::kMap;
  v.fields_ = std::move(unique);
  v.type_name_ = std::move(type_name);
  return v;
}

Value Value::structure(Fields fields, std::string type_name) {
  Value v;
  v.kind_ = Kind::kStruct;
  v.fields_ = std::move(fields);
  v.type_name_ = std::move(type_name);
  return v;
}

const Value* Value::find(std::string_view name) const {
  if (kind_ == Kind::kMap) {
    auto it = std::lower_bound(fields_.begin(), fields_.end(), name,
                               [](const auto& entry, std::string_view key) { return entry.first < key; });
    if (it != fields_.end() && it->first == name) return &it->second;
    return nullptr;
  }
  if (kind_ == Kind::kStruct) {
    for (const auto& [field_name, value] : fields_) {
      if (field_name == name) return &value;
    }
  }
  return nullptr;
}

std::string Value::type_name() const {
  if (!type_name_.empty()) return type_name_;
  switch (kind_) {
    case Kind::kNil: return "interface {}";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float64";
    case Kind::kString: return "string";
    case Kind::kList: return "[]interface {}";
    case Kind::kMap: return "map[string]interface {}";
    case Kind::kStruct: {
      // Go spells an unnamed struct type as `struct { A string; B int64 }`.
      if (fields_.empty()) return "struct {}";
      std::string out = "struct { ";
      for (std::size_t i = 0; i < fields_.size(); ++i) {
        if (i > 0) out += "; ";
        out += fields_[i].first + " " + fields_[i].second.type_name();
      }
      return out + " }";
    }
  }
  return "interface {}";
}

}  // namespace berth::gotemplate

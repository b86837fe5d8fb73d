#include "metadata/cache_invalidation.h"

#include <nlohmann/json.hpp>

namespace berth::metadata {

const char* invalidation_scope_name(Invalidation::Scope scope) {
  switch (scope) {
    case Invalidation::Scope::kTag:
      return "tag";
    case Invalidation::Scope::kRepository:
      return "repository";
    case Invalidation::Scope::kNamespace:
      return "namespace";
    case Invalidation::Scope::kBlob:
      return "blob";
    case Invalidation::Scope::kAccess:
      return "access";
  }
  return "repository";
}

namespace {

std::optional<Invalidation::Scope> parse_scope(const std::string& name) {
  if (name == "tag") return Invalidation::Scope::kTag;
  if (name == "repository") return Invalidation::Scope::kRepository;
  if (name == "namespace") return Invalidation::Scope::kNamespace;
  if (name == "blob") return Invalidation::Scope::kBlob;
  if (name == "access") return Invalidation::Scope::kAccess;
  return std::nullopt;
}

}  // namespace

std::string encode_invalidation(const InvalidationMessage& message) {
  nlohmann::json body = {{"schema", message.schema},
                         {"node", message.node},
                         {"scope", invalidation_scope_name(message.invalidation.scope)},
                         {"name", message.invalidation.name}};
  if (message.invalidation.scope == Invalidation::Scope::kTag) body["tag"] = message.invalidation.tag;
  return body.dump();
}

std::optional<InvalidationMessage> decode_invalidation(const std::string& payload) {
  auto body = nlohmann::json::parse(payload, nullptr, false);
  if (!body.is_object()) return std::nullopt;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto schema = text("schema");
  auto node = text("node");
  auto scope_text = text("scope");
  auto name = text("name");
  if (!schema || !node || !scope_text || !name) return std::nullopt;
  auto scope = parse_scope(*scope_text);
  if (!scope) return std::nullopt;
  InvalidationMessage message{.schema = *schema, .node = *node, .invalidation = {.scope = *scope, .name = *name}};
  if (*scope == Invalidation::Scope::kTag) {
    auto tag = text("tag");
    if (!tag) return std::nullopt;
    message.invalidation.tag = *tag;
  }
  return message;
}

}  // namespace berth::metadata

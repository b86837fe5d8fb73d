#include "cli/images.h"

#include <algorithm>
#include <map>
#include <set>

namespace berth::cli {

using gotemplate::Value;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

bool is_domain(std::string_view component) {
  return component.find('.') != std::string_view::npos || component.find(':') != std::string_view::npos ||
         component == "localhost";
}

std::string namespace_of(std::string_view repository) {
  return std::string(repository.substr(0, repository.find('/')));
}

std::int64_t integer(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_number()) return 0;
  return it->get<std::int64_t>();
}

Value security_status(const std::optional<SecurityStatus>& status) {
  SecurityStatus summary = status.value_or(SecurityStatus{});
  return Value::structure({{"Status", Value::string(security_status_text(summary))},
                           {"IssueCount", Value::integer(summary.issue_count)},
                           {"ExemptionCount", Value::integer(summary.exemption_count)}},
                          "main.Status");
}

}  // namespace

ImageName parse_image_name(std::string_view reference) {
  ImageName name;
  std::string_view rest = reference;
  if (auto slash = rest.find('/'); slash != std::string_view::npos && is_domain(rest.substr(0, slash))) {
    name.domain = std::string(rest.substr(0, slash));
    rest = rest.substr(slash + 1);
  }
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    name.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    name.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  name.repository = std::string(rest);
  return name;
}

std::vector<ImageRow> image_rows(const json& images) {
  std::vector<ImageRow> rows;
  if (!images.is_array()) return rows;
  for (const auto& image : images) {
    if (!image.is_object()) continue;
    std::string digest = image.value("Id", "");
    for (const auto& repo_tag : image.value("RepoTags", json::array())) {
      if (!repo_tag.is_string()) continue;
      ImageName name = parse_image_name(repo_tag.get<std::string>());
      ImageRow row;
      row.repository = name.domain.empty() ? name.repository : name.domain + "/" + name.repository;
      row.tag = name.tag;
      row.digest = digest;
      row.namespace_name = namespace_of(name.repository);
      row.created = integer(image, "Created");
      row.size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, integer(image, "Size")));
      row.manifest_type = image.value("ManifestType", "");
      row.security_status = image_security_status(image);
      rows.push_back(std::move(row));
    }
  }
  std::sort(rows.begin(), rows.end(), [](const ImageRow& a, const ImageRow& b) {
    return std::tie(a.repository, a.tag) < std::tie(b.repository, b.tag);
  });
  return rows;
}

std::vector<DigestRow> digest_rows(const json& digests) {
  std::vector<DigestRow> rows;
  if (!digests.is_array()) return rows;
  for (const auto& image : digests) {
    if (!image.is_object()) continue;
    auto repo_tags = image.find("repoTags");
    if (repo_tags == image.end() || !repo_tags->is_object()) continue;
    for (const auto& [repository, tags] : repo_tags->items()) {
      DigestRow row;
      row.repository = repository;
      row.digest = image.value("id", "");
      if (tags.is_object()) {
        for (const auto& [tag, report] : tags.items()) row.tags.push_back(tag);
      }
      std::sort(row.tags.begin(), row.tags.end());
      if (!row.tags.empty()) row.security_status = tag_security_status(tags[row.tags.front()]);
      row.created = integer(image, "created");
      row.size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, integer(image, "size")));
      row.manifest_type = image.value("manifestType", "");
      rows.push_back(std::move(row));
    }
  }
  std::sort(rows.begin(), rows.end(), [](const DigestRow& a, const DigestRow& b) {
    if (a.repository != b.repository) return a.repository < b.repository;
    if (a.created != b.created) return a.created > b.created;
    return a.digest < b.digest;
  });
  return rows;
}

std::string short_manifest_type(std::string_view manifest_type) {
  static const std::map<std::string_view, std::string_view> kShort = {
      {"Docker Image Manifest V2, Schema 2", "Docker V2"},
      {"Docker Manifest List", "Docker list"},
      {"OCI Image Manifest v1", "OCI image"},
      {"OCI Image Index v1", "OCI index"},
      {"OCI Artifact Manifest v1", "OCI artifact"},
  };
  auto it = kShort.find(manifest_type);
  return std::string(it == kShort.end() ? manifest_type : it->second);
}

Value template_value(const ImageRow& row) {
  return Value::structure({{"Repository", Value::string(row.repository)},
                           {"Tag", Value::string(row.tag)},
                           {"Digest", Value::string(row.digest)},
                           {"Namespace", Value::string(row.namespace_name)},
                           {"Created", Value::integer(row.created, "int64")},
                           {"Size", Value::integer(static_cast<std::int64_t>(row.size), "int64")},
                           {"ManifestType", Value::string(row.manifest_type)},
                           {"SecurityStatus", security_status(row.security_status)}},
                          "main.Image");
}

Value template_value(const DigestRow& row) {
  std::vector<Value> tags;
  for (const auto& tag : row.tags) tags.push_back(Value::string(tag));
  return Value::structure({{"Repository", Value::string(row.repository)},
                           {"Digest", Value::string(row.digest)},
                           {"Tags", Value::list(std::move(tags), "[]string")},
                           {"Created", Value::integer(row.created, "int64")},
                           {"Size", Value::integer(static_cast<std::int64_t>(row.size), "int64")},
                           {"ManifestType", Value::string(row.manifest_type)},
                           {"SecurityStatus", security_status(row.security_status)}},
                          "main.DigestImage");
}

namespace {

// Converts a JSON value. Objects become structs named main.<key> after the
// field that contains them, so that template errors stay short.
Value convert(const ordered_json& document, bool as_map, const std::string& type_name) {
  switch (document.type()) {
    case ordered_json::value_t::null:
      return Value();
    case ordered_json::value_t::boolean:
      return Value::boolean(document.get<bool>());
    case ordered_json::value_t::number_integer:
    case ordered_json::value_t::number_unsigned:
      return Value::integer(document.get<std::int64_t>());
    case ordered_json::value_t::number_float:
      return Value::floating(document.get<double>());
    case ordered_json::value_t::string:
      return Value::string(document.get<std::string>());
    case ordered_json::value_t::array: {
      std::vector<Value> items;
      for (const auto& item : document) items.push_back(convert(item, false, type_name));
      return Value::list(std::move(items));
    }
    case ordered_json::value_t::object: {
      static const std::set<std::string> kMapFields = {"Labels", "ExposedPorts", "Volumes", "DigestTags"};
      Value::Fields fields;
      for (const auto& [key, value] : document.items()) {
        fields.emplace_back(key, convert(value, kMapFields.contains(key), "main." + key));
      }
      return as_map ? Value::map(std::move(fields)) : Value::structure(std::move(fields), type_name);
    }
    default:
      return Value();
  }
}

}  // namespace

Value template_value(const ordered_json& document) { return convert(document, false, "main.ImageInspection"); }

}  // namespace berth::cli

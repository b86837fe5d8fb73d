// Image references as the management API takes them in paths and query
// parameters: "[DOMAIN/]NAMESPACE/REPOSITORY[:TAG|@DIGEST]", the form that
// `docker pull` accepts, limited to this registry's own domain.
#pragma once

#include "core/digest.h"

#include <optional>
#include <string>
#include <string_view>

namespace berth::api {

struct ImageReference {
  std::string repository;  // "namespace/repository", without the domain
  std::string tag;         // "latest" when the text names neither a tag nor a digest
  std::optional<core::Digest> digest;
  bool tag_given = false;  // true when the text names a tag

  std::string namespace_name() const { return repository.substr(0, repository.find('/')); }
  // "DOMAIN/REPOSITORY:TAG" or "DOMAIN/REPOSITORY@DIGEST".
  std::string full_name(std::string_view domain) const;
};

// Parses a reference. A first path component that contains '.' or ':' or
// is "localhost" is a domain, and it must equal `domain` (compared without
// case). Throws core::Error with 400: NAME_INVALID for a repository name
// outside the grammar or without a namespace, TAG_INVALID, DIGEST_INVALID,
// or BAD_REQUEST for another registry's domain.
ImageReference parse_image_reference(std::string_view text, std::string_view domain);

// Strips this registry's domain from a repository or namespace filter such
// as "127.0.0.1:5000/team1/app"; throws like parse_image_reference for
// another domain. Returns the text unchanged when it has no domain.
std::string strip_domain(std::string_view name, std::string_view domain);

}  // namespace berth::api

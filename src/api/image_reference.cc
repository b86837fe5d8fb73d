#include "api/image_reference.h"

#include "core/error.h"
#include "oci/name.h"

#include <algorithm>
#include <cctype>

namespace berth::api {

using core::Error;
using core::ErrorCode;

namespace {

bool is_domain_component(std::string_view component) {
  return component.find_first_of(".:") != std::string_view::npos || component == "localhost";
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string ImageReference::full_name(std::string_view domain) const {
  std::string name = std::string(domain) + "/" + repository;
  if (digest) return name + "@" + digest->str();
  return name + ":" + tag;
}

std::string strip_domain(std::string_view name, std::string_view domain) {
  std::size_t slash = name.find('/');
  if (slash == std::string_view::npos) return std::string(name);
  std::string_view first = name.substr(0, slash);
  if (!is_domain_component(first)) return std::string(name);
  if (!equal_ignoring_case(first, domain)) {
    throw Error(ErrorCode::kBadRequest,
                "the image reference '" + std::string(name) + "' names the registry '" + std::string(first) +
                    "', but this registry is '" + std::string(domain) +
                    "'; leave the registry out or use '" + std::string(domain) + "'",
                {{"reference", name}, {"registry", first}, {"expected", domain}});
  }
  return std::string(name.substr(slash + 1));
}

ImageReference parse_image_reference(std::string_view text, std::string_view domain) {
  std::string name = strip_domain(text, domain);
  ImageReference reference;

  std::size_t at = name.find('@');
  if (at != std::string::npos) {
    std::string problem;
    reference.digest = core::Digest::parse(std::string_view(name).substr(at + 1), &problem);
    if (!reference.digest) {
      throw Error(ErrorCode::kDigestInvalid,
                  "invalid digest in image reference '" + std::string(text) + "': " + problem,
                  {{"reference", text}});
    }
    name.resize(at);
  }

  // A tag follows the last ':' after the last '/'; a ':' before it would
  // belong to a domain, which strip_domain has removed.
  std::size_t last_slash = name.rfind('/');
  std::size_t colon = name.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    reference.tag = name.substr(colon + 1);
    reference.tag_given = true;
    name.resize(colon);
    if (auto problem = oci::tag_problem(reference.tag)) {
      throw Error(ErrorCode::kTagInvalid,
                  "invalid tag '" + reference.tag + "' in image reference '" + std::string(text) + "': " + *problem,
                  {{"reference", text}, {"tag", reference.tag}});
    }
  }
  if (!reference.tag_given && !reference.digest) reference.tag = "latest";
  // With both a tag and a digest, the digest names the image, as in docker.
  if (reference.digest) {
    reference.tag.clear();
    reference.tag_given = false;
  }

  if (auto problem = oci::repository_name_problem(name)) {
    throw Error(ErrorCode::kNameInvalid,
                "invalid repository name '" + name + "' in image reference '" + std::string(text) + "': " + *problem,
                {{"reference", text}, {"name", name}});
  }
  if (name.find('/') == std::string::npos) {
    throw Error(ErrorCode::kNameInvalid,
                "the image reference '" + std::string(text) +
                    "' has no namespace; write it as NAMESPACE/REPOSITORY[:TAG], such as team1/" + name,
                {{"reference", text}, {"name", name}});
  }
  reference.repository = std::move(name);
  return reference;
}

}  // namespace berth::api

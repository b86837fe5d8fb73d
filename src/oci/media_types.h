// Media types the registry treats specially. Config, layer and artifact
// types are never restricted: any other value is stored and served as is.
#pragma once

#include <string_view>

namespace berth::oci::media_type {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kOciNondistributablePrefix = "application/vnd.oci.image.layer.nondistributable.";

inline constexpr std::string_view kOctetStream = "application/octet-stream";
inline constexpr std::string_view kJson = "application/json";

inline bool is_index(std::string_view type) { return type == kOciIndex || type == kDockerManifestList; }
inline bool is_image_manifest(std::string_view type) { return type == kOciManifest || type == kDockerManifest; }
inline bool is_manifest(std::string_view type) { return is_index(type) || is_image_manifest(type); }

}  // namespace berth::oci::media_type

// Logging container clients in to a registry by writing their credential
// files, and the Kubernetes pull secret that does the same for a cluster.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace berth::cli {

// "docker" if a docker executable is on the PATH, else "podman".
std::string default_container_client();

// Where `client` ("docker" or "podman") reads registry credentials:
// docker: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
// podman (and buildah, skopeo): $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/UID/auth.json
// for root and ~/.config/containers/auth.json for other users.
std::filesystem::path client_auth_file(std::string_view client);

// Adds or replaces the entry for `domain` with the user "iamapikey" and
// `api_key`, keeping every other entry and setting; returns the file.
std::filesystem::path write_client_login(std::string_view client, const std::string& domain,
                                         const std::string& api_key);

// Standard base64 with padding.
std::string base64(std::string_view data);

// A kubernetes.io/dockerconfigjson Secret as YAML.
std::string kubernetes_pull_secret(const std::string& name, const std::string& k8s_namespace,
                                   const std::string& domain, const std::string& api_key);

}  // namespace berth::cli

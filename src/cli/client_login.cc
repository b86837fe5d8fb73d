#include "cli/client_login.h"

#include "cli/config.h"
#include "cli/output.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace berth::cli {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

fs::path home() {
  std::string dir = environment_variable("HOME");
  if (dir.empty()) throw Failure("HOME is not set, so berth cannot find the container client's credentials file.");
  return dir;
}

bool on_path(const std::string& program) {
  std::string path = environment_variable("PATH");
  std::stringstream parts(path);
  std::string dir;
  while (std::getline(parts, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

std::string default_container_client() { return on_path("docker") ? "docker" : "podman"; }

fs::path client_auth_file(std::string_view client) {
  if (client == "docker") {
    std::string dir = environment_variable("DOCKER_CONFIG");
    return (dir.empty() ? home() / ".docker" : fs::path(dir)) / "config.json";
  }
  if (std::string file = environment_variable("REGISTRY_AUTH_FILE"); !file.empty()) return file;
  if (std::string runtime = environment_variable("XDG_RUNTIME_DIR"); !runtime.empty()) return fs::path(runtime) / "containers/auth.json";
  if (::geteuid() == 0) return "/run/containers/0/auth.json";
  return home() / ".config/containers/auth.json";
}

fs::path write_client_login(std::string_view client, const std::string& domain, const std::string& api_key) {
  fs::path file = client_auth_file(client);
  ordered_json config = ordered_json::object();
  if (std::ifstream in(file); in) {
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty()) {
      config = ordered_json::parse(text.str(), nullptr, false);
      if (config.is_discarded() || !config.is_object()) {
        throw Failure("'" + file.string() + "' is not valid JSON, so berth will not change it. Fix or move it, "
                      "then run 'berth login' again.");
      }
    }
  }
  if (!config.contains("auths") || !config["auths"].is_object()) config["auths"] = ordered_json::object();
  config["auths"][domain] = ordered_json{{"auth", base64("iamapikey:" + api_key)}};
  write_file_atomically(file, config.dump(1, '\t') + "\n", 0600);
  return file;
}

std::string base64(std::string_view data) {
  std::vector<unsigned char> out(4 * ((data.size() + 2) / 3) + 1);
  int length = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(data.data()),
                               static_cast<int>(data.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(length));
}

std::string kubernetes_pull_secret(const std::string& name, const std::string& k8s_namespace,
                                   const std::string& domain, const std::string& api_key) {
  // Kubernetes object names: lowercase letters, digits, '-' and '.', starting
  // and ending with a letter or digit; namespaces take no '.'.
  auto check = [](const std::string& value, const char* what, std::size_t max, bool dots) {
    bool valid = !value.empty() && value.size() <= max && std::isalnum(static_cast<unsigned char>(value.front())) &&
                 std::isalnum(static_cast<unsigned char>(value.back()));
    for (char c : value) {
      valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (dots && c == '.'));
    }
    if (!valid) {
      throw Failure(std::string("'") + value + "' is not a valid Kubernetes " + what + ": use at most " +
                    std::to_string(max) + " lowercase letters, digits and '-'" + (dots ? " or '.'" : "") +
                    ", starting and ending with a letter or digit.");
    }
  };
  check(name, "Secret name", 253, true);
  check(k8s_namespace, "namespace", 63, false);
  ordered_json docker_config = {
      {"auths",
       {{domain,
         {{"username", "iamapikey"}, {"password", api_key}, {"auth", base64("iamapikey:" + api_key)}}}}}};
  std::string out;
  out += "apiVersion: v1\n";
  out += "kind: Secret\n";
  out += "metadata:\n";
  out += "  name: " + name + "\n";
  out += "  namespace: " + k8s_namespace + "\n";
  out += "type: kubernetes.io/dockerconfigjson\n";
  out += "data:\n";
  out += "  .dockerconfigjson: " + base64(docker_config.dump()) + "\n";
  return out;
}

}  // namespace berth::cli

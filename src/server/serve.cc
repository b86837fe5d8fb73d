#include "server/serve.h"

#include "api/access_gate.h"
#include "api/management_api.h"
#include "api/registry_api.h"
#include "api/router.h"
#include "api/token_endpoint.h"
#include "auth/access_control.h"
#include "auth/tokens.h"
#include "core/error.h"
#include "core/logging.h"
#include "http/server.h"
#include "server/jobs.h"
#include "server/stores.h"
#include "server/tenant_setup.h"
#include "server/va_admin.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace berth::server {

namespace {

// Holds an exclusive lock on <data>/berth.lock, so two servers never share
// one data directory.
class DataDirectoryLock {
 public:
  explicit DataDirectoryLock(const std::filesystem::path& data) {
    std::filesystem::path path = data / "berth.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path.string());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error("another berthd is using the data directory " + data.string() + " (" + path.string() +
                               " is locked)");
    }
  }
  ~DataDirectoryLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

// The domain in image names when region.domain is not set: the address
// berthd listens on (with the port it got for port 0), with a wildcard
// address replaced by loopback, which clients on this host can reach.
std::string default_domain(const std::string& listening) {
  if (listening.starts_with("0.0.0.0:")) return "127.0.0.1" + listening.substr(7);
  if (listening.starts_with("[::]:")) return "[::1]" + listening.substr(4);
  return listening;
}

// Creates the first account on a new store. Nodes that start together on
// one PostgreSQL database race for it; the ones that lose find the account
// that the winner created.
std::optional<std::string> bootstrap(const Config& config, metadata::MetadataStore& store) {
  try {
    return bootstrap_default_account(store, config.data_dir);
  } catch (const core::Error& error) {
    if (error.code() != core::ErrorCode::kConflict || store.list_accounts().empty()) throw;
    spdlog::info("bootstrap_skipped reason=another_node_created_the_first_account");
    return std::nullopt;
  }
}

}  // namespace

int serve(const Config& config) {
  // Signals go to one thread that waits for them; every other thread,
  // including the connection threads started later, inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ensure_data_directory(config.data_dir);
  DataDirectoryLock lock(config.data_dir);
  Stores stores = open_stores(config);

  api::RegistryLimits limits{.manifest_max_bytes = static_cast<std::size_t>(config.manifest_max_bytes),
                             .page_max_entries = static_cast<std::size_t>(config.page_max_entries),
                             .chunk_min_length = static_cast<std::uint64_t>(config.chunk_min_length)};
  std::optional<std::string> initial_key;
  if (config.auth_bootstrap) initial_key = bootstrap(config, *stores.metadata);
  if (config.metadata_backend == "postgres" && config.auth_signing_key.empty()) {
    spdlog::warn("token_key_node_local path={} reason=auth.signing_key_not_set: other nodes on this database reject "
                 "the tokens this node signs; give every node the same auth.signing_key",
                 core::log_value((std::filesystem::path(config.data_dir) / "keys" / "token-signing.pem").string()));
  }

  auth::TokenService tokens(load_token_keys(config),
                            auth::TokenSettings{.issuer = config.auth_issuer,
                                                .service = config.auth_service,
                                                .lifetime_seconds = config.auth_token_lifetime_seconds});
  auth::AccessControl access(*stores.metadata);
  api::AccessGate gate(access, tokens,
                       api::AuthSettings{.realm = config.auth_realm,
                                         .tls = !config.tls_certificate.empty(),
                                         .failed_login_limit = static_cast<std::size_t>(config.auth_failed_login_limit),
                                         .failed_login_window_seconds = config.auth_failed_login_window_seconds});
  // Nodes sharing PostgreSQL write traffic through at once, so that every
  // node checks quotas against the same figure (QuotaEnforcer).
  lifecycle::QuotaEnforcer quotas(*stores.metadata, config.metadata_backend == "postgres" ? 0 : 1);
  api::RegistryApi registry(*stores.metadata, *stores.blobs, gate, quotas, limits);
  api::TokenEndpoint token_endpoint(gate);
  api::ManagementApi management(*stores.metadata, *stores.blobs, gate, quotas,
                                api::ManagementSettings{.region = config.region_name,
                                                        .domain = config.region_domain,
                                                        .tls = !config.tls_certificate.empty(),
                                                        .messages = config.messages,
                                                        .version = BERTH_VERSION});
  Jobs jobs(config, *stores.metadata, *stores.blobs);
  scan::IndexWorker indexer(*stores.metadata, *stores.blobs, index_settings(config));
  std::function<std::string()> metrics;
  if (config.metrics_enabled) {
    metrics = [&stores, &jobs, &quotas] { return render_metrics(*stores.metadata, quotas, jobs.scheduler().jobs()); };
  }
  api::Router router(registry, token_endpoint, management, metrics);

  http::ServerOptions options;
  options.listen = config.listen;
  if (!config.tls_certificate.empty()) {
    options.tls_certificate = config.tls_certificate;
    options.tls_key = config.tls_key;
  }
  options.shutdown_grace = std::chrono::seconds(config.shutdown_grace_seconds);
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  options.io_timeout = std::chrono::seconds(config.io_timeout_seconds);
  options.max_connections = static_cast<std::size_t>(config.max_connections);
  options.access_log = config.access_log;

  http::Server server(options, [&router](http::Exchange& exchange) { router.handle(exchange); });
  server.listen();
  if (config.region_domain.empty()) management.set_domain(default_domain(server.local_address()));

  std::string scheme = config.tls_certificate.empty() ? "http" : "https";
  std::string data_dir = std::filesystem::absolute(config.data_dir).lexically_normal().string();
  spdlog::info("berthd_started listen={}://{} data_dir={} metadata={} storage={}", scheme, server.local_address(),
               core::log_value(data_dir), config.metadata_backend, config.storage_backend);
  if (initial_key) {
    std::filesystem::path key_file = std::filesystem::path(data_dir) / "initial-apikey";
    std::printf(
        "Created account 'default' with user 'admin' (Manager on the account).\n"
        "Its API key is shown only this once, and saved to %s (readable only by you):\n"
        "  %s\n"
        "Log in with: berth login --apikey @%s\n"
        "         or: docker login -u iamapikey --password-stdin %s < %s\n",
        key_file.c_str(), initial_key->c_str(), key_file.c_str(), server.local_address().c_str(), key_file.c_str());
    // berth targets 127.0.0.1:5000 until region-set names another registry.
    std::string domain = management.settings().domain;
    if (domain != "127.0.0.1:5000") {
      std::printf("berth targets 127.0.0.1:5000 first; point it here with: berth region-add local --domain %s && "
                  "berth region-set local\n",
                  domain.c_str());
    }
  }
  std::printf("berthd listening on %s://%s (data in %s)\n", scheme.c_str(), server.local_address().c_str(),
              data_dir.c_str());
  std::fflush(stdout);

  std::thread signal_waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("berthd_stopping signal={} grace_seconds={}", received, config.shutdown_grace_seconds);
    server.stop();
  });

  if (config.jobs_enabled) jobs.scheduler().start();
  if (config.va_enabled) {
    indexer.start();
    spdlog::info("va_worker_started max_layer_bytes={}", config.va_max_layer_bytes);
  } else {
    spdlog::info("va_worker_disabled: tagged images stay queued for another node or 'berthd admin va-index'");
  }
  server.run();
  indexer.stop();
  jobs.scheduler().stop();
  quotas.flush();

  // run() returns only after stop(); if it ended for another reason the
  // waiter still needs a signal to finish.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  spdlog::info("berthd_stopped");
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace berth::server

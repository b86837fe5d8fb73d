#include "metadata/pg_cache_notifier.h"

#include "core/logging.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace berth::metadata {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Reconnection backoff of the listener: doubles from the first to the last.
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{5000};
// After this long without a byte from the server the listener sends a
// query, and it drops a connection that has not answered it in time.
constexpr milliseconds kKeepaliveInterval{5000};
constexpr milliseconds kKeepaliveTimeout{5000};

std::string trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

PgInvalidationPublisher::PgInvalidationPublisher(PgNotifierOptions options, std::size_t max_connections)
    : options_(std::move(options)), max_connections_(std::max<std::size_t>(max_connections, 1)) {}

std::unique_ptr<PgConnection> PgInvalidationPublisher::take() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || open_ < max_connections_; });
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
    ++open_;
  }
  try {
    return std::make_unique<PgConnection>(options_.conninfo);
  } catch (...) {
    give_back(nullptr);
    throw;
  }
}

void PgInvalidationPublisher::give_back(std::unique_ptr<PgConnection> connection) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (connection && !connection->broken()) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  available_.notify_one();
}

void PgInvalidationPublisher::publish(const Invalidation& invalidation) {
  std::string payload =
      encode_invalidation({.schema = options_.schema, .node = options_.node, .invalidation = invalidation});
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<PgConnection> connection;
    try {
      connection = take();
      auto notify = connection->prepare("SELECT pg_notify($1, $2)");
      notify.bind(1, std::string_view(kCacheChannel)).bind(2, payload).run();
      give_back(std::move(connection));
      return;
    } catch (const std::exception& error) {
      bool lost = connection == nullptr || connection->broken();
      if (connection) give_back(std::move(connection));
      if (lost && attempt == 1) continue;
      // Other nodes keep their entries until cache.max_age_seconds.
      spdlog::error("cache_invalidation_not_sent scope={} name={} error={}", invalidation_scope_name(invalidation.scope),
                    core::log_value(invalidation.name), core::log_value(error.what()));
      return;
    }
  }
}

PgInvalidationListener::PgInvalidationListener(PgNotifierOptions options, InvalidationSink& sink)
    : options_(std::move(options)), sink_(sink) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
}

PgInvalidationListener::~PgInvalidationListener() {
  stop();
  ::close(wake_fd_);
}

void PgInvalidationListener::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  std::uint64_t drained = 0;
  while (::read(wake_fd_, &drained, sizeof drained) > 0) {
  }
  sink_.set_receiving(false);
  thread_ = std::thread([this] { run(); });
}

void PgInvalidationListener::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  stop_requested_.notify_all();
  std::uint64_t one = 1;
  // A write fails only when the counter is full, and then the thread wakes anyway.
  [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

bool PgInvalidationListener::pause(milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !stop_requested_.wait_for(lock, duration, [this] { return stopping_; });
}

void PgInvalidationListener::run() {
  milliseconds backoff = kFirstBackoff;
  std::size_t failures = 0;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
    }
    std::unique_ptr<PgConnection> connection;
    try {
      connection = std::make_unique<PgConnection>(options_.conninfo);
      connection->exec(std::string("LISTEN ") + kCacheChannel);
    } catch (const std::exception& error) {
      ++failures;
      // The first failure and then every tenth, so an outage does not
      // flood the log.
      if (failures % 10 == 1) {
        spdlog::warn("cache_listener_connect_failed failures={} retry_ms={} error={}", failures, backoff.count(),
                     core::log_value(error.what()));
      }
      if (!pause(backoff)) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    // Every commit from here on is notified, so entries read from now on
    // can be trusted.
    listening_ = true;
    sink_.set_receiving(true);
    spdlog::info("cache_listener_listening channel={} schema={} after_failures={}", kCacheChannel,
                 core::log_value(options_.schema), failures);
    failures = 0;
    backoff = kFirstBackoff;

    std::string reason = listen(*connection);
    listening_ = false;
    sink_.set_receiving(false);
    if (reason.empty()) break;
    spdlog::warn("cache_listener_disconnected error={}; the cache serves nothing until it listens again",
                 core::log_value(reason));
  }
}

std::string PgInvalidationListener::listen(PgConnection& connection) {
  PGconn* conn = connection.native();
  int socket = PQsocket(conn);
  if (socket < 0) return "the connection has no socket";
  auto last_input = steady_clock::now();
  std::optional<steady_clock::time_point> keepalive_sent;

  for (;;) {
    auto deadline = keepalive_sent ? *keepalive_sent + kKeepaliveTimeout : last_input + kKeepaliveInterval;
    auto wait = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    pollfd fds[2] = {{.fd = socket, .events = POLLIN, .revents = 0}, {.fd = wake_fd_, .events = POLLIN, .revents = 0}};
    int ready = ::poll(fds, 2, static_cast<int>(std::max<milliseconds::rep>(wait.count(), 0)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return std::string("poll failed: ") + std::strerror(errno);
    }
    if (fds[1].revents != 0) return "";

    if (fds[0].revents != 0) {
      if (PQconsumeInput(conn) == 0) return trimmed(PQerrorMessage(conn));
      last_input = steady_clock::now();
      while (PGnotify* notification = PQnotifies(conn)) {
        deliver(notification->extra);
        PQfreemem(notification);
      }
      if (keepalive_sent && PQisBusy(conn) == 0) {
        bool failed = false;
        while (PGresult* result = PQgetResult(conn)) {
          failed = failed || PQresultStatus(result) != PGRES_TUPLES_OK;
          PQclear(result);
        }
        if (failed) return "the keepalive query failed: " + trimmed(PQerrorMessage(conn));
        keepalive_sent.reset();
      }
      if (PQstatus(conn) == CONNECTION_BAD) return trimmed(PQerrorMessage(conn));
    }

    auto now = steady_clock::now();
    if (keepalive_sent && now - *keepalive_sent >= kKeepaliveTimeout) {
      return "no answer to a keepalive query within " + std::to_string(kKeepaliveTimeout.count()) + " ms";
    }
    if (!keepalive_sent && now - last_input >= kKeepaliveInterval) {
      if (PQsendQuery(conn, "SELECT 1") == 0) return trimmed(PQerrorMessage(conn));
      keepalive_sent = now;
    }
  }
}

void PgInvalidationListener::deliver(const char* payload) {
  auto message = decode_invalidation(payload != nullptr ? payload : "");
  if (!message) {
    spdlog::warn("cache_invalidation_ignored reason=malformed payload={}", core::log_value(payload ? payload : ""));
    return;
  }
  if (message->schema != options_.schema || message->node == options_.node) return;
  sink_.apply(message->invalidation);
}

}  // namespace berth::metadata

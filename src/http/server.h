// The HTTP/1.1 server: one listening socket, one thread per connection,
// keep-alive, and a graceful stop. Reads and writes block with timeouts,
// and blob bodies stream through without copies.
#pragma once

#include "http/exchange.h"
#include "http/transport.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace berth::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:5000";  // HOST:PORT; [v6-address]:PORT for IPv6
  std::optional<std::string> tls_certificate;
  std::optional<std::string> tls_key;
  // How long a stop waits for requests in progress before it closes them.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(30)};
  // How long an idle keep-alive connection waits for its next request.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(120)};
  // How long a read or write inside a request may make no progress.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(300)};
  std::size_t max_connections = 4096;
  bool access_log = true;
};

// Handles one request. It must send a response through the exchange or
// throw: core::Error becomes that error's JSON response, any other exception
// a 500 UNKNOWN (logged with the request id).
using Handler = std::function<void(Exchange&)>;

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();

  // Binds and listens. Throws std::runtime_error naming the address when
  // that fails (address in use, bad host) or when TLS files do not load.
  void listen();
  // The address actually bound, as HOST:PORT (useful with port 0).
  std::string local_address() const { return local_address_; }

  // Accepts connections until stop(). Then lets requests in progress end,
  // closing idle connections at once, and force-closes what remains after
  // the grace period. Returns when every connection thread has finished.
  void run();

  // Begins a graceful stop. Safe from any thread; idempotent.
  void stop();

 private:
  struct Connection;

  void serve_connection(std::shared_ptr<Connection> connection);
  void serve_requests(Connection& connection, Transport& transport);
  void log_access(const Exchange& exchange, std::chrono::steady_clock::time_point start) const;
  // Marks the connection idle (waiting for a request) or busy. Returns
  // false when the server is stopping and an idle connection should end.
  bool set_idle(Connection& connection, bool idle);
  void finish_connection(std::uint64_t id);

  ServerOptions options_;
  Handler handler_;
  std::unique_ptr<TlsContext> tls_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd that interrupts the accept loop
  std::string local_address_;

  std::atomic<bool> stopping_{false};
  std::mutex connections_mutex_;
  std::condition_variable connections_done_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_connection_id_ = 1;
};

}  // namespace berth::http

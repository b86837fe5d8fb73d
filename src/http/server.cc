#include "http/server.h"

#include "core/error.h"
#include "core/logging.h"
#include "core/random.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <thread>

namespace berth::http {

namespace {

// Largest request head (request line and headers) accepted.
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// Most unread request body bytes that are read and dropped to keep a
// connection usable, so a client finishes sending before it reads an error.
// Past this limit the connection is closed instead.
constexpr std::uint64_t kDrainLimit = 64 * 1024 * 1024;

struct HostPort {
  std::string host;
  std::string port;
};

HostPort split_listen_address(const std::string& address) {
  std::string host;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      throw std::runtime_error("listen address \"" + address + "\" is malformed; use [IPV6]:PORT");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("listen address \"" + address + "\" has no port; use HOST:PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    throw std::runtime_error("listen address \"" + address + "\" has an invalid port; use 0 to 65535");
  }
  return {host, port};
}

std::string format_address(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
    return std::string(text) + ":" + std::to_string(port);
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
    return "[" + std::string(text) + "]:" + std::to_string(port);
  }
  return text;
}

Response error_response(const core::Error& error) {
  Response response;
  response.status = error.http_status();
  response.headers.set(beast_http::field::content_type, "application/json");
  for (const auto& [name, value] : error.headers()) response.headers.set(name, value);
  response.body = error.to_json();
  return response;
}

bool is_disconnect(const boost::system::error_code& error) {
  return error == beast_http::error::end_of_stream || error == boost::asio::error::eof ||
         error == boost::asio::error::timed_out || error == boost::asio::error::connection_reset;
}

}  // namespace

struct Server::Connection {
  std::uint64_t id;
  int fd;
  std::string remote_address;
  bool idle = true;
};

Server::Server(ServerOptions options, Handler handler) : options_(std::move(options)), handler_(std::move(handler)) {}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Server::listen() {
  if (options_.tls_certificate || options_.tls_key) {
    if (!options_.tls_certificate || !options_.tls_key) {
      throw std::runtime_error("TLS needs both a certificate and a key file");
    }
    tls_ = std::make_unique<TlsContext>(*options_.tls_certificate, *options_.tls_key);
  }

  HostPort host_port = split_listen_address(options_.listen);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host_port.host.empty() ? nullptr : host_port.host.c_str(), host_port.port.c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error("cannot resolve listen address \"" + options_.listen + "\": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);

  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0) throw std::runtime_error("cannot create a socket: " + std::string(std::strerror(errno)));
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    std::string reason = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot listen on " + options_.listen + ": " + reason);
  }
  listen_fd_ = fd;

  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  local_address_ = format_address(reinterpret_cast<sockaddr*>(&bound));

  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error("cannot create an eventfd: " + std::string(std::strerror(errno)));
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    spdlog::warn("server_wake_failed error={}", core::log_value(std::strerror(errno)));
  }
  std::lock_guard<std::mutex> lock(connections_mutex_);
  for (auto& [id, connection] : connections_) {
    if (connection->idle) ::shutdown(connection->fd, SHUT_RDWR);
  }
}

void Server::run() {
  pollfd watched[2] = {{.fd = listen_fd_, .events = POLLIN, .revents = 0}, {.fd = wake_fd_, .events = POLLIN, .revents = 0}};
  while (!stopping_) {
    int ready = ::poll(watched, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      spdlog::error("accept_poll_failed error={}", core::log_value(std::strerror(errno)));
      break;
    }
    if (watched[1].revents != 0 || stopping_) break;
    if (watched[0].revents == 0) continue;

    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("accept_failed error={}", core::log_value(std::strerror(errno)));
        // Out of file descriptors: give connections in progress a moment.
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

    auto connection = std::make_shared<Connection>(Connection{.id = 0, .fd = fd, .remote_address = format_address(reinterpret_cast<sockaddr*>(&peer))});
    {
      std::lock_guard<std::mutex> lock(connections_mutex_);
      if (connections_.size() >= options_.max_connections) {
        spdlog::warn("connection_rejected remote={} reason=max_connections limit={}", connection->remote_address,
                     options_.max_connections);
        ::close(fd);
        continue;
      }
      connection->id = next_connection_id_++;
      connections_.emplace(connection->id, connection);
    }
    std::thread([this, connection] { serve_connection(connection); }).detach();
  }

  ::close(listen_fd_);
  listen_fd_ = -1;

  std::unique_lock<std::mutex> lock(connections_mutex_);
  if (!connections_done_.wait_for(lock, options_.shutdown_grace, [&] { return connections_.empty(); })) {
    spdlog::warn("shutdown_grace_expired open_connections={}", connections_.size());
    for (auto& [id, connection] : connections_) ::shutdown(connection->fd, SHUT_RDWR);
    connections_done_.wait(lock, [&] { return connections_.empty(); });
  }
}

bool Server::set_idle(Connection& connection, bool idle) {
  std::lock_guard<std::mutex> lock(connections_mutex_);
  connection.idle = idle;
  return !(idle && stopping_);
}

void Server::finish_connection(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(connections_mutex_);
  connections_.erase(id);
  if (connections_.empty()) connections_done_.notify_all();
}

void Server::serve_connection(std::shared_ptr<Connection> connection) {
  std::unique_ptr<Transport> transport;
  try {
    if (tls_) {
      transport = std::make_unique<TlsTransport>(connection->fd, *tls_, options_.idle_timeout);
    } else {
      transport = std::make_unique<PlainTransport>(connection->fd);
    }
  } catch (const TransportError& error) {
    spdlog::debug("tls_handshake_failed remote={} error={}", connection->remote_address, core::log_value(error.what()));
    finish_connection(connection->id);
    ::close(connection->fd);
    return;
  }

  try {
    serve_requests(*connection, *transport);
  } catch (const std::exception& error) {
    spdlog::error("connection_failed remote={} error={}", connection->remote_address, core::log_value(error.what()));
  }
  // Deregister before the descriptor closes, so stop() never shuts down a
  // descriptor number that the kernel has already reused.
  finish_connection(connection->id);
  transport.reset();
  ::close(connection->fd);
}

void Server::serve_requests(Connection& connection, Transport& transport) {
  BeastStream stream(transport);
  boost::beast::flat_buffer buffer;

  while (true) {
    if (!set_idle(connection, true)) return;
    transport.set_timeout(options_.idle_timeout);
    // Between requests nothing is usually waiting: waiting first saves the
    // read that would only report EAGAIN.
    if (buffer.size() == 0 && !transport.wait_readable()) return;

    RequestParser parser;
    parser.header_limit(kHeaderLimit);
    // No body limit (blobs can be many GiB). Not boost::none: Boost 1.74
    // compares the length against an empty optional and rejects every body.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::system::error_code read_error;
    beast_http::read_header(stream, buffer, parser, read_error);
    if (read_error) {
      if (is_disconnect(read_error) || read_error == beast_http::error::partial_message) return;
      // Not HTTP (a TLS ClientHello on the plain port, for example).
      core::Error error(core::ErrorCode::kUnsupported, "malformed HTTP request: " + read_error.message());
      std::string body = error.to_json();
      std::string head = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      try {
        transport.write_two(head, body);
      } catch (const TransportError&) {
      }
      spdlog::debug("malformed_request remote={} error={}", connection.remote_address, core::log_value(read_error.message()));
      return;
    }

    set_idle(connection, false);
    transport.set_timeout(options_.io_timeout);
    auto start = std::chrono::steady_clock::now();
    Exchange exchange(transport, stream, buffer, parser, core::request_id(), connection.remote_address);
    if (!parser.keep_alive()) exchange.close_after();
    exchange.close_after_if(&stopping_);

    try {
      try {
        handler_(exchange);
      } catch (const core::Error& error) {
        if (exchange.responded()) throw;
        // Read the rest of the body first: a client still sending it may
        // not see a response that arrives before it finishes.
        if (!exchange.awaiting_continue() && !exchange.discard_body(kDrainLimit)) exchange.close_after();
        exchange.send(error_response(error));
      } catch (const TransportError&) {
        throw;
      } catch (const std::exception& failure) {
        spdlog::error("request_failed request_id={} method={} target={} error={}", exchange.request_id(),
                      exchange.method_name(), core::log_value(exchange.target()), core::log_value(failure.what()));
        if (exchange.responded()) throw;
        exchange.send(error_response(core::Error(core::ErrorCode::kUnknown,
                                                 "internal server error; the request id " + exchange.request_id() +
                                                     " identifies it in the server log")));
      }
      if (!exchange.body_complete() && !exchange.discard_body(kDrainLimit)) exchange.close_after();
    } catch (const std::exception& failure) {
      // The connection is broken (client gone, timeout) or the response was
      // cut off: nothing more can be sent on it.
      spdlog::info("request_aborted request_id={} method={} target={} body_bytes={} error={}", exchange.request_id(),
                   exchange.method_name(), core::log_value(exchange.target()), exchange.body_bytes_read(),
                   core::log_value(failure.what()));
      return;
    }

    if (options_.access_log && spdlog::should_log(spdlog::level::info)) log_access(exchange, start);
    if (exchange.wants_close()) return;
  }
}

void Server::log_access(const Exchange& exchange, std::chrono::steady_clock::time_point start) const {
  auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("access request_id={} remote={} method={} target={} status={} bytes_in={} bytes_out={} duration_ms={:.2f} "
               "user_agent={}",
               exchange.request_id(), exchange.remote_address(), exchange.method_name(), core::log_value(exchange.target()),
               exchange.status(), exchange.body_bytes_read(), exchange.bytes_sent(), elapsed,
               core::log_value(exchange.user_agent()));
}

}  // namespace berth::http

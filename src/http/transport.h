// Byte transports for one accepted connection: plain TCP or TLS. Sockets
// are non-blocking underneath and every wait is bounded by a timeout, so a
// client that stops sending cannot hold a connection thread forever.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace berth::http {

// The connection failed, timed out or was closed by the peer mid-message.
class TransportError : public std::runtime_error {
 public:
  TransportError(const std::string& message, bool timed_out = false)
      : std::runtime_error(message), timed_out_(timed_out) {}
  bool timed_out() const { return timed_out_; }

 private:
  bool timed_out_;
};

// Not thread-safe, except shutdown(), which another thread may call to
// wake a blocked reader or writer. The transport does not own the socket,
// so the code that accepted it closes it after the transport is gone.
class Transport {
 public:
  explicit Transport(int fd);
  virtual ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Reads at most `size` bytes; returns 0 when the peer closed the
  // connection. Throws TransportError on failure or when nothing arrives
  // within the timeout.
  virtual std::size_t read_some(char* buffer, std::size_t size) = 0;
  // Writes all `size` bytes or throws TransportError.
  virtual void write_all(const char* data, std::size_t size) = 0;
  // Writes two buffers (a response head and its body) or throws.
  virtual void write_two(std::string_view first, std::string_view second);
  // Sends `length` bytes of file `fd` starting at `offset`.
  virtual void send_file(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t& sent) = 0;
  virtual bool is_tls() const = 0;

  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  // Waits until data (or the peer's close) can be read; returns false if
  // the timeout passed first. TLS may already hold decrypted bytes, so it
  // does not wait.
  virtual bool wait_readable();
  // Shuts the socket down for reading and writing: blocked and later
  // operations end at once. Safe from any thread.
  void shutdown();
  int fd() const { return fd_; }

 protected:
  // Waits until the socket is readable (`events` = POLLIN) or writable
  // (POLLOUT); throws TransportError on timeout.
  void wait(short events);

  int fd_;
  std::chrono::milliseconds timeout_{std::chrono::seconds(60)};
};

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : Transport(fd) {}
  std::size_t read_some(char* buffer, std::size_t size) override;
  void write_all(const char* data, std::size_t size) override;
  void write_two(std::string_view first, std::string_view second) override;
  void send_file(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t& sent) override;
  bool is_tls() const override { return false; }
};

// A server-side TLS context loaded from PEM files.
class TlsContext {
 public:
  // Throws std::runtime_error naming the file when the certificate chain
  // or key cannot be loaded or do not match.
  TlsContext(const std::string& certificate_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return context_; }

 private:
  SSL_CTX* context_;
};

class TlsTransport final : public Transport {
 public:
  // Performs the TLS handshake; throws TransportError if it fails.
  TlsTransport(int fd, const TlsContext& context, std::chrono::milliseconds handshake_timeout);
  ~TlsTransport() override;
  std::size_t read_some(char* buffer, std::size_t size) override;
  void write_all(const char* data, std::size_t size) override;
  void send_file(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t& sent) override;
  bool is_tls() const override { return true; }
  bool wait_readable() override { return SSL_pending(ssl_) > 0 || Transport::wait_readable(); }

 private:
  // Handles an SSL_ERROR_* result: waits and returns true to retry, or
  // returns false at a clean end of stream, or throws.
  bool handle_result(int error, const char* operation);

  SSL* ssl_;
};

}  // namespace berth::http

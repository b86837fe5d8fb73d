#include "http/transport.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace berth::http {

namespace {

std::string system_error(const char* operation) { return std::string(operation) + " failed: " + std::strerror(errno); }

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

// Bytes sent by one sendfile(2) call at most; the kernel caps it near 2 GiB.
constexpr std::uint64_t kSendfileStep = 1u << 30;
// Bytes read from the file per TLS record batch when sendfile cannot be used.
constexpr std::size_t kTlsFileChunk = 256 * 1024;

}  // namespace

Transport::Transport(int fd) : fd_(fd) {}

Transport::~Transport() = default;

void Transport::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

void Transport::write_two(std::string_view first, std::string_view second) {
  write_all(first.data(), first.size());
  write_all(second.data(), second.size());
}

bool Transport::wait_readable() {
  try {
    wait(POLLIN);
    return true;
  } catch (const TransportError& error) {
    if (error.timed_out()) return false;
    throw;
  }
}

void Transport::wait(short events) {
  pollfd entry{.fd = fd_, .events = events, .revents = 0};
  while (true) {
    int ready = ::poll(&entry, 1, static_cast<int>(timeout_.count()));
    if (ready > 0) return;  // readable, writable, or an error the next call reports
    if (ready == 0) throw TransportError("no progress on the connection for " + std::to_string(timeout_.count()) + " ms", true);
    if (errno != EINTR) throw TransportError(system_error("poll"));
  }
}

std::size_t PlainTransport::read_some(char* buffer, std::size_t size) {
  while (true) {
    ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(POLLIN);
    } else if (errno == ECONNRESET || errno == ENOTCONN) {
      return 0;
    } else if (errno != EINTR) {
      throw TransportError(system_error("recv"));
    }
  }
}

void PlainTransport::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(POLLOUT);
    } else if (errno != EINTR) {
      throw TransportError(system_error("send"));
    }
  }
}

void PlainTransport::write_two(std::string_view first, std::string_view second) {
  // One writev for a response head and a small body saves a packet and a
  // system call on the hot manifest path.
  iovec parts[2] = {{const_cast<char*>(first.data()), first.size()}, {const_cast<char*>(second.data()), second.size()}};
  int index = 0;
  while (index < 2) {
    if (parts[index].iov_len == 0) {
      ++index;
      continue;
    }
    msghdr message{};
    message.msg_iov = parts + index;
    message.msg_iovlen = static_cast<std::size_t>(2 - index);
    ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(POLLOUT);
        continue;
      }
      if (errno == EINTR) continue;
      throw TransportError(system_error("sendmsg"));
    }
    auto sent = static_cast<std::size_t>(n);
    while (index < 2 && sent >= parts[index].iov_len) {
      sent -= parts[index].iov_len;
      parts[index].iov_len = 0;
      ++index;
    }
    if (index < 2) {
      parts[index].iov_base = static_cast<char*>(parts[index].iov_base) + sent;
      parts[index].iov_len -= sent;
    }
  }
}

void PlainTransport::send_file(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t& sent) {
  auto position = static_cast<off_t>(offset);
  while (length > 0) {
    std::size_t step = static_cast<std::size_t>(length < kSendfileStep ? length : kSendfileStep);
    ssize_t n = ::sendfile(fd_, fd, &position, step);
    if (n > 0) {
      length -= static_cast<std::uint64_t>(n);
      sent += static_cast<std::uint64_t>(n);
    } else if (n == 0) {
      throw TransportError("the file ended before the announced length was sent");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(POLLOUT);
    } else if (errno != EINTR) {
      throw TransportError(system_error("sendfile"));
    }
  }
}

TlsContext::TlsContext(const std::string& certificate_file, const std::string& key_file) {
  context_ = SSL_CTX_new(TLS_server_method());
  if (context_ == nullptr) throw std::runtime_error("cannot create a TLS context: " + openssl_error());
  SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
  SSL_CTX_set_mode(context_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(context_, certificate_file.c_str()) != 1) {
    std::string reason = openssl_error();
    SSL_CTX_free(context_);
    throw std::runtime_error("cannot load TLS certificate " + certificate_file + ": " + reason);
  }
  if (SSL_CTX_use_PrivateKey_file(context_, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(context_) != 1) {
    std::string reason = openssl_error();
    SSL_CTX_free(context_);
    throw std::runtime_error("cannot load TLS key " + key_file + " (or it does not match the certificate): " + reason);
  }
}

TlsContext::~TlsContext() { SSL_CTX_free(context_); }

TlsTransport::TlsTransport(int fd, const TlsContext& context, std::chrono::milliseconds handshake_timeout)
    : Transport(fd), ssl_(SSL_new(context.get())) {
  if (ssl_ == nullptr) throw TransportError("cannot create a TLS session: " + openssl_error());
  SSL_set_fd(ssl_, fd);
  set_timeout(handshake_timeout);
  try {
    while (true) {
      int rc = SSL_accept(ssl_);
      if (rc == 1) break;
      if (!handle_result(SSL_get_error(ssl_, rc), "TLS handshake")) {
        throw TransportError("the client closed the connection during the TLS handshake");
      }
    }
  } catch (...) {
    SSL_free(ssl_);
    throw;
  }
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

bool TlsTransport::handle_result(int error, const char* operation) {
  switch (error) {
    case SSL_ERROR_WANT_READ:
      wait(POLLIN);
      return true;
    case SSL_ERROR_WANT_WRITE:
      wait(POLLOUT);
      return true;
    case SSL_ERROR_ZERO_RETURN:
      return false;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || errno == ECONNRESET) {
        ERR_clear_error();
        return false;  // the peer closed the socket without close_notify
      }
      throw TransportError(std::string(operation) + ": " + system_error("socket"));
    default:
      throw TransportError(std::string(operation) + " failed: " + openssl_error());
  }
}

std::size_t TlsTransport::read_some(char* buffer, std::size_t size) {
  while (true) {
    std::size_t n = 0;
    errno = 0;
    if (SSL_read_ex(ssl_, buffer, size, &n) == 1) return n;
    if (!handle_result(SSL_get_error(ssl_, 0), "TLS read")) return 0;
  }
}

void TlsTransport::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    std::size_t n = 0;
    errno = 0;
    if (SSL_write_ex(ssl_, data, size, &n) == 1) {
      data += n;
      size -= n;
      continue;
    }
    if (!handle_result(SSL_get_error(ssl_, 0), "TLS write")) throw TransportError("the client closed the TLS connection");
  }
}

void TlsTransport::send_file(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t& sent) {
  std::vector<char> chunk(kTlsFileChunk);
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(length < chunk.size() ? length : chunk.size());
    ssize_t n = ::pread(fd, chunk.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw TransportError(system_error("pread"));
    if (n == 0) throw TransportError("the file ended before the announced length was sent");
    write_all(chunk.data(), static_cast<std::size_t>(n));
    sent += static_cast<std::uint64_t>(n);
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
}

}  // namespace berth::http

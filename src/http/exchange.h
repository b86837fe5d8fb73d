// One HTTP request and its response, as passed to a handler. The request
// body is streamed: a handler reads it in pieces of its own size, so blob
// uploads never sit whole in memory.
#pragma once

#include "http/transport.h"
#include "http/url.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/parser.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::http {

namespace beast_http = boost::beast::http;

using RequestParser = beast_http::request_parser<beast_http::buffer_body>;

// A response built by a handler. Content-Length is set when it is sent.
struct Response {
  int status = 200;
  beast_http::fields headers;
  std::string body;
  // For HEAD: the length the GET body would have; sent as Content-Length.
  std::optional<std::uint64_t> head_length;
};

// Adapts a Transport to Beast's SyncReadStream concept, for the parser.
class BeastStream {
 public:
  explicit BeastStream(Transport& transport) : transport_(transport) {}

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& error);
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers);

  Transport& transport() { return transport_; }

 private:
  Transport& transport_;
};

class Exchange {
 public:
  // `parser` has read the request head, and `buffer` contains the bytes
  // read past it.
  Exchange(Transport& transport, BeastStream& stream, boost::beast::flat_buffer& buffer, RequestParser& parser,
           std::string request_id, std::string remote_address);

  // --- Request -----------------------------------------------------------

  beast_http::verb method() const { return request().method(); }
  std::string_view method_name() const {
    auto name = request().method_string();
    return std::string_view(name.data(), name.size());
  }
  bool is_head() const { return method() == beast_http::verb::head; }
  std::string_view target() const { return target_; }
  std::string_view path() const { return path_; }
  const Query& query() const { return query_; }

  // The first value of the header, or "" if absent.
  std::string_view header(std::string_view name) const;
  // Every value of a header that may repeat, comma-separated lists split.
  std::vector<std::string> header_list(std::string_view name) const;

  std::optional<std::uint64_t> content_length() const { return content_length_; }
  bool has_body() const { return chunked_ || (content_length_ && *content_length_ > 0); }
  bool body_complete() const { return body_done_; }
  // True while the client waits for "100 Continue" before sending the body.
  bool awaiting_continue() const { return expects_continue_ && !body_done_; }
  std::uint64_t body_bytes_read() const { return body_read_; }

  // Reads up to `size` bytes of the body; returns 0 at its end. Throws
  // TransportError if the connection breaks or the client stops sending
  // before the announced length (a truncated body).
  std::size_t read_body(char* buffer, std::size_t size);
  // Reads the whole body if it has at most `limit` bytes; returns nullopt
  // (with the body partly read) if it is longer.
  std::optional<std::string> read_body_up_to(std::size_t limit);
  // Reads and drops up to `limit` bytes of the rest of the body; returns
  // true if the body was then complete.
  bool discard_body(std::uint64_t limit);

  const std::string& request_id() const { return request_id_; }
  const std::string& remote_address() const { return remote_address_; }
  std::string_view user_agent() const { return header("User-Agent"); }

  // --- Response ----------------------------------------------------------

  // Sends the response, adding the headers common to every response. For
  // HEAD requests the body is not sent. Throws std::logic_error when a
  // response was already sent.
  void send(Response response);
  // Sends `head` with `length` bytes of file `fd` from `offset` as the body
  // (sendfile(2) on plain connections).
  void send_file(Response head, int fd, std::uint64_t offset, std::uint64_t length);
  // Sends `head` with a body of `length` bytes that `read` yields in order,
  // each call filling up to `size` bytes of `buffer`, for data that is not
  // in a local file. Throws std::runtime_error and closes the connection
  // when `read` returns 0 before `length` bytes, because the client was
  // promised that many.
  void send_stream(Response head, std::uint64_t length,
                   const std::function<std::size_t(char* buffer, std::size_t size)>& read);

  bool responded() const { return status_ != 0; }
  int status() const { return status_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  // Body bytes that send_file() or send_stream() wrote, also when it threw
  // part way.
  std::uint64_t file_bytes_sent() const { return file_bytes_sent_; }
  // Asks the server to close the connection after this exchange.
  void close_after() { close_after_ = true; }
  // Closes the connection after this exchange if `flag` is set by the time
  // the response goes out (the server is stopping).
  void close_after_if(const std::atomic<bool>* flag) { close_flag_ = flag; }
  bool wants_close() const { return close_after_; }

 private:
  const beast_http::request<beast_http::buffer_body>& request() const { return parser_.get(); }
  std::string serialize_head(const Response& response, std::uint64_t length);
  void send_continue_if_expected();

  Transport& transport_;
  BeastStream& stream_;
  boost::beast::flat_buffer& buffer_;
  RequestParser& parser_;
  std::string request_id_;
  std::string remote_address_;

  std::string_view target_;
  std::string_view path_;
  Query query_;
  bool chunked_ = false;
  std::optional<std::uint64_t> content_length_;
  std::uint64_t body_read_ = 0;
  bool body_done_ = false;
  bool expects_continue_ = false;

  int status_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t file_bytes_sent_ = 0;
  bool close_after_ = false;
  const std::atomic<bool>* close_flag_ = nullptr;
};

// --- Template definitions --------------------------------------------------

template <class MutableBufferSequence>
std::size_t BeastStream::read_some(const MutableBufferSequence& buffers, boost::system::error_code& error) {
  error = {};
  for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
    boost::asio::mutable_buffer buffer = *it;
    if (buffer.size() == 0) continue;
    try {
      std::size_t n = transport_.read_some(static_cast<char*>(buffer.data()), buffer.size());
      if (n == 0) error = boost::asio::error::eof;
      return n;
    } catch (const TransportError& failure) {
      error = failure.timed_out() ? boost::asio::error::timed_out : boost::asio::error::connection_reset;
      return 0;
    }
  }
  return 0;
}

template <class MutableBufferSequence>
std::size_t BeastStream::read_some(const MutableBufferSequence& buffers) {
  boost::system::error_code error;
  std::size_t n = read_some(buffers, error);
  if (error) throw boost::system::system_error(error);
  return n;
}

}  // namespace berth::http

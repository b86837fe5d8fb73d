#include "http/exchange.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

namespace berth::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

Exchange::Exchange(Transport& transport, BeastStream& stream, boost::beast::flat_buffer& buffer, RequestParser& parser,
                   std::string request_id, std::string remote_address)
    : transport_(transport),
      stream_(stream),
      buffer_(buffer),
      parser_(parser),
      request_id_(std::move(request_id)),
      remote_address_(std::move(remote_address)) {
  target_ = std::string_view(request().target().data(), request().target().size());
  auto question = target_.find('?');
  path_ = target_.substr(0, question);
  if (question != std::string_view::npos) query_ = Query(target_.substr(question + 1));

  chunked_ = parser_.chunked();
  if (!chunked_) {
    auto length = parser_.content_length();
    content_length_ = length ? *length : 0;
    body_done_ = *content_length_ == 0;
  }
  expects_continue_ = iequals(header("Expect"), "100-continue");
}

std::string_view Exchange::header(std::string_view name) const {
  auto it = request().find(boost::beast::string_view(name.data(), name.size()));
  if (it == request().end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

std::vector<std::string> Exchange::header_list(std::string_view name) const {
  std::vector<std::string> out;
  auto range = request().equal_range(boost::beast::string_view(name.data(), name.size()));
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view value(it->value().data(), it->value().size());
    while (!value.empty()) {
      auto comma = value.find(',');
      std::string_view item = trim(value.substr(0, comma));
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return out;
}

void Exchange::send_continue_if_expected() {
  if (!expects_continue_ || responded()) return;
  expects_continue_ = false;
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  transport_.write_all(kContinue.data(), kContinue.size());
}

std::size_t Exchange::read_body(char* buffer, std::size_t size) {
  if (body_done_ || size == 0) return 0;
  send_continue_if_expected();

  if (!chunked_) {
    std::uint64_t remaining = *content_length_ - body_read_;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, size));
    std::size_t got = 0;
    // Bytes that arrived with the request head come first, then the socket
    // is read directly into the caller's buffer (no intermediate copy).
    if (buffer_.size() > 0) {
      got = std::min(want, buffer_.size());
      std::memcpy(buffer, buffer_.data().data(), got);
      buffer_.consume(got);
    } else {
      got = transport_.read_some(buffer, want);
      if (got == 0) {
        throw TransportError("the client closed the connection after " + std::to_string(body_read_) + " of " +
                             std::to_string(*content_length_) + " body bytes");
      }
    }
    body_read_ += got;
    if (body_read_ == *content_length_) body_done_ = true;
    return got;
  }

  // Chunked transfer coding: Beast's parser removes the chunk framing.
  while (true) {
    auto& body = parser_.get().body();
    body.data = buffer;
    body.size = size;
    boost::system::error_code error;
    beast_http::read(stream_, buffer_, parser_, error);
    if (error == beast_http::error::need_buffer) error = {};
    if (error) throw TransportError("reading the chunked request body failed: " + error.message());
    std::size_t got = size - body.size;
    body_read_ += got;
    if (parser_.is_done()) body_done_ = true;
    if (got > 0 || body_done_) return got;
  }
}

std::optional<std::string> Exchange::read_body_up_to(std::size_t limit) {
  std::string out;
  if (content_length_ && *content_length_ > limit) return std::nullopt;
  char chunk[16 * 1024];
  while (true) {
    std::size_t n = read_body(chunk, sizeof chunk);
    if (n == 0) break;
    if (out.size() + n > limit) return std::nullopt;
    out.append(chunk, n);
  }
  return out;
}

bool Exchange::discard_body(std::uint64_t limit) {
  char chunk[16 * 1024];
  std::uint64_t dropped = 0;
  while (!body_done_ && dropped < limit) {
    std::size_t n = read_body(chunk, sizeof chunk);
    if (n == 0) break;
    dropped += n;
  }
  return body_done_;
}

std::string Exchange::serialize_head(const Response& response, std::uint64_t length) {
  if (close_flag_ != nullptr && close_flag_->load()) close_after_ = true;
  std::string head = "HTTP/1.1 ";
  head += std::to_string(response.status);
  head += ' ';
  auto reason = beast_http::obsolete_reason(static_cast<beast_http::status>(response.status));
  head.append(reason.data(), reason.size());
  head += "\r\n";
  for (const auto& field : response.headers) {
    head.append(field.name_string().data(), field.name_string().size());
    head += ": ";
    head.append(field.value().data(), field.value().size());
    head += "\r\n";
  }
  // 1xx, 204 and 304 responses carry no Content-Length (RFC 9110 8.6).
  if (response.status != 204 && response.status != 304) {
    head += "Content-Length: ";
    head += std::to_string(length);
    head += "\r\n";
  }
  head += "Docker-Distribution-API-Version: registry/2.0\r\n";
  head += "X-Request-Id: ";
  head += request_id_;
  head += "\r\n";
  if (close_after_) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

void Exchange::send(Response response) {
  if (responded()) throw std::logic_error("a second response for request " + request_id_);
  // A client that waits for 100 Continue but gets a final response may
  // still send the body, so the connection cannot be reused.
  if (expects_continue_ && !body_done_) close_after_ = true;
  std::uint64_t length = response.head_length ? *response.head_length : response.body.size();
  std::string head = serialize_head(response, length);
  status_ = response.status;
  if (is_head() || response.status == 204 || response.status == 304) {
    transport_.write_all(head.data(), head.size());
    bytes_sent_ = head.size();
    return;
  }
  transport_.write_two(head, response.body);
  bytes_sent_ = head.size() + response.body.size();
}

void Exchange::send_file(Response head, int fd, std::uint64_t offset, std::uint64_t length) {
  if (responded()) throw std::logic_error("a second response for request " + request_id_);
  if (expects_continue_ && !body_done_) close_after_ = true;
  std::string serialized = serialize_head(head, length);
  status_ = head.status;
  transport_.write_all(serialized.data(), serialized.size());
  bytes_sent_ = serialized.size();
  if (is_head()) return;
  std::uint64_t sent = 0;
  try {
    transport_.send_file(fd, offset, length, sent);
  } catch (...) {
    file_bytes_sent_ = sent;
    bytes_sent_ += sent;
    throw;
  }
  file_bytes_sent_ = sent;
  bytes_sent_ += sent;
}

void Exchange::send_stream(Response head, std::uint64_t length,
                           const std::function<std::size_t(char* buffer, std::size_t size)>& read) {
  if (responded()) throw std::logic_error("a second response for request " + request_id_);
  if (expects_continue_ && !body_done_) close_after_ = true;
  std::string serialized = serialize_head(head, length);
  status_ = head.status;
  transport_.write_all(serialized.data(), serialized.size());
  bytes_sent_ = serialized.size();
  if (is_head()) return;

  constexpr std::size_t kChunk = 1 << 20;
  std::vector<char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(length, kChunk)));
  std::uint64_t remaining = length;
  while (remaining > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer.size()));
    std::size_t got = read(buffer.data(), want);
    if (got == 0) {
      close_after_ = true;
      throw std::runtime_error("the response body of request " + request_id_ + " ended " +
                               std::to_string(remaining) + " bytes short of its Content-Length of " +
                               std::to_string(length));
    }
    transport_.write_all(buffer.data(), got);
    file_bytes_sent_ += got;
    bytes_sent_ += got;
    remaining -= got;
  }
}

}  // namespace berth::http

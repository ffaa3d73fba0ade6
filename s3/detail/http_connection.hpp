// One HTTP/1.1 keep-alive connection to an S3 endpoint, plain TCP or TLS, every step under a deadline.
#pragma once

#include "s3/client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <variant>

namespace pg2s3::s3::detail {

namespace http = boost::beast::http;

using HttpRequest = http::request<http::span_body<const char>>;
using HttpResponse = http::response<http::string_body>;

// What went wrong below HTTP: the error code and, for TLS, why the peer was not trusted.
struct TransportFailure {
  boost::system::error_code code;
  std::string detail;
  bool received_nothing = true;  // no byte of a response arrived: safe to send again on a new connection
  explicit operator bool() const { return static_cast<bool>(code); }
};

class HttpConnection {
 public:
  using Duration = std::chrono::steady_clock::duration;

  // `tls_context` null: plain TCP.
  HttpConnection(boost::asio::any_io_executor executor, boost::asio::ssl::context* tls_context);

  // Over TLS, `resume` (when not null) is a session of an earlier connection to the same host, offered so
  // that the handshake is resumed rather than done in full.
  boost::asio::awaitable<TransportFailure> connect(const Endpoint& endpoint,
                                                   const boost::asio::ip::tcp::resolver::results_type& addresses,
                                                   Duration timeout, SSL_SESSION* resume);

  // Sends the request and reads the whole response into `response` (its body at most `body_limit`).
  boost::asio::awaitable<TransportFailure> round_trip(HttpRequest& request, HttpResponse& response,
                                                      std::size_t body_limit, Duration timeout);

  // Sends the request and hands the body to `sink` chunk by chunk; a response that is not 2xx
  // is collected into `response.body()` instead, for the error.
  boost::asio::awaitable<TransportFailure> round_trip_streaming(HttpRequest& request, HttpResponse& response,
                                                                const Client::BodySink& sink, Duration timeout);

  bool reusable() const { return reusable_; }
  // Whether the TLS handshake resumed the offered session.
  bool resumed() const;
  // This connection's TLS session for the next connection to offer (a reference the caller frees), when
  // the server granted one that can be resumed; null otherwise. Asked after a response, since TLS 1.3
  // servers send their tickets after the handshake.
  SSL_SESSION* session_to_resume() const;

 private:
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  boost::beast::tcp_stream& tcp();
  boost::asio::awaitable<TransportFailure> send(HttpRequest& request, Duration timeout);

  std::variant<boost::beast::tcp_stream, TlsStream> stream_;
  boost::beast::flat_buffer buffer_;
  bool reusable_ = false;
};

}  // namespace pg2s3::s3::detail

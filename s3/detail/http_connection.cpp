#include "s3/detail/http_connection.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>

namespace pg2s3::s3::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

using async::use_tuple;
constexpr std::size_t max_error_body = 64 * 1024;

using Stream = std::variant<beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>>;

Stream make_stream(asio::any_io_executor executor, asio::ssl::context* tls_context) {
  if (tls_context) return Stream(std::in_place_index<1>, executor, *tls_context);
  return Stream(std::in_place_index<0>, executor);
}

// OpenSSL's own words for why the peer was not trusted ("self-signed certificate").
std::string tls_failure_detail(SSL* ssl, const Endpoint& endpoint) {
  const long verify_result = SSL_get_verify_result(ssl);
  if (verify_result != X509_V_OK)
    return std::string("certificate of ") + endpoint.host + " not trusted: " +
           X509_verify_cert_error_string(verify_result);
  return "TLS handshake with " + endpoint.authority() + " failed";
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

HttpConnection::HttpConnection(asio::any_io_executor executor, asio::ssl::context* tls_context)
    : stream_(make_stream(std::move(executor), tls_context)) {}

beast::tcp_stream& HttpConnection::tcp() {
  return std::visit([](auto& stream) -> beast::tcp_stream& { return beast::get_lowest_layer(stream); }, stream_);
}

asio::awaitable<TransportFailure> HttpConnection::connect(const Endpoint& endpoint,
                                                          const asio::ip::tcp::resolver::results_type& addresses,
                                                          Duration timeout, SSL_SESSION* resume) {
  tcp().expires_after(timeout);
  auto [ec, connected_to] = co_await tcp().async_connect(addresses, use_tuple);
  if (ec) co_return TransportFailure{ec, "connecting to " + endpoint.authority()};

  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    if (!is_ip_address(endpoint.host))  // SNI carries host names, never addresses
      SSL_set_tlsext_host_name(tls->native_handle(), endpoint.host.c_str());
    tls->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
    if (resume) SSL_set_session(tls->native_handle(), resume);
    tcp().expires_after(timeout);
    auto [handshake_ec] = co_await tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (handshake_ec) co_return TransportFailure{handshake_ec, tls_failure_detail(tls->native_handle(), endpoint)};
  }
  reusable_ = true;
  co_return TransportFailure{};
}

bool HttpConnection::resumed() const {
  const auto* tls = std::get_if<TlsStream>(&stream_);
  return tls && SSL_session_reused(const_cast<TlsStream*>(tls)->native_handle());
}

SSL_SESSION* HttpConnection::session_to_resume() const {
  const auto* tls = std::get_if<TlsStream>(&stream_);
  if (!tls) return nullptr;
  SSL_SESSION* session = SSL_get1_session(const_cast<TlsStream*>(tls)->native_handle());
  if (session && !SSL_SESSION_is_resumable(session)) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return session;
}

asio::awaitable<TransportFailure> HttpConnection::send(HttpRequest& request, Duration timeout) {
  reusable_ = false;  // until a whole response has been read
  tcp().expires_after(timeout);
  auto [ec, sent] = co_await std::visit(
      [&](auto& stream) { return http::async_write(stream, request, use_tuple); }, stream_);
  if (ec) co_return TransportFailure{ec, "sending the request"};
  co_return TransportFailure{};
}

asio::awaitable<TransportFailure> HttpConnection::round_trip(HttpRequest& request, HttpResponse& response,
                                                             std::size_t body_limit, Duration timeout) {
  if (auto failure = co_await send(request, timeout)) co_return failure;

  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  if (request.method() == http::verb::head) parser.skip(true);
  tcp().expires_after(timeout);
  auto [ec, received] = co_await std::visit(
      [&](auto& stream) { return http::async_read(stream, buffer_, parser, use_tuple); }, stream_);
  if (ec) co_return TransportFailure{ec, "reading the response", !parser.got_some()};

  response = parser.release();
  reusable_ = response.keep_alive();
  co_return TransportFailure{};
}

asio::awaitable<TransportFailure> HttpConnection::round_trip_streaming(HttpRequest& request, HttpResponse& response,
                                                                       const Client::BodySink& sink,
                                                                       Duration timeout) {
  if (auto failure = co_await send(request, timeout)) co_return failure;

  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  tcp().expires_after(timeout);
  auto [header_ec, header_size] = co_await std::visit(
      [&](auto& stream) { return http::async_read_header(stream, buffer_, parser, use_tuple); }, stream_);
  if (header_ec) co_return TransportFailure{header_ec, "reading the response header", !parser.got_some()};

  const bool success = http::to_status_class(parser.get().result()) == http::status_class::successful;
  std::array<char, 64 * 1024> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    tcp().expires_after(timeout);
    auto [ec, received] = co_await std::visit(
        [&](auto& stream) { return http::async_read(stream, buffer_, parser, use_tuple); }, stream_);
    if (ec && ec != http::error::need_buffer) co_return TransportFailure{ec, "reading the response body", false};
    const std::string_view bytes(chunk.data(), chunk.size() - parser.get().body().size);
    if (success)
      sink(bytes);
    else if (response.body().size() < max_error_body)
      response.body().append(bytes);
  }
  response.base() = parser.get().base();
  reusable_ = parser.get().keep_alive();
  co_return TransportFailure{};
}

}  // namespace pg2s3::s3::detail

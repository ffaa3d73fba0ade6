#include "http/server.hpp"

#include "http/handler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>

namespace pg2s3::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::optional<tcp::endpoint> parse_listen_address(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(address.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  unsigned short port = 0;
  const auto digits = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  boost::system::error_code bad_address;
  auto ip = asio::ip::make_address(host, bad_address);
  if (ec != std::errc{} || end != digits.data() + digits.size() || bad_address) return std::nullopt;
  return tcp::endpoint(ip, port);
}

// The answer to a request the parser refused, before any handler saw it.
std::optional<ApiResponse> refusal_for(const boost::system::error_code& ec) {
  if (ec == bhttp::error::body_limit) return error_response(413, "payload_too_large", "the request body is too large");
  if (ec == bhttp::error::header_limit)
    return error_response(431, "headers_too_large", "the request line or headers are too large");
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category())
    return error_response(400, "bad_request", "malformed HTTP request");
  return std::nullopt;  // the connection closed or timed out: nobody to answer
}

}  // namespace

struct Server::Impl {
  Impl(asio::any_io_executor executor, engine::Engine& engine, ServerConfig config)
      : engine(engine), config(std::move(config)), acceptor(executor) {}

  engine::Engine& engine;
  ServerConfig config;
  tcp::acceptor acceptor;

  asio::awaitable<void> write(beast::tcp_stream& stream, const ApiResponse& answer, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(answer.status), version};
    response.set(bhttp::field::server, "pg2s3");
    response.set(bhttp::field::content_type, answer.content_type);
    response.body() = answer.body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(config.write_timeout);
    co_await bhttp::async_write(stream, response, use_tuple);
  }

  asio::awaitable<void> session(tcp::socket socket) {
    co_await asio::this_coro::throw_if_cancelled(false);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(config.body_limit);
      parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
      stream.expires_after(config.read_timeout);
      auto [ec, received] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
      if (ec) {
        if (auto refusal = refusal_for(ec)) co_await write(stream, *refusal, 11, false);
        break;
      }
      const auto& request = parser.get();
      const ApiRequest api{std::string(request.method_string()), std::string(request.target()),
                           std::string(request[bhttp::field::authorization]), request.body()};
      const ApiResponse answer = co_await handle_request(engine, api, config.api_token);
      const bool keep_alive = request.keep_alive();
      co_await write(stream, answer, request.version(), keep_alive);
      if (!keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

engine::Result<std::unique_ptr<Server>> Server::listen(asio::any_io_executor executor, engine::Engine& engine,
                                                       std::string_view address, ServerConfig config) {
  auto endpoint = parse_listen_address(address);
  if (!endpoint) return engine::Error{asio::error::invalid_argument, "listen address '" + std::string(address) + "' is not HOST:PORT"};
  auto impl = std::make_unique<Impl>(executor, engine, std::move(config));
  boost::system::error_code ec;
  impl->acceptor.open(endpoint->protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(*endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return engine::Error{ec, "cannot listen on " + std::string(address) + ": " + ec.message()};
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

asio::awaitable<void> Server::run() {
  for (;;) {
    auto [ec, socket] = co_await impl_->acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted || !impl_->acceptor.is_open()) co_return;
    if (ec) {  // out of descriptors, say: accepting again at once would only spin
      asio::steady_timer pause(impl_->acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(impl_->acceptor.get_executor(), impl_->session(std::move(socket)), asio::detached);
  }
}

void Server::stop() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

unsigned short Server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace pg2s3::http

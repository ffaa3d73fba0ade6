#include "http/server.hpp"

#include "async/cancellation.hpp"
#include "async/sync.hpp"
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
#include <list>

namespace pg2s3::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {

using async::use_tuple;

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

// A request the parser refused gets an answer; a connection that closed or timed out has nobody to answer.
// (A clean close between requests and one in mid-request share the parser's error category.)
std::optional<ApiResponse> refusal_for(const boost::system::error_code& ec) {
  if (ec == bhttp::error::body_limit) return error_response(413, "payload_too_large", "the request body is too large");
  if (ec == bhttp::error::header_limit)
    return error_response(431, "headers_too_large", "the request line or headers are too large");
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category())
    return error_response(400, "bad_request", "malformed HTTP request");
  return std::nullopt;
}

// A connection the server owns: stop() closes it while it waits for a request, and lets it finish an answer.
struct Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool answering = false;
};

}  // namespace

struct Server::Impl {
  Impl(asio::any_io_executor executor, engine::Engine& engine, ServerConfig config, asio::ip::address listening)
      : engine(engine),
        config(std::move(config)),
        site{this->config.allowed_origins, listening, this->config.hostnames},
        acceptor(executor),
        sessions_ended(executor) {}

  engine::Engine& engine;
  ServerConfig config;
  SiteRules site;
  tcp::acceptor acceptor;
  std::list<Session*> sessions;
  bool stopping = false;
  async::Event sessions_ended;  // set once stopping and the last session is gone

  void close_idle_sessions() {
    for (Session* session : sessions)
      if (!session->answering) session->stream.cancel();
  }

  asio::awaitable<void> write(beast::tcp_stream& stream, const ApiResponse& answer, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(answer.status), version};
    response.set(bhttp::field::server, "pg2s3");
    response.set(bhttp::field::content_type, answer.content_type);
    if (answer.retry_after) response.set(bhttp::field::retry_after, std::to_string(*answer.retry_after));
    response.body() = answer.body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(config.write_timeout);
    co_await bhttp::async_write(stream, response, use_tuple);
  }

  // Registered before it is spawned, so that stop() and run()'s wait know of it from the start.
  asio::awaitable<void> session(std::unique_ptr<Session> session) {
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await serve(*session);
    sessions.remove(session.get());
    if (stopping && sessions.empty()) sessions_ended.set();
  }

  // Requests and answers on one connection until either side closes it or the server stops.
  asio::awaitable<void> serve(Session& session) {
    auto& stream = session.stream;
    beast::flat_buffer buffer;
    while (!stopping) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(config.body_limit);
      parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
      stream.expires_after(config.read_timeout);
      auto [ec, received] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
      if (ec) {
        if (auto refusal = refusal_for(ec)) co_await write(stream, *refusal, 11, false);
        break;
      }
      session.answering = true;
      const auto& request = parser.get();
      const auto origin = request.find(bhttp::field::origin);
      const ApiRequest api{std::string(request.method_string()), std::string(request.target()),
                           std::string(request[bhttp::field::authorization]), request.body(),
                           std::string(request["Idempotency-Key"]),
                           origin == request.end() ? std::nullopt : std::optional<std::string>(origin->value()),
                           std::string(request[bhttp::field::host])};
      const ApiResponse answer = co_await handle_request(engine, api, config.api_token, site);
      const bool keep_alive = request.keep_alive() && !stopping;
      co_await write(stream, answer, request.version(), keep_alive);
      session.answering = false;
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
  auto impl = std::make_unique<Impl>(executor, engine, std::move(config), endpoint->address());
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
    if (ec == asio::error::operation_aborted || !impl_->acceptor.is_open()) break;
    if (ec) {  // out of descriptors, say: accepting again at once would only spin
      asio::steady_timer pause(impl_->acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto session = std::make_unique<Session>(std::move(socket));
    impl_->sessions.push_back(session.get());
    asio::co_spawn(impl_->acceptor.get_executor(), impl_->session(std::move(session)), asio::detached);
  }
  if (!impl_->sessions.empty()) co_await impl_->sessions_ended.wait();
}

void Server::stop() {
  impl_->stopping = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->close_idle_sessions();
}

unsigned short Server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace pg2s3::http

#include "s3/credentials/http_call.hpp"

#include "async/cancellation.hpp"

#include "s3/detail/http_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pg2s3::s3 {
namespace {

namespace asio = boost::asio;
using async::use_tuple;
constexpr std::size_t max_answer = 64 * 1024;

asio::ssl::context& tls_context() {
  static asio::ssl::context context = [] {
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
    return tls;
  }();
  return context;
}

}  // namespace

asio::awaitable<Result<HttpAnswer>> http_call(asio::any_io_executor executor, HttpCall call, std::string source) {
  using namespace asio::experimental::awaitable_operators;
  auto failed = [&](std::string what) {
    return credentials_error(errc::credentials_failed, source, what + " " + call.endpoint.origin());
  };
  asio::ip::tcp::resolver resolver(executor);
  asio::steady_timer deadline(executor, call.timeout);
  auto resolved = co_await (resolver.async_resolve(call.endpoint.host, call.endpoint.port, use_tuple) ||
                            deadline.async_wait(use_tuple));
  if (resolved.index() == 1) co_return failed("timed out resolving");
  auto [ec, addresses] = std::get<0>(resolved);
  if (ec) co_return failed("cannot resolve (" + ec.message() + ")");

  detail::HttpConnection connection(executor, call.endpoint.tls ? &tls_context() : nullptr);
  if (auto failure = co_await connection.connect(call.endpoint, addresses, call.timeout, nullptr))
    co_return failed("cannot connect (" + failure.code.message() + ") to");
  detail::HttpRequest request{call.method, call.target, 11};
  request.set(boost::beast::http::field::host, call.endpoint.authority());
  request.set(boost::beast::http::field::user_agent, "pg2s3");
  for (const auto& [name, value] : call.headers) request.set(name, value);
  request.body() = {call.body.data(), call.body.size()};
  request.prepare_payload();
  request.keep_alive(false);
  detail::HttpResponse response;
  if (auto failure = co_await connection.round_trip(request, response, max_answer, call.timeout))
    co_return failed("no answer (" + failure.code.message() + ") from");
  co_return HttpAnswer{response.result_int(), std::move(response.body())};
}

}  // namespace pg2s3::s3

#include "s3/detail/connection_pool.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>

namespace pg2s3::s3::detail {

namespace asio = boost::asio;

ConnectionPool::ConnectionPool(asio::any_io_executor executor, std::optional<asio::ssl::context> tls_context,
                               std::chrono::milliseconds connect_timeout, std::size_t max_idle)
    : executor_(std::move(executor)),
      tls_context_(std::move(tls_context)),
      connect_timeout_(connect_timeout),
      max_idle_(max_idle) {}

std::unique_ptr<HttpConnection> ConnectionPool::take_idle(std::string_view authority) {
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
    if (it->first != authority) continue;
    auto connection = std::move(it->second);
    idle_.erase(std::next(it).base());
    return connection;
  }
  return nullptr;
}

void ConnectionPool::give_back(std::string authority, std::unique_ptr<HttpConnection> connection) {
  if (SSL_SESSION* session = connection->session_to_resume()) tls_sessions_[authority].reset(session);
  if (max_idle_ == 0) return;
  if (idle_.size() >= max_idle_) idle_.erase(idle_.begin());
  idle_.emplace_back(std::move(authority), std::move(connection));
}

asio::awaitable<std::pair<std::unique_ptr<HttpConnection>, TransportFailure>> ConnectionPool::open(
    const Endpoint& target) {
  using namespace asio::experimental::awaitable_operators;
  using async::use_tuple;
  asio::ip::tcp::resolver resolver(executor_);
  asio::steady_timer deadline(executor_, connect_timeout_);
  auto resolved = co_await (resolver.async_resolve(target.host, target.port, use_tuple) ||
                            deadline.async_wait(use_tuple));
  if (resolved.index() == 1)
    co_return std::pair{nullptr, TransportFailure{asio::error::timed_out, "resolving " + target.host}};
  auto [ec, addresses] = std::get<0>(resolved);
  if (ec) co_return std::pair{nullptr, TransportFailure{ec, "resolving " + target.host}};

  auto connection = std::make_unique<HttpConnection>(executor_, tls_context_ ? &*tls_context_ : nullptr);
  const auto known = tls_sessions_.find(target.authority());
  SSL_SESSION* resume = known == tls_sessions_.end() ? nullptr : known->second.get();
  auto failure = co_await connection->connect(target, addresses, connect_timeout_, resume);
  ++connections_opened_;
  if (!failure && connection->resumed()) ++tls_sessions_resumed_;
  co_return std::pair{std::move(connection), std::move(failure)};
}

}  // namespace pg2s3::s3::detail

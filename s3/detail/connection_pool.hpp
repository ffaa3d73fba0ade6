// The client's keep-alive connections: idle ones kept for reuse by host, new ones opened under a deadline,
// offering the TLS session of the host's last connection.
#pragma once

#include "s3/detail/http_connection.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pg2s3::s3::detail {

class ConnectionPool {
 public:
  // `tls_context` empty: plain TCP. At most `max_idle` connections wait for reuse (0: none does).
  ConnectionPool(boost::asio::any_io_executor executor, std::optional<boost::asio::ssl::context> tls_context,
                 std::chrono::milliseconds connect_timeout, std::size_t max_idle);

  // The connection to `authority` that went idle last, or null.
  std::unique_ptr<HttpConnection> take_idle(std::string_view authority);

  // A connection after a whole response: its TLS session is kept for the next connection to the host, and
  // it waits for reuse, pushing out the longest idle one when the pool is full.
  void give_back(std::string authority, std::unique_ptr<HttpConnection> connection);

  // A new connection to `target` (null when it failed).
  boost::asio::awaitable<std::pair<std::unique_ptr<HttpConnection>, TransportFailure>> open(const Endpoint& target);

  std::uint64_t connections_opened() const { return connections_opened_; }
  std::uint64_t tls_sessions_resumed() const { return tls_sessions_resumed_; }

 private:
  struct FreeSession {
    void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
  };

  boost::asio::any_io_executor executor_;
  std::optional<boost::asio::ssl::context> tls_context_;
  std::chrono::milliseconds connect_timeout_;
  std::size_t max_idle_;
  std::map<std::string, std::unique_ptr<SSL_SESSION, FreeSession>, std::less<>> tls_sessions_;  // by authority
  std::vector<std::pair<std::string, std::unique_ptr<HttpConnection>>> idle_;  // by authority, oldest first
  std::uint64_t connections_opened_ = 0;
  std::uint64_t tls_sessions_resumed_ = 0;
};

}  // namespace pg2s3::s3::detail

// What a Connection and its CopyOutStream share: the PGconn, its watched socket, and the waits on it.
#pragma once

#include "pg/error.hpp"
#include "pg/query_result.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <libpq-fe.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pg2s3::pg::detail {

struct ConnectionState {
  explicit ConnectionState(boost::asio::any_io_executor executor) : executor(std::move(executor)) {}
  ConnectionState(const ConnectionState&) = delete;
  ConnectionState& operator=(const ConnectionState&) = delete;
  ~ConnectionState() { close(); }

  boost::asio::any_io_executor executor;
  PGconn* conn = nullptr;
  // Watches PQsocket() without owning it: released before PQfinish closes the fd.
  std::optional<boost::asio::posix::stream_descriptor> socket;
  bool busy = false;
  std::function<void(std::string_view)> notice_handler;

  // Registers PQsocket() anew. While connecting it can change at any step (another host, an sslmode
  // fallback), and a new socket may reuse the old one's number, so every step registers it again.
  void watch_socket();
  void close();

  // Refuses a new operation while one runs or after close.
  std::optional<Error> begin_operation(std::string_view operation);

  // Waits until libpq can read: at once when OpenSSL already holds decrypted bytes, which the
  // socket's readiness would not show.
  boost::asio::awaitable<boost::system::error_code> wait_readable();

  // Sends what libpq has queued, reading meanwhile: the server may wait for us to read before it reads.
  boost::asio::awaitable<std::optional<Error>> flush(std::string_view operation);

  // The next result of the running command (null when there are no more), waiting while libpq is busy.
  boost::asio::awaitable<Result<PGresult*>> next_result(std::string_view operation);

  // Every remaining result of the running command: the last one, or the first error among them.
  boost::asio::awaitable<Result<QueryResult>> collect_results(std::string_view operation);

  Error libpq_error(std::string_view operation, errc code) const;
  Error server_error(std::string_view operation, const PGresult* result) const;
  // A wait that ended with `ec` (cancelled, or the descriptor released): the connection is closed.
  Error interrupted(std::string_view operation, boost::system::error_code ec);
};

// `message` with every occurrence of `password` replaced by "[password]".
std::string without_password(std::string message, std::string_view password);

}  // namespace pg2s3::pg::detail

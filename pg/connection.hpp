// A PostgreSQL connection on an Asio executor: libpq in nonblocking mode, so nothing waits on the loop.
#pragma once

#include "pg/copy_out_stream.hpp"
#include "pg/error.hpp"
#include "pg/query_result.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pg2s3::pg {

namespace detail {
struct ConnectionState;
}

// A statement parameter in text format; nothing is NULL.
using Parameter = std::optional<std::string>;

// A NOTIFY this connection received on a channel it LISTENs to.
struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;
};

// One operation at a time: a second one while another runs fails with errc::busy.
//
// Cancellation (terminal, through the awaiting coroutine's cancellation slot) of any operation closes
// the connection: the operation ends with operation_aborted as a value, not an exception, and later
// ones with errc::closed. For a COPY, PostgreSQL's cancel request is sent as well, so the backend stops
// at once rather than at its next write.
//
// To report cancellation as a value, the operations set throw_if_cancelled(false), and Asio keeps that
// flag for the whole coroutine stack: after one of them, the caller's own later co_awaits do not throw
// when it is cancelled either. Callers here check for cancellation as a value throughout.
class Connection {
 public:
  template <class T>
  using Task = boost::asio::awaitable<Result<T>>;

  // Connects with a libpq connection string or URI. Host names are resolved off the loop and handed to
  // libpq as hostaddr; the string's connect_timeout (default 10 s) bounds the whole attempt.
  static Task<Connection> connect(boost::asio::any_io_executor executor, std::string_view conninfo);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // One statement, with $1, $2... parameters when given.
  Task<QueryResult> query(std::string_view sql);
  Task<QueryResult> query(std::string_view sql, std::span<const Parameter> parameters);
  // One or more statements separated by ';', without parameters.
  Task<void> execute(std::string_view sql);
  // Starts `COPY ... TO STDOUT`; the connection stays busy until the stream has ended.
  Task<CopyOutStream> copy_out(std::string_view copy_statement);

  // Waits for the next notification on a channel this connection LISTENs to (one that arrived during an
  // earlier statement comes at once). Fails when the connection is lost, which is how a listener learns it.
  Task<Notification> next_notification();

  // Server notices (WARNING, NOTICE) go here instead of libpq's stderr; none set: they are dropped.
  void set_notice_handler(std::function<void(std::string_view)> handler);

  bool is_open() const;
  int backend_pid() const;
  void close();

 private:
  explicit Connection(std::unique_ptr<detail::ConnectionState> state);
  std::unique_ptr<detail::ConnectionState> state_;
};

// BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, with statement_timeout, lock_timeout and
// idle_in_transaction_session_timeout off for this transaction, as pg_dump does for long reads, and
// synchronize_seqscans off, so that a scan's rows come in the same order whatever other scans run.
Connection::Task<void> begin_read_only_snapshot(Connection& connection);
// The same transaction, in the snapshot another session exported with pg_export_snapshot(), which it
// must keep open meanwhile: both then see exactly the same rows.
Connection::Task<void> join_snapshot(Connection& connection, std::string_view snapshot);

}  // namespace pg2s3::pg

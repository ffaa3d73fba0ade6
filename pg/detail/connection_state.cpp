#include "pg/detail/connection_state.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>

#include <thread>

namespace pg2s3::pg::detail {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;

namespace {

using async::use_tuple;

std::string trimmed(const char* text) {
  std::string_view view = text ? text : "";
  while (!view.empty() && (view.back() == '\n' || view.back() == ' ')) view.remove_suffix(1);
  return std::string(view);
}

std::string field(const PGresult* result, int code) { return trimmed(PQresultErrorField(result, code)); }

// Asks the server to stop the statement now. A closed socket alone is noticed only at the backend's next
// write, which a long sort or a slow function may not make for hours. PQcancel opens a connection of its
// own and waits for it, so it runs off the loop; it needs nothing of `conn` once PQgetCancel returned.
void send_cancel_request(PGconn* conn) {
  PGcancel* cancel = PQgetCancel(conn);
  if (!cancel) return;
  std::thread([cancel] {
    char ignored[256];
    PQcancel(cancel, ignored, sizeof ignored);
    PQfreeCancel(cancel);
  }).detach();
}

}  // namespace

void ConnectionState::watch_socket() {
  const int fd = conn ? PQsocket(conn) : -1;
  if (socket) {
    socket->release();
    socket.reset();
  }
  if (fd >= 0) socket.emplace(executor, fd);
}

void ConnectionState::close() {
  if (socket) {
    socket->release();  // cancels pending waits; the fd stays libpq's to close
    socket.reset();
  }
  if (conn) {
    if (busy && PQstatus(conn) == CONNECTION_OK) send_cancel_request(conn);
    PQfinish(conn);
    conn = nullptr;
  }
}

std::optional<Error> ConnectionState::begin_operation(std::string_view operation) {
  if (!conn || PQstatus(conn) == CONNECTION_BAD) return Error{errc::closed, std::string(operation), {}, {}, {}, {}};
  if (busy) return Error{errc::busy, std::string(operation), {}, {}, {}, {}};
  busy = true;
  return std::nullopt;
}

asio::awaitable<boost::system::error_code> ConnectionState::wait_readable() {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (PQsslInUse(conn)) {
    auto* ssl = static_cast<SSL*>(PQsslStruct(conn, "OpenSSL"));
    if (ssl && SSL_pending(ssl) > 0) co_return boost::system::error_code{};
  }
  auto [ec] = co_await socket->async_wait(stream_descriptor::wait_read, use_tuple);
  co_return ec;
}

asio::awaitable<std::optional<Error>> ConnectionState::flush(std::string_view operation) {
  using namespace asio::experimental::awaitable_operators;
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    const int pending = PQflush(conn);
    if (pending == 0) co_return std::nullopt;
    if (pending < 0) co_return libpq_error(operation, errc::connection_lost);
    auto ready = co_await (socket->async_wait(stream_descriptor::wait_write, use_tuple) ||
                           socket->async_wait(stream_descriptor::wait_read, use_tuple));
    const auto ec = std::visit([](auto& outcome) { return std::get<0>(outcome); }, ready);
    if (ec) co_return interrupted(operation, ec);
    if (ready.index() == 1 && !PQconsumeInput(conn)) co_return libpq_error(operation, errc::connection_lost);
  }
}

asio::awaitable<Result<PGresult*>> ConnectionState::next_result(std::string_view operation) {
  while (PQisBusy(conn)) {
    if (auto ec = co_await wait_readable()) co_return interrupted(operation, ec);
    if (!PQconsumeInput(conn)) co_return libpq_error(operation, errc::connection_lost);
  }
  co_return PQgetResult(conn);
}

asio::awaitable<Result<QueryResult>> ConnectionState::collect_results(std::string_view operation) {
  QueryResult last;
  std::optional<Error> failure;
  for (;;) {
    auto next = co_await next_result(operation);
    if (!next) co_return next.error();
    if (!*next) break;
    QueryResult result(*next);
    switch (PQresultStatus(*next)) {
      case PGRES_FATAL_ERROR:
        if (!failure) failure = server_error(operation, *next);
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        close();  // a COPY nobody reads: the connection cannot be used again
        co_return Error{errc::unexpected_result, std::string(operation), {}, "a COPY where rows were expected", {}, {}};
      default:
        last = std::move(result);
    }
  }
  if (failure) co_return *failure;
  co_return last;
}

std::string without_password(std::string message, std::string_view password) {
  if (password.empty()) return message;
  constexpr std::string_view hidden = "[password]";
  for (auto at = message.find(password); at != std::string::npos; at = message.find(password, at + hidden.size()))
    message.replace(at, password.size(), hidden);
  return message;
}

// No libpq message is known to quote the password once the string parsed, but a failed connection's words
// reach /healthz and the log, so whatever libpq says loses the password it used. That is PQpass: the value
// libpq was handed, whether from the string, PGPASSWORD or ~/.pgpass. It is the only form libpq ever saw
// (PQconninfoParse decodes a URL's %XX before the parameters reach PQconnectStartParams), so the URL's raw
// form cannot be in its words; the parse errors, which could quote it, are never passed on (connection.cpp).
Error ConnectionState::libpq_error(std::string_view operation, errc code) const {
  std::string message = trimmed(conn ? PQerrorMessage(conn) : nullptr);
  if (conn && PQpass(conn)) message = without_password(std::move(message), PQpass(conn));
  return Error{code, std::string(operation), {}, std::move(message), {}, {}};
}

Error ConnectionState::server_error(std::string_view operation, const PGresult* result) const {
  Error error{errc::server_error, std::string(operation), field(result, PG_DIAG_SQLSTATE),
              field(result, PG_DIAG_MESSAGE_PRIMARY), field(result, PG_DIAG_MESSAGE_DETAIL),
              field(result, PG_DIAG_MESSAGE_HINT)};
  if (error.server_message.empty()) error.server_message = trimmed(PQresultErrorMessage(result));
  return error;
}

Error ConnectionState::interrupted(std::string_view operation, boost::system::error_code ec) {
  close();
  return Error{ec, std::string(operation), {}, {}, {}, {}};
}

}  // namespace pg2s3::pg::detail

#include "pg/connection.hpp"

#include "async/cancellation.hpp"

#include "pg/detail/connection_state.hpp"
#include "pg/detail/conninfo.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace pg2s3::pg {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;
using Clock = std::chrono::steady_clock;

namespace {

using detail::ConnectionParameters;
using detail::parameter;
using detail::set_parameter;

using async::use_tuple;

std::vector<std::string> split_hosts(const std::string& hosts) {
  std::vector<std::string> list;
  std::size_t from = 0;
  for (std::size_t comma; (comma = hosts.find(',', from)) != std::string::npos; from = comma + 1)
    list.push_back(hosts.substr(from, comma - from));
  list.push_back(hosts.substr(from));
  return list;
}

// libpq resolves host names with a blocking getaddrinfo: resolve them here, off the loop, and hand
// libpq the addresses as hostaddr (host stays, for TLS verification and messages).
asio::awaitable<std::optional<Error>> resolve_hosts(asio::any_io_executor executor, ConnectionParameters& parameters,
                                                    Clock::time_point deadline, const std::string& target) {
  using namespace asio::experimental::awaitable_operators;
  const std::string hosts = parameter(parameters, "host", "PGHOST");
  if (hosts.empty() || !parameter(parameters, "hostaddr", "PGHOSTADDR").empty()) co_return std::nullopt;
  std::string addresses;
  for (const auto& host : split_hosts(hosts)) {
    if (host.empty() || host.front() == '/' || host.front() == '@') co_return std::nullopt;  // a Unix socket
    boost::system::error_code not_an_address;
    asio::ip::make_address(host, not_an_address);
    std::string address = host;
    if (not_an_address) {
      asio::ip::tcp::resolver resolver(executor);
      asio::steady_timer timer(executor, deadline);
      auto resolved = co_await (resolver.async_resolve(host, "", use_tuple) || timer.async_wait(use_tuple));
      if (resolved.index() == 1)
        co_return Error{errc::timed_out, target, {}, "resolving " + host + " timed out", {}, {}};
      auto [ec, results] = std::get<0>(resolved);
      if (ec || results.empty())
        co_return Error{ec, target, {}, "could not resolve host " + host + ": " + ec.message(), {}, {}};
      address = results.begin()->endpoint().address().to_string();
    }
    addresses += (addresses.empty() ? "" : ",") + address;
  }
  set_parameter(parameters, "host", hosts);
  set_parameter(parameters, "hostaddr", addresses);
  co_return std::nullopt;
}

void route_notice(void* state, const char* message) {
  auto& connection = *static_cast<detail::ConnectionState*>(state);
  std::string_view text = message;
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (connection.notice_handler) connection.notice_handler(text);
}

// Drives PQconnectPoll, waiting on the socket in the direction it asks for, until the deadline.
asio::awaitable<std::optional<Error>> poll_until_connected(detail::ConnectionState& state, Clock::time_point deadline,
                                                           const std::string& target) {
  using namespace asio::experimental::awaitable_operators;
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(state.executor, deadline);
  for (auto status = PGRES_POLLING_WRITING;; status = PQconnectPoll(state.conn)) {
    if (status == PGRES_POLLING_OK) co_return std::nullopt;
    if (status == PGRES_POLLING_FAILED) co_return state.libpq_error(target, errc::connection_failed);
    state.watch_socket();
    if (!state.socket) co_return state.libpq_error(target, errc::connection_failed);
    const auto direction = status == PGRES_POLLING_READING ? stream_descriptor::wait_read : stream_descriptor::wait_write;
    auto ready = co_await (state.socket->async_wait(direction, use_tuple) || timer.async_wait(use_tuple));
    if (ready.index() == 1) co_return Error{errc::timed_out, target, {}, "no answer within connect_timeout", {}, {}};
    if (auto [ec] = std::get<0>(ready); ec) co_return state.interrupted(target, ec);
  }
}

// The parameters as the null-terminated arrays PQconnectStartParams takes.
struct ParameterArrays {
  explicit ParameterArrays(const ConnectionParameters& parameters) {
    for (const auto& [name, value] : parameters) {
      keywords.push_back(name.c_str());
      values.push_back(value.c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
  }
  std::vector<const char*> keywords;
  std::vector<const char*> values;
};

}  // namespace

Connection::Connection(std::unique_ptr<detail::ConnectionState> state) : state_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Connection::Task<Connection> Connection::connect(asio::any_io_executor executor, std::string_view conninfo) {
  auto parameters = detail::parse_conninfo(conninfo);
  if (!parameters) co_return parameters.error();
  detail::add_dead_peer_detection(*parameters);
  const std::string target = detail::describe_target(*parameters);
  const auto deadline = Clock::now() + detail::connect_timeout(*parameters);
  if (auto failure = co_await resolve_hosts(executor, *parameters, deadline, target)) co_return *failure;

  auto state = std::make_unique<detail::ConnectionState>(executor);
  const ParameterArrays arrays(*parameters);
  state->conn = PQconnectStartParams(arrays.keywords.data(), arrays.values.data(), 0);
  if (!state->conn) co_return Error{errc::connection_failed, target, {}, "out of memory", {}, {}};
  if (PQstatus(state->conn) == CONNECTION_BAD) co_return state->libpq_error(target, errc::connection_failed);
  if (auto failure = co_await poll_until_connected(*state, deadline, target)) co_return *failure;

  PQsetnonblocking(state->conn, 1);
  PQsetNoticeProcessor(state->conn, route_notice, state.get());
  co_return Connection(std::move(state));
}

Connection::Task<QueryResult> Connection::query(std::string_view sql) { return query(sql, {}); }

Connection::Task<QueryResult> Connection::query(std::string_view sql, std::span<const Parameter> parameters) {
  constexpr std::string_view operation = "query";
  if (auto refused = state_->begin_operation(operation)) co_return *refused;
  std::vector<const char*> values;
  for (const auto& value : parameters) values.push_back(value ? value->c_str() : nullptr);
  const std::string statement(sql);
  auto outcome = co_await [&]() -> Task<QueryResult> {
    if (!PQsendQueryParams(state_->conn, statement.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                           nullptr, nullptr, 0))
      co_return state_->libpq_error(operation, errc::connection_lost);
    if (auto failure = co_await state_->flush(operation)) co_return *failure;
    co_return co_await state_->collect_results(operation);
  }();
  state_->busy = false;
  co_return outcome;
}

Connection::Task<void> Connection::execute(std::string_view sql) {
  constexpr std::string_view operation = "execute";
  if (auto refused = state_->begin_operation(operation)) co_return *refused;
  const std::string statements(sql);
  auto outcome = co_await [&]() -> Task<QueryResult> {
    if (!PQsendQuery(state_->conn, statements.c_str())) co_return state_->libpq_error(operation, errc::connection_lost);
    if (auto failure = co_await state_->flush(operation)) co_return *failure;
    co_return co_await state_->collect_results(operation);
  }();
  state_->busy = false;
  if (!outcome) co_return outcome.error();
  co_return Result<void>{};
}

Connection::Task<CopyOutStream> Connection::copy_out(std::string_view copy_statement) {
  constexpr std::string_view operation = "COPY";
  if (auto refused = state_->begin_operation(operation)) co_return *refused;
  const std::string statement(copy_statement);
  auto started = co_await [&]() -> Task<PGresult*> {
    if (!PQsendQuery(state_->conn, statement.c_str())) co_return state_->libpq_error(operation, errc::connection_lost);
    if (auto failure = co_await state_->flush(operation)) co_return *failure;
    co_return co_await state_->next_result(operation);
  }();
  if (!started) {
    state_->busy = false;
    co_return started.error();
  }
  QueryResult first(*started);
  if (*started && PQresultStatus(*started) == PGRES_COPY_OUT) co_return CopyOutStream(state_.get());

  // Not a COPY TO STDOUT: report the server's error, or what came instead, once every result is read.
  Error error = *started && PQresultStatus(*started) == PGRES_FATAL_ERROR
                    ? state_->server_error(operation, *started)
                    : Error{errc::unexpected_result, std::string(operation), {}, "the statement is not COPY ... TO STDOUT",
                            {}, {}};
  if (*started) {
    auto rest = co_await state_->collect_results(operation);
    if (!rest && rest.error().code != errc::server_error) error = rest.error();
  }
  state_->busy = false;
  co_return error;
}

Connection::Task<Notification> Connection::next_notification() {
  constexpr std::string_view operation = "waiting for a notification";
  if (auto refused = state_->begin_operation(operation)) co_return *refused;
  auto outcome = co_await [&]() -> Task<Notification> {
    for (;;) {
      if (PGnotify* received = PQnotifies(state_->conn)) {
        Notification notification{received->relname, received->extra, received->be_pid};
        PQfreemem(received);
        co_return notification;
      }
      if (auto ec = co_await state_->wait_readable()) co_return state_->interrupted(operation, ec);
      if (!PQconsumeInput(state_->conn)) co_return state_->libpq_error(operation, errc::connection_lost);
    }
  }();
  state_->busy = false;
  co_return outcome;
}

void Connection::set_notice_handler(std::function<void(std::string_view)> handler) {
  state_->notice_handler = std::move(handler);
}

bool Connection::is_open() const { return state_ && state_->conn && PQstatus(state_->conn) == CONNECTION_OK; }
int Connection::backend_pid() const { return state_ && state_->conn ? PQbackendPID(state_->conn) : 0; }
void Connection::close() { state_->close(); }

namespace {
// An export waits on nothing but its own reading, and reads a large table from its first page as pg_dump
// does: with synchronized scans a sequential scan starts wherever another scan of the table is, so the same
// snapshot would give its rows in another order each time, and not the order a parallel export's page
// ranges give.
constexpr std::string_view export_settings =
    "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0; "
    "SET LOCAL synchronize_seqscans = off";
}

Connection::Task<void> begin_read_only_snapshot(Connection& connection) {
  const std::string sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; " + std::string(export_settings);
  co_return co_await connection.execute(sql);
}

Connection::Task<void> join_snapshot(Connection& connection, std::string_view snapshot) {
  // An exported snapshot's name is hexadecimal digits and dashes: anything else is refused, never quoted.
  const bool well_formed = !snapshot.empty() && std::ranges::all_of(snapshot, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || c == '-';
  });
  const std::string name = well_formed ? std::string(snapshot) : std::string("not a snapshot name");
  const std::string sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '" + name + "'; " +
                          std::string(export_settings);
  auto joined = co_await connection.execute(sql);
  // A snapshot is known only to the server that exported it, while its transaction lasts. A name this
  // server does not know, when the exporter is still there, means the connection reached another server.
  if (!joined && joined.error().sqlstate == "22023" && well_formed) {
    Error error = joined.error();
    error.hint = "the exporting transaction ended, or this connection reached another server than the one that "
                 "exported the snapshot (a reader endpoint or DNS name that spreads connections over replicas, or "
                 "a transaction-mode pooler): give the exported data's connection string one server's address";
    co_return error;
  }
  co_return joined;
}

}  // namespace pg2s3::pg

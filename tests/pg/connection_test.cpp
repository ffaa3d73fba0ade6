// The async PostgreSQL layer against the real PostgreSQL of scripts/services.
#include "pg/connection.hpp"

#include "async/cancellation.hpp"
#include "pg/detail/connection_state.hpp"
#include "tests/support/services.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>

using namespace pg2s3;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::experimental::awaitable_operators::operator&&;
using asio::experimental::awaitable_operators::operator||;

namespace {

using pg2s3::async::use_tuple;
constexpr int awkward_rows = 1'000'000;
const std::string awkward_copy =
    "COPY (SELECT * FROM pg_copy_test ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)";

using test::database_url;

pg::Connection connect(asio::io_context& io, const std::string& conninfo = database_url()) {
  return test::run(io, pg::Connection::connect(io.get_executor(), conninfo)).value();
}

// 1M rows whose text needs CSV quoting (commas, quotes, newlines), NULLs and non-ASCII; kept between runs.
void ensure_awkward_table(asio::io_context& io) {
  auto connection = connect(io);
  test::run(io, connection.execute(R"(
    SET client_min_messages = warning;
    CREATE TABLE IF NOT EXISTS pg_copy_test AS
    SELECT g AS id,
           CASE WHEN g % 11 = 0 THEN NULL
                WHEN g % 7 = 0 THEN 'a,"b"' || E'\n' || 'c ' || g
                WHEN g % 13 = 0 THEN 'Zoë 日本 ' || g
                ELSE 'plain ' || g END AS name,
           g * 1.5 AS amount,
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS created_at
    FROM generate_series(1, 1000000) AS g)")).value();
}

// What PostgreSQL's own client prints for a COPY statement.
std::string psql_output(const std::string& copy_statement) {
  return test::command_output("psql -X -q -v ON_ERROR_STOP=1 -d '" + database_url() + "' -c '" + copy_statement + "'");
}

asio::awaitable<pg::Result<std::string>> read_all(pg::CopyOutStream& stream) {
  std::string all;
  for (;;) {
    auto more = co_await stream.read(all, all.size() + 1024 * 1024);
    if (!more) co_return more.error();
    if (!*more) co_return all;
  }
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Polls pg_stat_activity from another connection until `condition` holds of the backend's row (or of its
// absence), at most `attempts` times, 50 ms apart.
asio::awaitable<bool> wait_for_backend(pg::Connection& observer, int pid, std::function<bool(const pg::QueryResult&)> condition,
                                       int attempts = 200) {
  const pg::Parameter parameters[] = {std::to_string(pid)};
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int i = 0; i < attempts; ++i) {
    auto activity = co_await observer.query("SELECT wait_event FROM pg_stat_activity WHERE pid = $1", parameters);
    if (activity && condition(*activity)) co_return true;
    pause.expires_after(50ms);
    co_await pause.async_wait(use_tuple);
  }
  co_return false;
}

std::string with_password(std::string url, const std::string& password) {
  const auto at = url.find('@');
  const auto colon = url.rfind(':', at);
  return url.substr(0, colon + 1) + password + url.substr(at);
}

std::string with_database(std::string url, const std::string& database) {
  return url.substr(0, url.rfind('/') + 1) + database;
}

unsigned short closed_port(asio::io_context& io) {
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();  // closed again when probe goes
}

}  // namespace

TEST_CASE("connect failures are error values that say what happened", "[pg][connect]") {
  asio::io_context io;
  auto failure = [&](const std::string& conninfo) {
    auto connection = test::run(io, pg::Connection::connect(io.get_executor(), conninfo));
    REQUIRE_FALSE(connection.has_value());
    return connection.error();
  };

  SECTION("a closed port") {
    auto error = failure("host=127.0.0.1 port=" + std::to_string(closed_port(io)) + " dbname=x user=x");
    CHECK(error.code == pg::errc::connection_failed);
    CHECK_THAT(error.message(), Catch::Contains("Connection refused"));
  }
  SECTION("a wrong password, which the message never repeats") {
    auto error = failure(with_password(database_url(), "wrong-secret-password"));
    CHECK(error.code == pg::errc::connection_failed);
    CHECK_THAT(error.message(), Catch::Contains("password authentication failed"));
    CHECK_THAT(error.message(), !Catch::Contains("wrong-secret-password"));
  }
  SECTION("an unknown database") {
    auto error = failure(with_database(database_url(), "no_such_database"));
    CHECK_THAT(error.message(), Catch::Contains("\"no_such_database\" does not exist"));
  }
  SECTION("an unresolvable host") {
    auto error = failure("host=nonexistent.invalid dbname=x user=x connect_timeout=5");
    CHECK_THAT(error.message(), Catch::Contains("could not resolve host nonexistent.invalid"));
  }
  SECTION("a connection string libpq cannot read") {
    auto error = failure("no_such_keyword=1");
    CHECK(error.code == pg::errc::invalid_conninfo);
    CHECK_THAT(error.message(), Catch::Contains("a keyword libpq does not know"));
  }
}

TEST_CASE("a password is never in a connect error, whether its string parses or not", "[pg][connect][secrets]") {
  asio::io_context io;
  auto message = [&](const std::string& conninfo) {
    auto connection = test::run(io, pg::Connection::connect(io.get_executor(), conninfo));
    REQUIRE_FALSE(connection.has_value());
    return connection.error().message();
  };
  // libpq's parse errors quote the part they stopped at: here the password itself.
  const auto bad_escape = message("postgresql://u:Pw%zzSecret91@127.0.0.1:1/db");
  CHECK_THAT(bad_escape, !Catch::Contains("Secret91") && Catch::Contains("'%'") && Catch::Contains("%25"));
  const auto unquoted_space = message("host=127.0.0.1 port=1 dbname=db user=u password=Pw zzSecret91");
  CHECK_THAT(unquoted_space, !Catch::Contains("Secret91") && Catch::Contains("keyword=value"));
  // Parsed, then refused at connect.
  const auto refused = message("host=127.0.0.1 port=1 dbname=db user=u password='Pw%zzSecret91'");
  CHECK_THAT(refused, !Catch::Contains("Secret91") && Catch::Contains("refused"));
}

TEST_CASE("libpq's words about a connection lose its password wherever they quote it", "[pg][connect][secrets]") {
  using pg::detail::without_password;
  CHECK(without_password(R"(bad "Pw%zzSecret91" and again Pw%zzSecret91.)", "Pw%zzSecret91") ==
        R"(bad "[password]" and again [password].)");
  CHECK(without_password("aaaa", "aa") == "[password][password]");
  CHECK(without_password("password authentication failed", "") == "password authentication failed");
}

TEST_CASE("a server that never answers times out while the loop goes on", "[pg][connect]") {
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket accepted(io);
  silent.async_accept(accepted, [](boost::system::error_code) {});  // accepts, then says nothing

  int ticks = 0;
  auto outcome = test::run(io, [&]() -> asio::awaitable<pg::Result<pg::Connection>> {
    asio::steady_timer ticker(io);
    auto tick = [&]() -> asio::awaitable<void> {
      for (;;) {
        ticker.expires_after(20ms);
        if (auto [ec] = co_await ticker.async_wait(use_tuple); ec) co_return;
        ++ticks;
      }
    };
    auto both = co_await (pg::Connection::connect(io.get_executor(), "host=127.0.0.1 port=" +
                                                                         std::to_string(silent.local_endpoint().port()) +
                                                                         " dbname=x user=x connect_timeout=2") ||
                          tick());
    co_return std::get<0>(std::move(both));
  }());
  REQUIRE_FALSE(outcome.has_value());
  CHECK(outcome.error().code == pg::errc::timed_out);
  CHECK(ticks >= 10);  // the timer kept firing through the two-second wait
}

TEST_CASE("a query error carries SQLSTATE and the server's message", "[pg]") {
  asio::io_context io;
  auto connection = connect(io);
  auto result = test::run(io, connection.query("SELEC 1"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == pg::errc::server_error);
  CHECK(result.error().sqlstate == "42601");
  CHECK_THAT(result.error().message(), Catch::StartsWith("query: SQLSTATE 42601: syntax error at or near \"SELEC\""));
  CHECK(test::run(io, connection.query("SELECT 1 AS one")).value().int64(0, "one") == 1);  // still usable
}

TEST_CASE("parameters round-trip NULL and unicode and 1 MB of text", "[pg]") {
  asio::io_context io;
  auto connection = connect(io);
  const std::string large(1024 * 1024, 'x');
  const pg::Parameter parameters[] = {std::nullopt, "Zoë, 日本 \"quoted\"\n", large};
  auto result = test::run(io, connection.query("SELECT $1::text AS a, $2::text AS b, $3::text AS c, length($3) AS n",
                                                parameters))
                    .value();
  REQUIRE(result.rows() == 1);
  CHECK_FALSE(result.text(0, "a").has_value());
  CHECK(result.text(0, "b") == "Zoë, 日本 \"quoted\"\n");
  CHECK(result.text(0, "c") == large);
  CHECK(result.int64(0, "n") == 1024 * 1024);
  CHECK_THROWS_AS(result.text(0, "missing"), std::out_of_range);
}

TEST_CASE("one operation at a time on a connection", "[pg]") {
  asio::io_context io;
  auto connection = connect(io);
  auto [first, second] = test::run(io, [&]() -> asio::awaitable<std::tuple<pg::Result<pg::QueryResult>,
                                                                            pg::Result<pg::QueryResult>>> {
    co_return co_await (connection.query("SELECT pg_sleep(0.2)") && connection.query("SELECT 1"));
  }());
  CHECK(first.has_value());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == pg::errc::busy);
}

TEST_CASE("COPY of 1M awkward rows gives exactly psql's bytes and the row count", "[pg][copy]") {
  asio::io_context io;
  ensure_awkward_table(io);
  auto connection = connect(io);
  auto stream = test::run(io, connection.copy_out(awkward_copy)).value();
  const std::string copied = test::run(io, read_all(stream)).value();
  CHECK(stream.rows() == awkward_rows);
  const std::string expected = psql_output(awkward_copy);
  CHECK(copied.size() == expected.size());
  CHECK(copied == expected);
  CHECK(test::run(io, connection.query("SELECT 2 AS two")).value().int64(0, "two") == 2);  // usable after the COPY
}

TEST_CASE("a read never goes past its limit: rows split across reads come back whole, in order", "[pg][copy]") {
  asio::io_context io;
  auto connection = connect(io);
  const std::string copy = "COPY (SELECT g, repeat(chr(120), g % 300) FROM generate_series(1, 20000) AS g) TO STDOUT";
  auto stream = test::run(io, connection.copy_out(copy)).value();
  std::string copied;
  std::vector<std::size_t> sizes;
  test::run(io, [&]() -> asio::awaitable<void> {
    for (bool more = true; more;) {
      std::string chunk;
      chunk.reserve(1000);
      const auto capacity = chunk.capacity();
      auto read = co_await stream.read(chunk, 1000);
      more = read.value();
      CHECK(chunk.capacity() == capacity);  // never reallocated
      sizes.push_back(chunk.size());
      copied += chunk;
    }
  }());
  CHECK(copied == psql_output(copy));
  CHECK(stream.rows() == 20000);
  sizes.pop_back();  // the last read may hold less
  CHECK(std::ranges::all_of(sizes, [](std::size_t size) { return size == 1000; }));
}

TEST_CASE("a statement that is not COPY TO STDOUT is refused and a failing COPY reports the server", "[pg][copy]") {
  asio::io_context io;
  auto connection = connect(io);
  auto not_copy = test::run(io, connection.copy_out("SELECT 1"));
  REQUIRE_FALSE(not_copy.has_value());
  CHECK(not_copy.error().code == pg::errc::unexpected_result);
  auto failing = test::run(io, connection.copy_out("COPY (SELECT * FROM no_such_table) TO STDOUT"));
  REQUIRE_FALSE(failing.has_value());
  CHECK(failing.error().sqlstate == "42P01");
  CHECK(test::run(io, connection.query("SELECT 3 AS three")).value().int64(0, "three") == 3);
}

TEST_CASE("a reader that stops leaves the backend waiting on the client and memory flat", "[pg][copy]") {
  asio::io_context io;
  ensure_awkward_table(io);
  auto connection = connect(io);
  auto observer = connect(io);
  const std::size_t resident_before = resident_bytes();
  auto stream = test::run(io, connection.copy_out(awkward_copy)).value();
  std::string buffer;
  REQUIRE(test::run(io, stream.read(buffer, 64 * 1024)).value());

  // Nobody reads now: the server fills the socket and waits to write.
  CHECK(test::run(io, wait_for_backend(observer, connection.backend_pid(), [](const pg::QueryResult& activity) {
    return activity.rows() == 1 && activity.text(0, "wait_event") == "ClientWrite";
  })));
  CHECK(resident_bytes() < resident_before + 16 * 1024 * 1024);  // tens of MB still unread on the server

  buffer.clear();
  auto rest = test::run(io, read_all(stream)).value();
  CHECK(stream.rows() == awkward_rows);  // nothing was lost while waiting
}

TEST_CASE("a backend terminated mid-COPY ends the read with an error", "[pg][copy]") {
  asio::io_context io;
  ensure_awkward_table(io);
  auto connection = connect(io);
  auto observer = connect(io);
  auto stream = test::run(io, connection.copy_out(awkward_copy)).value();
  std::string buffer;
  REQUIRE(test::run(io, stream.read(buffer, 64 * 1024)).value());
  const pg::Parameter pid[] = {std::to_string(connection.backend_pid())};
  REQUIRE(test::run(io, observer.query("SELECT pg_terminate_backend($1::int)", pid)).has_value());

  auto rest = test::run(io, read_all(stream));
  REQUIRE_FALSE(rest.has_value());
  CHECK_THAT(rest.error().message(), Catch::Contains("terminating connection due to administrator command"));
  CHECK_FALSE(connection.is_open());
}

TEST_CASE("cancelling a COPY ends the read with operation_aborted and the backend goes away", "[pg][copy]") {
  asio::io_context io;
  ensure_awkward_table(io);
  auto connection = connect(io);
  auto observer = connect(io);
  const int pid = connection.backend_pid();
  auto stream = test::run(io, connection.copy_out(awkward_copy)).value();

  asio::cancellation_signal cancel;
  std::optional<pg::Result<bool>> outcome;
  std::string buffer;
  std::size_t size_when_cancelled = 0;
  asio::co_spawn(io, stream.read(buffer, std::size_t{1} << 40),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, pg::Result<bool> result) {
                   outcome.emplace(std::move(result));
                 }));
  // Cancel once the reader has drained a first megabyte.
  std::function<void()> cancel_when_started = [&] {
    if (buffer.size() < 1024 * 1024) return asio::post(io, cancel_when_started);
    size_when_cancelled = buffer.size();
    cancel.emit(asio::cancellation_type::terminal);
  };
  asio::post(io, cancel_when_started);
  io.restart();
  io.run();

  REQUIRE(outcome.has_value());
  REQUIRE_FALSE(outcome->has_value());
  CHECK(outcome->error().code == asio::error::operation_aborted);
  CHECK(buffer.size() < size_when_cancelled + 4 * 1024 * 1024);  // it stopped within a batch or two
  CHECK_FALSE(connection.is_open());
  CHECK(test::run(io, wait_for_backend(observer, pid, [](const pg::QueryResult& activity) { return activity.rows() == 0; })));
}

TEST_CASE("two COPYs interleave on one thread while a timer keeps firing", "[pg][copy]") {
  asio::io_context io;
  ensure_awkward_table(io);
  auto first = connect(io);
  auto second = connect(io);
  int ticks = 0;
  bool copying = true;
  auto [a, b] = test::run(io, [&]() -> asio::awaitable<std::tuple<pg::Result<std::string>, pg::Result<std::string>>> {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      asio::steady_timer ticker(io);
      while (copying) {
        ticker.expires_after(1ms);
        co_await ticker.async_wait(use_tuple);
        ++ticks;
      }
    }, asio::detached);
    auto copy = [](pg::Connection& connection) -> asio::awaitable<pg::Result<std::string>> {
      auto stream = co_await connection.copy_out(awkward_copy);
      if (!stream) co_return stream.error();
      co_return co_await read_all(*stream);
    };
    auto both = co_await (copy(first) && copy(second));
    copying = false;
    co_return both;
  }());
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a == *b);
  CHECK(ticks >= 10);  // the loop served the timer all along both COPYs
}

TEST_CASE("COPY over TLS gives the same bytes", "[pg][copy][tls]") {
  asio::io_context io;
  auto connection = connect(io, database_url() + "?sslmode=require");
  const std::string copy = "COPY (SELECT * FROM users ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)";
  auto ssl = test::run(io, connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).value();
  CHECK(ssl.text(0, "ssl") == "t");
  auto stream = test::run(io, connection.copy_out(copy)).value();
  CHECK(test::run(io, read_all(stream)).value() == psql_output(copy));
}

TEST_CASE("notices go to the handler and a read-only snapshot refuses writes", "[pg]") {
  asio::io_context io;
  auto connection = connect(io);
  std::vector<std::string> notices;
  connection.set_notice_handler([&](std::string_view notice) { notices.emplace_back(notice); });
  REQUIRE(test::run(io, connection.execute("DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$")).has_value());
  REQUIRE(notices.size() == 1);
  CHECK_THAT(notices[0], Catch::Contains("hello from the server"));

  REQUIRE(test::run(io, pg::begin_read_only_snapshot(connection)).has_value());
  auto isolation = test::run(io, connection.query("SHOW transaction_isolation")).value();
  CHECK(isolation.text(0, "transaction_isolation") == "repeatable read");
  auto write = test::run(io, connection.execute("CREATE TABLE must_not_exist (x int)"));
  REQUIRE_FALSE(write.has_value());
  CHECK(write.error().sqlstate == "25006");  // read_only_sql_transaction
  REQUIRE(test::run(io, connection.execute("ROLLBACK")).has_value());
}

TEST_CASE("a snapshot joined on the server that exported it; one the server does not know says where to look",
          "[pg]") {
  asio::io_context io;
  auto exporter = connect(io);
  REQUIRE(test::run(io, pg::begin_read_only_snapshot(exporter)).has_value());
  const auto exported = test::run(io, exporter.query("SELECT pg_export_snapshot() AS name")).value();
  auto reader = connect(io);
  CHECK(test::run(io, pg::join_snapshot(reader, exported.text(0, "name").value())).has_value());

  // As on a replica behind a reader endpoint: a well-formed name that this server never exported.
  auto elsewhere = connect(io);
  auto joined = test::run(io, pg::join_snapshot(elsewhere, "00000042-0000ABCD-1"));
  REQUIRE_FALSE(joined.has_value());
  CHECK(joined.error().sqlstate == "22023");
  CHECK_THAT(joined.error().message(), Catch::Contains("reached another server than the one that exported"));
}

TEST_CASE("a listener gets notifications, those sent during a statement too, and learns when it is cut off", "[pg]") {
  asio::io_context io;
  auto listener = connect(io);
  auto sender = connect(io);
  REQUIRE(test::run(io, listener.execute("LISTEN pg2s3_test_channel")).has_value());
  REQUIRE(test::run(io, sender.execute("NOTIFY pg2s3_test_channel, 'first'")).has_value());
  REQUIRE(test::run(io, listener.execute("SELECT 1")).has_value());  // 'first' arrives during this statement
  REQUIRE(test::run(io, sender.execute("NOTIFY pg2s3_test_channel, 'second'")).has_value());

  auto first = test::run(io, listener.next_notification()).value();
  CHECK(first.channel == "pg2s3_test_channel");
  CHECK(first.payload == "first");
  CHECK(first.sender_pid == sender.backend_pid());
  CHECK(test::run(io, listener.next_notification()).value().payload == "second");

  const pg::Parameter pid[] = {std::to_string(listener.backend_pid())};
  REQUIRE(test::run(io, sender.query("SELECT pg_terminate_backend($1::int)", pid)).has_value());
  auto cut_off = test::run(io, listener.next_notification());
  REQUIRE_FALSE(cut_off.has_value());
  CHECK_FALSE(listener.is_open());
}

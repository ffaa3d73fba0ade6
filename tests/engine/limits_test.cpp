// The engine at its edges, against the real PostgreSQL: parts past the thousandth and S3's limits, the
// memory they take, a cancel before the first row, the row count while running, and the job store's turn.
#include "engine/compressor.hpp"
#include "engine/engine.hpp"
#include "engine/job_store.hpp"
#include "pg/connection.hpp"
#include "tests/engine/engine_helpers.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace pg2s3;
using namespace pg2s3::test;
using engine::JobStatus;

namespace {

std::string temporary_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pg2s3-" + name + "-" + std::to_string(::getpid()))).string();
}

std::string file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), {}};
}

// Whether a backend runs a statement that starts with `prefix`.
asio::awaitable<bool> backend_running(const std::string& prefix) {
  const auto executor = co_await asio::this_coro::executor;
  const std::string url = database_url();
  auto admin = co_await pg::Connection::connect(executor, url);
  const pg::Parameter pattern[] = {prefix + "%"};
  auto rows = co_await admin.value().query(
      "SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()", pattern);
  co_return rows.value().rows() > 0;
}

}  // namespace

TEST_CASE("parts past the thousandth: the bytes are right and the budget counts what buffers hold", "[limits]") {
  asio::io_context io;
  auto config = engine_config();
  config.part_size = 4 * 1024;  // the users table makes about 1,600 parts (a file has no 5 MiB minimum)
  config.buffer_budget = 4 * 1024 * 1024;
  auto engine = start_engine(io, config);
  const std::string expected = psql_csv(users_query);
  for (auto compression : {engine::Compression::none, engine::Compression::gzip}) {
    const std::string path = temporary_path("many-parts");
    auto job = export_and_wait(io, *engine, {"users", "", compression, path});
    INFO(job.error_message);
    REQUIRE(job.status == JobStatus::completed);
    const std::string bytes = file_bytes(path);
    CHECK((compression == engine::Compression::none ? bytes : command_output("gunzip -c " + path)) == expected);
    std::filesystem::remove(path);
  }
  const auto metrics = engine->metrics();
  CHECK(metrics.buffer_bytes_in_use == 0);
  CHECK(metrics.buffer_bytes_peak <= config.buffer_budget);
  CHECK(metrics.buffer_leases_overgrown == 0);  // compressed output never grew a buffer past its reservation
  // The grown buffers of parts past the thousandth went back freed; only buffers of the usual size are kept.
  CHECK(metrics.buffer_bytes_held <= 2 * (config.part_size + engine::Compressor::max_overshoot));
}

TEST_CASE("an output past S3's 10,000 parts fails as soon as the 10,000th is full, leaving nothing", "[limits]") {
  asio::io_context io;
  auto config = engine_config();
  config.part_size = 1024;  // 10,000 growing parts hold about 54 MiB
  // The planner takes this for 10 rows, so the parts are not chosen larger.
  config.datasets.push_back({"underestimated", "SELECT * FROM pg2s3_test_wide_rows()", false});
  test::command_output("psql -X -q -v ON_ERROR_STOP=1 -d '" + database_url() + "' -c \""
                                    "CREATE OR REPLACE FUNCTION pg2s3_test_wide_rows() RETURNS SETOF text "
                                    "LANGUAGE sql ROWS 10 AS 'SELECT repeat(''x'', 1000) FROM generate_series(1, 70000)'\"");
  auto engine = start_engine(io, config);
  const std::string path = temporary_path("too-many-parts");
  auto job = export_and_wait(io, *engine, {"underestimated", "", engine::Compression::none, path});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("10,000 parts") && Catch::Contains("maxFileSize"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST_CASE("an output the planner puts past 5 TiB is refused before any row is read", "[limits]") {
  asio::io_context io;
  auto config = engine_config();
  config.datasets.push_back({"huge", "SELECT g, g AS h FROM generate_series(1, 1000000000000) AS g", false});
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"huge", "", engine::Compression::none, ""});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("5 TiB"));
  CHECK(job.processed_records == 0);
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

TEST_CASE("a cancel before the first row stops the backend at once, not at its next write", "[limits]") {
  asio::io_context io;
  auto config = engine_config();
  const std::string query = "SELECT pg_sleep(3600) AS slept";
  config.datasets.push_back({"sleepy", query, false});
  auto engine = start_engine(io, config);
  const std::string copy_prefix = "COPY (" + query;
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"sleepy", "", engine::Compression::none, ""};
    auto started = co_await engine->start_export(request);
    auto copying = [&]() { return backend_running(copy_prefix); };
    const bool running = co_await poll_until(copying);
    REQUIRE(running);
    const bool cancelling = (co_await engine->cancel(started.value().id)).value();
    CHECK(cancelling);
    auto ended = co_await engine->wait(started.value().id);
    auto gone = [&]() -> asio::awaitable<bool> { co_return !co_await backend_running(copy_prefix); };
    const bool stopped = co_await poll_until(gone);  // within 20 s, not after the hour of pg_sleep
    CHECK(stopped);
    co_return ended.value();
  }());
  CHECK(job.status == JobStatus::cancelled);
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

TEST_CASE("processedRecords counts rows, not the CSV header, while the export runs", "[limits]") {
  asio::io_context io;
  auto config = engine_config();
  config.part_size = 1024 * 1024;
  config.datasets.push_back({"one_wide_row", "SELECT repeat('x', 3 * 1024 * 1024) AS wide", false});
  auto engine = start_engine(io, config);
  // A FIFO nobody reads yet holds the export still once its first part is full.
  const std::string fifo = temporary_path("fifo");
  std::filesystem::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  std::int64_t while_running = -1;
  std::size_t read_bytes = 0;
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"one_wide_row", "", engine::Compression::none, fifo};
    auto started = co_await engine->start_export(request);
    const std::string id = started.value().id;
    const bool reading = co_await wait_until_reading(*engine, id);
    REQUIRE(reading);
    while_running = (co_await engine->find_job(id)).value()->processed_records;
    ::fcntl(reader, F_SETFL, 0);
    std::thread drain([&] {
      char chunk[65536];
      for (ssize_t n; (n = ::read(reader, chunk, sizeof chunk)) > 0;) read_bytes += static_cast<std::size_t>(n);
    });
    auto ended = co_await engine->wait(id);
    drain.join();  // the export closed the FIFO before it ended: the drain has its end of file
    co_return ended.value();
  }());
  CHECK(while_running == 1);
  CHECK(job.status == JobStatus::completed);
  CHECK(job.processed_records == 1);
  CHECK(read_bytes == 5 + 3 * 1024 * 1024 + 1);
  ::close(reader);
  std::filesystem::remove(fifo);
}

TEST_CASE("a store call cancelled while waiting for its turn neither runs nor spoils the holder's", "[limits]") {
  asio::io_context io;
  auto store = engine::JobStore::open(io.get_executor(), database_url(), {}, "test-host:1");
  std::optional<engine::Result<engine::JobPage>> holder, after;
  std::optional<engine::Result<std::optional<engine::JobRecord>>> cancelled;
  asio::cancellation_signal cancel;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> { holder.emplace(co_await store->list({.limit = 1000})); },
                   asio::detached);
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      cancelled.emplace(co_await store->find("00000000-0000-4000-8000-000000000000"));
    }, asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> { after.emplace(co_await store->list({.limit = 1})); }, asio::detached);
    co_await asio::post(executor, asio::use_awaitable);
    cancel.emit(asio::cancellation_type::terminal);
  }());
  REQUIRE(holder);
  CHECK(holder->has_value());
  REQUIRE(cancelled);
  REQUIRE_FALSE(cancelled->has_value());
  CHECK(cancelled->error().code == asio::error::operation_aborted);
  REQUIRE(after);
  INFO((after->has_value() ? std::string() : after->error().message));
  CHECK(after->has_value());
}

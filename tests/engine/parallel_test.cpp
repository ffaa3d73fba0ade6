// Parallel exports against the real PostgreSQL and RGW: ranges of pages read by several backends in one
// exported snapshot come back in range order, exactly what one COPY prints, and fail and cancel cleanly.
#include "engine/engine.hpp"
#include "pg/connection.hpp"
#include "tests/engine/engine_helpers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include <random>
#include <sstream>

using namespace pg2s3;
using namespace pg2s3::test;
using engine::Compression;
using engine::JobStatus;

namespace {

const std::string users_columns = "SELECT id, email, name, created_at FROM ";

engine::EngineConfig parallel_config() {
  auto config = ranged_engine_config();
  config.datasets.push_back(users_table_dataset("par_users", "users"));
  config.datasets.push_back(users_table_dataset("par_holes", "parallel_holes"));
  config.datasets.push_back(users_table_dataset("par_empty", "parallel_empty"));
  config.datasets.push_back(users_table_dataset("par_late", "parallel_late"));
  // About 4 s of pg_sleep spread over the table: long enough to be caught mid-export.
  config.datasets.push_back(users_table_dataset("par_slow", "users", "id % 500 <> 0 OR pg_sleep(0.02) IS NOT NULL"));
  engine::Dataset accounts;
  accounts.name = "par_accounts";
  accounts.table = "parallel_accounts";
  accounts.query = engine::table_query(accounts);
  config.datasets.push_back(accounts);
  return config;
}

engine::ExportRequest parallel_request(std::string dataset, int parallelism, Compression compression = Compression::none,
                                       std::string output = {}) {
  return {std::move(dataset), "", compression, std::move(output), std::nullopt, parallelism};
}

bool no_trace_left(asio::io_context& io, const engine::JobRecord& job) {
  return !object_exists(io, job.s3_key) && !upload_open_for(io, job.s3_key);
}

// The object as its consumer reads it: gzip and zstd streams of each range, one after the other, decompress
// as one.
std::string decompressed(engine::Engine& engine, const engine::JobRecord& job) {
  const std::string url = engine.download_url(job).value().url;
  const char* tool = job.compression == Compression::gzip ? " | gunzip" : job.compression == Compression::zstd ? " | zstd -d" : "";
  return command_output("curl -sf '" + url + "'" + tool);
}

// Runs `work` beside the export of `request` (told through its flag when the export has ended), and
// returns the export's final record once both have ended.
template <class Work>
engine::JobRecord export_beside(asio::io_context& io, engine::Engine& engine, engine::ExportRequest request, Work work) {
  using namespace asio::experimental::awaitable_operators;
  return test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    auto started = co_await engine.start_export(request);
    const std::string id = started.value().id;
    bool ended = false;
    auto export_to_its_end = [&]() -> asio::awaitable<engine::JobRecord> {
      auto job = co_await engine.wait(id);
      ended = true;
      co_return job.value();
    };
    co_return co_await (export_to_its_end() && work(id, ended));
  }());
}

}  // namespace

TEST_CASE("1, 2 and 4 backends put exactly one COPY's bytes in S3, with each compression", "[parallel]") {
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  const std::string expected = psql_csv(users_columns + "users");
  for (int parallelism : {1, 2, 4}) {
    for (auto compression : {Compression::none, Compression::gzip, Compression::zstd}) {
      auto job = export_and_wait(io, *engine, parallel_request("par_users", parallelism, compression));
      INFO("parallelism " << parallelism << ", " << engine::to_string(compression) << ": " << job.error_message);
      REQUIRE(job.status == JobStatus::completed);
      CHECK(job.parallelism == parallelism);
      CHECK(job.processed_records == 100000);
      CHECK(decompressed(*engine, job) == expected);
    }
  }
}

TEST_CASE("a parallel export to a file writes its ranges in order", "[parallel]") {
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  const std::string path = scratch_file("parallel.csv");
  auto job = export_and_wait(io, *engine, parallel_request("par_users", 4, Compression::none, path));
  REQUIRE(job.status == JobStatus::completed);
  CHECK(command_output("cat " + path) == psql_csv(users_columns + "users"));
  std::remove(path.c_str());
}

TEST_CASE("ranges without rows, an empty table, and rows past the planner's page count", "[parallel]") {
  psql(R"(
    DROP TABLE IF EXISTS parallel_holes, parallel_empty, parallel_late;
    CREATE TABLE parallel_holes WITH (autovacuum_enabled = false) AS SELECT * FROM users ORDER BY id;
    DELETE FROM parallel_holes WHERE id % 100000 BETWEEN 10000 AND 90000;
    ANALYZE parallel_holes;
    CREATE TABLE parallel_empty (LIKE users);
    CREATE TABLE parallel_late WITH (autovacuum_enabled = false) AS SELECT * FROM users ORDER BY id LIMIT 1000;
    ANALYZE parallel_late;
    INSERT INTO parallel_late SELECT * FROM users ORDER BY id OFFSET 1000;)");
  // The planner still believes parallel_late holds 1,000 rows on a few pages.
  CHECK(psql("SELECT reltuples::bigint FROM pg_class WHERE relname = 'parallel_late'") == "1000\n");
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  for (auto [dataset, table] : {std::pair{"par_holes", "parallel_holes"}, std::pair{"par_empty", "parallel_empty"},
                                std::pair{"par_late", "parallel_late"}}) {
    auto job = export_and_wait(io, *engine, parallel_request(dataset, 4));
    INFO(dataset << ": " << job.error_message);
    REQUIRE(job.status == JobStatus::completed);
    CHECK(object_bytes(io, job.s3_key) == psql_csv(users_columns + table));
  }
}

TEST_CASE("balances moved by concurrent transactions during a 4-way export keep their total", "[parallel]") {
  constexpr int accounts = 200000;
  psql("DROP TABLE IF EXISTS parallel_accounts; "
       "CREATE TABLE parallel_accounts (id int PRIMARY KEY, balance bigint NOT NULL); "
       "INSERT INTO parallel_accounts SELECT g, 100 FROM generate_series(1, " + std::to_string(accounts) + ") AS g; "
       "ANALYZE parallel_accounts;");
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  int transfers = 0;
  // Moves money between random accounts, one transaction per transfer, until the export has ended.
  auto move_money = [&](std::string, bool& ended) -> asio::awaitable<void> {
    auto connection = (co_await pg::Connection::connect(co_await asio::this_coro::executor, database_url())).value();
    std::mt19937 random(42);
    std::uniform_int_distribution<int> account(1, accounts);
    while (!ended) {
      const std::string from = std::to_string(account(random)), to = std::to_string(account(random));
      const std::string transfer = "UPDATE parallel_accounts SET balance = balance + CASE WHEN id = " + from +
                                   " THEN -7 ELSE 7 END WHERE id IN (" + from + ", " + to + ")";
      auto moved = co_await connection.execute(transfer);
      REQUIRE(moved.has_value());
      ++transfers;
    }
  };
  auto job = export_beside(io, *engine, parallel_request("par_accounts", 4), move_money);
  REQUIRE(job.status == JobStatus::completed);
  CHECK(transfers > 0);
  std::istringstream csv(object_bytes(io, job.s3_key));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "id,balance");
  std::int64_t rows = 0, total = 0;
  while (std::getline(csv, line)) {
    ++rows;
    total += std::stoll(line.substr(line.find(',') + 1));
  }
  CHECK(rows == accounts);
  CHECK(total == 100LL * accounts);
}

TEST_CASE("a reader's backend terminated mid-export: FAILED, no object, no upload", "[parallel]") {
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  int terminated = 0;
  auto terminate_a_reader = [&](std::string id, bool&) -> asio::awaitable<void> {
    const bool reading = co_await wait_until_reading(*engine, id);
    REQUIRE(reading);
    auto admin = (co_await pg::Connection::connect(co_await asio::this_coro::executor, database_url())).value();
    const std::string sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'COPY%ctid%' "
                            "AND pid <> pg_backend_pid() LIMIT 1";
    auto result = co_await admin.query(sql);
    terminated = result.value().rows();
  };
  auto job = export_beside(io, *engine, parallel_request("par_slow", 4), terminate_a_reader);
  REQUIRE(terminated == 1);
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("terminating connection"));
  CHECK(no_trace_left(io, job));
}

TEST_CASE("a cancelled parallel export leaves no object and no upload", "[parallel]") {
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  auto cancel_it = [&](std::string id, bool&) -> asio::awaitable<void> {
    const bool reading = co_await wait_until_reading(*engine, id);
    REQUIRE(reading);
    auto cancelling = co_await engine->cancel(id);
    CHECK(cancelling.value());
  };
  auto job = export_beside(io, *engine, parallel_request("par_slow", 4), cancel_it);
  CHECK(job.status == JobStatus::cancelled);
  CHECK(no_trace_left(io, job));
}

TEST_CASE("parallelism is refused where it cannot work, and nothing is recorded", "[parallel]") {
  asio::io_context io;
  auto engine = start_engine(io, parallel_config());
  const std::string jobs_before = psql("SELECT count(*) FROM export_jobs");
  auto refusal = [&](engine::ExportRequest request) {
    auto started = test::run(io, engine->start_export(request));
    REQUIRE_FALSE(started.has_value());
    CHECK(started.error().code == engine::errc::invalid_request);
    return started.error().message;
  };
  CHECK_THAT(refusal(parallel_request("slow", 2)), Catch::Contains("cannot be split"));
  CHECK_THAT(refusal(parallel_request("par_users", 65)), Catch::Contains("1 to 64"));
  CHECK_THAT(refusal(parallel_request("par_users", 0)), Catch::Contains("1 to 64"));
  auto parquet = parallel_request("par_users", 2);
  parquet.format = engine::Format::parquet;
  CHECK_THAT(refusal(parquet), Catch::Contains("Parquet"));
  CHECK_THAT(refusal(parallel_request("par_users", 64)), Catch::Contains("buffer_budget_mib"));
  CHECK(psql("SELECT count(*) FROM export_jobs") == jobs_before);
}

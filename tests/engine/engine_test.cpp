// The engine against the real PostgreSQL and RGW: whole exports, compression, concurrency, cancel, restart,
// and the engine embedded in an Asio server of the test's own.
#include "engine/engine.hpp"
#include "http/json.hpp"
#include "s3/multipart_upload.hpp"
#include "tests/engine/engine_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

using namespace pg2s3;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using engine::JobStatus;
using namespace pg2s3::test;

namespace {

// Starts an export of `dataset`, cancels it once it has read some rows, and returns its final record.
// (One coroutine: test::run returns only when the io_context has no work left, the export included.)
engine::JobRecord cancel_mid_export(asio::io_context& io, engine::Engine& engine, const std::string& dataset) {
  return test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{dataset, "", engine::Compression::none, ""};
    auto started = co_await engine.start_export(request);
    const std::string id = started.value().id;
    const bool reading = co_await wait_until_reading(engine, id);
    REQUIRE(reading);
    const bool cancelling = (co_await engine.cancel(id)).value();
    CHECK(cancelling);
    auto ended = co_await engine.wait(id);
    co_return ended.value();
  }());
}

}  // namespace

TEST_CASE("an export puts exactly PostgreSQL's CSV in S3 and records it", "[engine]") {
  asio::io_context io;
  auto engine = start_engine(io);
  auto job = export_and_wait(io, *engine, {"users_counted", "", engine::Compression::none, ""});
  REQUIRE(job.status == JobStatus::completed);
  CHECK(job.s3_key == "exports/" + job.id + ".csv");
  const std::string expected = test::psql_csv(users_query);
  CHECK(job.bytes_uploaded == expected.size());
  CHECK(job.total_records == job.processed_records);  // exact count asked for
  CHECK(engine::progress_percent(job) == 100);
  CHECK(job.started_at >= job.created_at);
  CHECK(job.finished_at >= job.started_at);
  CHECK(object_bytes(io, job.s3_key) == expected);

  auto stored = test::run(io, engine->find_job(job.id)).value();
  REQUIRE(stored);
  CHECK(http::job_status_json(*stored) == http::job_status_json(job));
  CHECK(test::command_output("curl -sf '" + engine->download_url(job).value().url + "'") == expected);
}

TEST_CASE("gzip and zstd objects decompress to the same bytes and say what they are", "[engine]") {
  asio::io_context io;
  auto engine = start_engine(io);
  const std::string expected = test::psql_csv(users_query);
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  for (auto [compression, tool, type] : {std::tuple{engine::Compression::gzip, "gunzip", "application/gzip"},
                                         std::tuple{engine::Compression::zstd, "zstd -d", "application/zstd"}}) {
    auto job = export_and_wait(io, *engine, {"users", "", compression, ""});
    REQUIRE(job.status == JobStatus::completed);
    CHECK(job.s3_key.ends_with(engine::file_extension(engine::Format::csv, compression)));
    CHECK(test::run(io, client.head_object(test::bucket(), job.s3_key)).value().content_type == type);
    CHECK(test::command_output("curl -sf '" + engine->download_url(job).value().url + "' | " + tool) == expected);
  }
}

TEST_CASE("output to a file gives the same bytes and leaves nothing behind on failure", "[engine]") {
  asio::io_context io;
  auto engine = start_engine(io);
  const std::string path = test::scratch_file("export.csv");
  auto job = export_and_wait(io, *engine, {"users", "", engine::Compression::none, path});
  REQUIRE(job.status == JobStatus::completed);
  CHECK(test::command_output("cat " + path) == test::psql_csv(users_query));
  std::remove(path.c_str());

  auto failed = export_and_wait(io, *engine, {"users", "", engine::Compression::none, "/nonexistent-dir/out.csv"});
  CHECK(failed.status == JobStatus::failed);
  CHECK_THAT(failed.error_message, Catch::Contains("/nonexistent-dir/out.csv"));
}

TEST_CASE("a failing query ends FAILED with the server's words and leaves no object or upload", "[engine]") {
  asio::io_context io;
  auto config = engine_config();
  config.datasets.push_back({"broken", "SELECT 1/0 AS boom FROM generate_series(1, 10)", false});
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"broken", "", engine::Compression::none, ""});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("SQLSTATE 22012") && Catch::Contains("division by zero"));
  CHECK_FALSE(object_exists(io, job.s3_key));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

TEST_CASE("a cancelled export ends CANCELLED with no object and no open upload", "[engine]") {
  asio::io_context io;
  auto engine = start_engine(io);
  auto ended = cancel_mid_export(io, *engine, "slow");
  auto job = ended;
  CHECK(ended.status == JobStatus::cancelled);
  CHECK(ended.error_message == "cancelled");
  CHECK(ended.processed_records < 2'500'000);
  CHECK_FALSE(object_exists(io, job.s3_key));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
  CHECK_FALSE(test::run(io, engine->cancel(job.id)).value());  // no longer active
  CHECK(test::run(io, engine->find_job(job.id)).value()->status == JobStatus::cancelled);
}

TEST_CASE("16 exports at once all complete with the right bytes and the running cap holds", "[engine]") {
  asio::io_context io;
  auto config = engine_config();
  config.max_running_exports = 4;
  config.buffer_budget = 8 * config.part_size;  // less than 16 exports would ask for
  auto engine = start_engine(io, config);
  std::size_t most_running = 0;
  bool done = false;  // out here: the sampler reads it once more after the coroutine below has ended
  auto jobs = test::run(io, [&]() -> asio::awaitable<std::vector<engine::JobRecord>> {
    std::vector<std::string> ids;
    const engine::ExportRequest request{"users", "", engine::Compression::none, ""};
    for (int i = 0; i < 16; ++i) {
      auto started = co_await engine->start_export(request);
      ids.push_back(started.value().id);
    }
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {  // samples the running count while they run
      asio::steady_timer tick(io);
      while (!done) {
        most_running = std::max(most_running, engine->metrics().exports_running);
        tick.expires_after(1ms);
        co_await tick.async_wait(use_tuple);
      }
    }, asio::detached);
    std::vector<engine::JobRecord> ended;
    for (const auto& id : ids) {
      auto job = co_await engine->wait(id);
      ended.push_back(job.value());
    }
    done = true;
    co_return ended;
  }());
  const std::string expected = test::psql_csv(users_query);
  for (const auto& job : jobs) {
    CHECK(job.status == JobStatus::completed);
    CHECK(object_bytes(io, job.s3_key) == expected);
  }
  CHECK(most_running >= 2);
  CHECK(most_running <= 4);
  CHECK(engine->metrics().jobs_ended.at(JobStatus::completed) == 16);
  CHECK(engine->metrics().buffer_bytes_in_use == 0);
}

TEST_CASE("a status outlives the process; a dead process's jobs run again, or fail once their attempts are spent",
          "[engine]") {
  asio::io_context io;
  std::string completed_id;
  {
    auto engine = start_engine(io);
    completed_id = export_and_wait(io, *engine, {"users", "", engine::Compression::none, ""}).id;
  }
  // Jobs as a killed process leaves them: RUNNING, their leases past, each with an open upload; one on its
  // first attempt of three, one on its last.
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  std::map<int, std::string> ids, keys;
  for (int attempt : {1, 3}) {
    ids[attempt] = engine::new_job_id();
    keys[attempt] = "exports/" + ids[attempt] + ".csv";
    const auto upload_id = test::run(io, client.create_multipart_upload(test::bucket(), keys[attempt])).value();
    test::psql("INSERT INTO export_jobs (id, dataset, status, s3_key, created_at, started_at, upload_id, attempt, "
               "max_attempts, runner, lease_token, lease_expires_at) VALUES ('" + ids[attempt] + "', 'users', "
               "'RUNNING', '" + keys[attempt] + "', now(), now(), '" + upload_id + "', " + std::to_string(attempt) +
               ", 3, 'gone-host:1', gen_random_uuid(), now() - interval '1 second')");
  }
  auto restarted = start_engine(io);  // rescues at start-up
  auto completed = test::run(io, restarted->find_job(completed_id)).value();
  REQUIRE(completed);
  CHECK(completed->status == JobStatus::completed);

  auto again = test::run(io, restarted->find_job(ids[1])).value().value();
  CHECK(again.status == JobStatus::pending);  // for a process that claims (this one runs only its own)
  CHECK(again.attempt == 1);
  REQUIRE(again.errors.size() == 1);
  CHECK_THAT(again.errors[0], Catch::Contains("attempt 1 on gone-host:1") && Catch::Contains("lease expired"));
  CHECK(again.upload_id.empty());  // aborted, so forgotten
  CHECK_FALSE(upload_open_for(io, keys[1]));

  auto spent = test::run(io, restarted->find_job(ids[3])).value().value();
  CHECK(spent.status == JobStatus::failed);
  CHECK_THAT(spent.error_message, Catch::StartsWith("interrupted: attempt 3 on gone-host:1"));
  CHECK(spent.errors.size() == 1);
  CHECK(spent.upload_id.empty());
  CHECK_FALSE(upload_open_for(io, keys[3]));

  CHECK(test::run(io, restarted->cancel(ids[1])).value());  // PENDING: cancelled at once
  CHECK(test::run(io, restarted->find_job(ids[1])).value()->status == JobStatus::cancelled);
  auto listed = test::run(io, restarted->list_jobs({.limit = 1000})).value().jobs;
  CHECK(std::ranges::any_of(listed, [&](const auto& job) { return job.id == completed_id; }));
  CHECK(std::ranges::is_sorted(listed, std::greater<>{}, &engine::JobRecord::created_at));
}

TEST_CASE("a second process on the same table leaves the first one's running jobs alone", "[engine]") {
  asio::io_context io;
  auto first = start_engine(io);
  auto [seen_by_second, ended] = test::run(io, [&]() -> asio::awaitable<std::pair<JobStatus, engine::JobRecord>> {
    const engine::ExportRequest request{"slow", "", engine::Compression::none, ""};
    auto started = co_await first->start_export(request);
    const std::string id = started.value().id;
    const bool reading = co_await wait_until_reading(*first, id);
    REQUIRE(reading);
    auto second = co_await engine::Engine::start(io.get_executor(), engine_config());  // sweeps at start-up
    auto seen = co_await second.value()->find_job(id);
    const bool cancelling = (co_await first->cancel(id)).value();
    CHECK(cancelling);
    auto final_record = co_await first->wait(id);
    co_return std::pair{seen.value()->status, final_record.value()};
  }());
  CHECK(seen_by_second == JobStatus::running);  // not taken for interrupted
  CHECK(ended.status == JobStatus::cancelled);
}

TEST_CASE("an unknown dataset or a bad key is refused and nothing is recorded", "[engine]") {
  asio::io_context io;
  auto engine = start_engine(io);
  auto unknown = test::run(io, engine->start_export({"users; DROP TABLE users", "", engine::Compression::none, ""}));
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == engine::errc::unknown_dataset);
  auto bad_key = test::run(io, engine->start_export({"users", "../escape.csv", engine::Compression::none, ""}));
  REQUIRE_FALSE(bad_key.has_value());
  CHECK(bad_key.error().code == engine::errc::invalid_request);
  CHECK(engine->metrics().exports_waiting == 0);
  CHECK(engine->metrics().exports_running == 0);
}

// The engine inside a small server of the test's own: a line with a dataset name in, the final status out.
TEST_CASE("the engine embeds in another Asio server", "[engine][embedding]") {
  asio::io_context io;
  auto engine = start_engine(io);
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto serve_one = [&]() -> asio::awaitable<void> {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    asio::streambuf line;
    co_await asio::async_read_until(socket, line, '\n', asio::use_awaitable);
    std::string dataset{std::istreambuf_iterator<char>(&line), {}};
    dataset.pop_back();
    const engine::ExportRequest request{dataset, "", engine::Compression::none, ""};
    auto job = co_await engine->start_export(request);
    std::string reply = job ? std::string() : job.error().message;
    if (job) {
      auto ended = co_await engine->wait(job->id);
      reply = http::job_status_json(ended.value());
    }
    co_await asio::async_write(socket, asio::buffer(reply + "\n"), asio::use_awaitable);
  };
  auto ask = [&]() -> asio::awaitable<std::string> {
    asio::ip::tcp::socket socket(io);
    co_await socket.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(std::string("users\n")), asio::use_awaitable);
    asio::streambuf reply;
    co_await asio::async_read_until(socket, reply, '\n', asio::use_awaitable);
    co_return std::string{std::istreambuf_iterator<char>(&reply), {}};
  };
  asio::co_spawn(io, serve_one(), asio::detached);
  const std::string reply = test::run(io, ask());
  CHECK_THAT(reply, Catch::Contains(R"("status":"COMPLETED")") && Catch::Contains(R"("dataset":"users")"));
}

TEST_CASE("an export's bytes depend on its snapshot alone, not on where another scan of the table stopped",
          "[engine][sync-scans]") {
  // Over a quarter of shared_buffers (256 MB in scripts/services): the size from which PostgreSQL starts a
  // sequential scan where the last one of the table is, unless synchronize_seqscans is off.
  test::psql("CREATE TABLE IF NOT EXISTS sync_scan_rows AS "
             "SELECT g AS id, repeat(md5(g::text), 6) AS pad FROM generate_series(1, 330000) AS g");
  REQUIRE(test::psql("SELECT pg_relation_size('sync_scan_rows') > "
                     "pg_size_bytes(current_setting('shared_buffers')) / 4") == "t\n");
  auto config = ranged_engine_config();
  const auto table = table_dataset("sync_scan_rows");
  config.datasets.push_back(table);
  asio::io_context io;
  auto engine = start_engine(io, config);
  const std::string from_the_first_page =
      test::psql("SET synchronize_seqscans = off; COPY (" + table.query + ") TO STDOUT WITH (FORMAT csv, HEADER)");
  for (int parallelism : {1, 2}) {
    // A scan that stops two thirds of the way through leaves the table's synchronized scan position there.
    test::psql("SET synchronize_seqscans = on; SELECT id FROM sync_scan_rows OFFSET 220000 LIMIT 1");
    auto job = export_and_wait(io, *engine, {"sync_scan_rows", "", engine::Compression::none, "", std::nullopt, parallelism});
    INFO("parallelism " << parallelism << ": " << job.error_message);
    REQUIRE(job.status == JobStatus::completed);
    CHECK(object_bytes(io, job.s3_key) == from_the_first_page);
  }
}

TEST_CASE("an ending the database refuses once is saved on the next try, and only then shown", "[engine][finish]") {
  // The first COMPLETED written for this dataset's jobs fails, as a database blinking right after the object
  // appeared would make it (a sequence, which no rollback takes back, counts the tries).
  test::psql(R"(
    CREATE SEQUENCE IF NOT EXISTS finish_tries;
    SELECT setval('finish_tries', 1, false);
    CREATE OR REPLACE FUNCTION refuse_first_finish() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = 'COMPLETED' THEN
        IF nextval('finish_tries') = 1 THEN RAISE EXCEPTION 'the database blinked'; END IF;
      END IF;
      RETURN NEW;
    END $$;
    DROP TRIGGER IF EXISTS refuse_first_finish ON export_jobs;
    CREATE TRIGGER refuse_first_finish BEFORE UPDATE ON export_jobs FOR EACH ROW
      WHEN (NEW.dataset = 'finish_blinks') EXECUTE FUNCTION refuse_first_finish();)");
  auto config = engine_config();
  config.datasets.push_back({"finish_blinks", users_query, false});
  asio::io_context io;
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"finish_blinks", "", engine::Compression::none, ""});
  test::psql("DROP TRIGGER refuse_first_finish ON export_jobs");
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(test::psql("SELECT status FROM export_jobs WHERE id = '" + job.id + "'") == "COMPLETED\n");
  CHECK(test::psql("SELECT nextval('finish_tries')") == "3\n");  // refused once, stored at the second try
  CHECK(object_bytes(io, job.s3_key) == test::psql_csv(users_query));
}

TEST_CASE("a job that fails leaves no object at its key, not even one another attempt completed past its lease",
          "[engine][stray]") {
  auto config = engine_config();
  // Fails at row 300,000, after three pauses of a second: long enough to be caught running.
  config.datasets.push_back({"fails_late", "SELECT g, 1 / (g - 300000) AS boom FROM generate_series(1, 400000) AS g "
                                           "WHERE g % 100000 <> 0 OR pg_sleep(1) IS NOT NULL", false});
  asio::io_context io;
  auto engine = start_engine(io, config);
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"fails_late", "", engine::Compression::none, ""};
    const auto started = (co_await engine->start_export(request)).value();
    auto running = [&]() -> asio::awaitable<bool> {
      auto found = co_await engine->find_job(started.id);
      co_return found && *found && (*found)->status == JobStatus::running;
    };
    const bool caught_running = co_await poll_until(running);
    REQUIRE(caught_running);
    // What an attempt frozen between its last heartbeat and CompleteMultipartUpload leaves once it thaws.
    auto put = co_await client.put_object(test::bucket(), started.s3_key, "g,boom\n1,0\n", "text/csv", nullptr);
    REQUIRE(put.has_value());
    co_return (co_await engine->wait(started.id)).value();
  }());
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("division by zero"));
  CHECK_FALSE(object_exists(io, job.s3_key));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

TEST_CASE("an export with no progress for a while says so in its status and the metrics, its lease fresh",
          "[engine][stall]") {
  auto config = engine_config();
  config.stall_after = 300ms;
  config.datasets.push_back({"no_rows_yet", "SELECT pg_sleep(3) AS slept", false});
  asio::io_context io;
  auto engine = start_engine(io, config);
  std::optional<engine::JobRecord> stalled;
  std::size_t stalled_gauge = 0;
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"no_rows_yet", "", engine::Compression::none, ""};
    const auto started = (co_await engine->start_export(request)).value();
    auto says_stalled = [&]() -> asio::awaitable<bool> {
      auto found = co_await engine->find_job(started.id);
      if (found && *found && (*found)->stalled_seconds) stalled = **found;
      stalled_gauge = engine->metrics().exports_stalled;
      co_return stalled.has_value();
    };
    const bool seen = co_await poll_until(says_stalled);
    CHECK(seen);
    co_return (co_await engine->wait(started.id)).value();
  }());
  REQUIRE(stalled);
  CHECK(stalled->status == JobStatus::running);
  CHECK(stalled_gauge == 1);
  CHECK(job.status == JobStatus::completed);
  CHECK_FALSE(job.stalled_seconds);
  CHECK(engine->metrics().exports_stalled == 0);
}

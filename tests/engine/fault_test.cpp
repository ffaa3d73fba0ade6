// Faults during an export, against the real PostgreSQL and RGW: a terminated backend, RGW refusing,
// away for a while or for too long (behind a fault proxy), SlowDown, an untrusted certificate, and a storm
// of cancels. Each ends truthfully and clean: a final status with the reason, no object, no open upload.
#include "engine/compressor.hpp"
#include "engine/engine.hpp"
#include "pg/connection.hpp"
#include "s3/multipart_upload.hpp"
#include "tests/engine/engine_helpers.hpp"
#include "tests/support/s3_fault_proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <random>

using namespace pg2s3;
using namespace pg2s3::test;
using engine::JobStatus;

namespace {

// About 16 MB: four parts of 5 MiB.
const std::string four_parts_query = "SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 400000) AS g";

// Retries enough that every other part answered SlowDown, or a few dropped requests, still get through.
engine::EngineConfig fault_config(const std::string& s3_endpoint) {
  auto config = engine_config();
  config.s3.endpoint = s3_endpoint;
  config.s3.retry = {6, std::chrono::milliseconds(10), std::chrono::milliseconds(200)};
  config.part_size = s3::min_part_size;
  config.datasets.push_back({"four_parts", four_parts_query, false});
  return config;
}

// The same, with a dataset of the whole table, ranges of 1 MiB and the default budget of 64 MiB.
engine::EngineConfig ranged_fault_config(const std::string& s3_endpoint, const std::string& table) {
  auto config = fault_config(s3_endpoint);
  config.range_size = 1024 * 1024;
  config.buffer_budget = 64 * 1024 * 1024;
  config.datasets.push_back(table_dataset(table));
  return config;
}

void check_clean(asio::io_context& io, const engine::JobRecord& job) {
  CHECK_FALSE(object_exists(io, job.s3_key));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

// A loopback port with nobody listening.
unsigned short closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

asio::awaitable<void> terminate_backend_of(const std::string& query_prefix) {
  const auto executor = co_await asio::this_coro::executor;
  const std::string url = database_url();
  auto admin = co_await pg::Connection::connect(executor, url);
  const std::string sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '" +
                          query_prefix + "%' AND pid <> pg_backend_pid()";
  auto terminated = co_await admin.value().query(sql);
  REQUIRE(terminated.value().rows() == 1);
}

}  // namespace

TEST_CASE("the COPY backend terminated mid-export: FAILED with the server's words, clean", "[faults]") {
  asio::io_context io;
  auto engine = start_engine(io);
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"slow", "", engine::Compression::none, ""};
    auto started = co_await engine->start_export(request);
    const std::string id = started.value().id;
    const bool reading = co_await wait_until_reading(*engine, id);
    REQUIRE(reading);
    const std::string copy_prefix = "COPY (" + slow_query.substr(0, 30);
    co_await terminate_backend_of(copy_prefix);
    auto ended = co_await engine->wait(id);
    co_return ended.value();
  }());
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("reading rows") && Catch::Contains("terminating connection"));
  check_clean(io, job);
}

TEST_CASE("RGW refusing connections when an export starts: FAILED, clean", "[faults]") {
  asio::io_context io;
  auto engine = start_engine(io, fault_config("http://127.0.0.1:" + std::to_string(closed_port())));
  auto job = export_and_wait(io, *engine, {"users", "", engine::Compression::none, ""});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("CreateMultipartUpload") && Catch::Contains("refused"));
  check_clean(io, job);
}

TEST_CASE("RGW away mid-upload and back within the retry window: COMPLETED with the right bytes", "[faults]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto engine = start_engine(io, fault_config(proxy.endpoint()));
  proxy.go_away(1, 3);
  auto job = export_and_wait(io, *engine, {"four_parts", "", engine::Compression::none, ""});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.requests_dropped() == 3);
  CHECK(object_bytes(io, job.s3_key) == psql_csv(four_parts_query));
}

TEST_CASE("RGW away longer than the retry window: FAILED, and the sweeper aborts the upload once RGW is back",
          "[faults]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.sweep_interval = 20ms;
  engine::JobRecord ended, swept;
  bool upload_left_while_away = false;
  test::run(io, [&]() -> asio::awaitable<void> {  // one coroutine: the periodic sweep lives as long as the engine
    const auto executor = io.get_executor();  // named: GCC 12 mishandles temporaries across co_await
    auto started_engine = co_await engine::Engine::start(executor, config);
    auto engine = std::move(started_engine.value());
    proxy.go_away(1, -1);
    const engine::ExportRequest request{"four_parts", "", engine::Compression::none, ""};
    auto started = co_await engine->start_export(request);
    auto waited = co_await engine->wait(started.value().id);
    ended = waited.value();
    auto direct = s3::Client::create(executor, rgw_config()).value();
    auto uploads = co_await direct.list_multipart_uploads(bucket(), ended.s3_key);
    upload_left_while_away = !uploads.value().empty();

    proxy.come_back();
    auto upload_forgotten = [&]() -> asio::awaitable<bool> {
      auto job = co_await engine->find_job(ended.id);
      swept = **job;
      co_return swept.upload_id.empty();
    };
    const bool forgotten = co_await poll_until(upload_forgotten);
    CHECK(forgotten);
  }());
  CHECK(ended.status == JobStatus::failed);
  CHECK_THAT(ended.error_message, Catch::Contains("UploadPart"));
  CHECK_FALSE(ended.upload_id.empty());  // recorded for the sweeper
  CHECK(upload_left_while_away);
  CHECK(swept.status == JobStatus::failed);
  CHECK(proxy.aborts_forwarded() >= 1);  // theirs, and maybe uploads that earlier runs left to a sweep
  check_clean(io, ended);
}

TEST_CASE("503 SlowDown to some parts: retried with backoff, the object is right", "[faults]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto engine = start_engine(io, fault_config(proxy.endpoint()));
  proxy.slow_down_parts(3);
  auto job = export_and_wait(io, *engine, {"four_parts", "", engine::Compression::none, ""});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.slow_downs_sent() == 3);
  CHECK(engine->metrics().s3_retries >= 3);
  CHECK(object_bytes(io, job.s3_key) == psql_csv(four_parts_query));
}

TEST_CASE("HTTPS to S3 with a certificate that does not verify: a clear certificate error, nothing sent",
          "[faults][tls]") {
  asio::io_context io;
  auto config = engine_config();
  config.s3.endpoint = service_setting("PG2S3_TEST_S3_TLS_ENDPOINT");  // self-signed, and no CA file given
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"users", "", engine::Compression::none, ""});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("CreateMultipartUpload") && Catch::Contains("certificate"));
  CHECK(engine->metrics().s3_retries == 0);
  check_clean(io, job);
}

TEST_CASE("a storm of 64 exports, half cancelled at random moments: every job final and clean", "[faults]") {
  asio::io_context io;
  auto engine = start_engine(io);
  std::vector<std::string> ids;
  std::vector<bool> cancel_taken(64, false);
  std::vector<engine::JobRecord> ended;
  test::run(io, [&]() -> asio::awaitable<void> {
    const engine::ExportRequest request{"users", "", engine::Compression::none, ""};
    for (int i = 0; i < 64; ++i) {
      auto started = co_await engine->start_export(request);
      ids.push_back(started.value().id);
    }
    std::mt19937 random(std::random_device{}());
    for (int i = 0; i < 64; i += 2) {  // each even job is cancelled after a random 0 to 3 s: queued, running or ended
      const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<>(0, 3000)(random));
      asio::co_spawn(io, [&, i, delay]() -> asio::awaitable<void> {
        asio::steady_timer moment(io, delay);
        co_await moment.async_wait(use_tuple);
        cancel_taken[i] = (co_await engine->cancel(ids[i])).value();
      }, asio::detached);
    }
    for (const auto& id : ids) {
      auto job = co_await engine->wait(id);
      ended.push_back(job.value());
    }
  }());

  const std::string expected = psql_csv(users_query);
  int cancelled = 0;
  for (int i = 0; i < 64; ++i) {
    const auto& job = ended[i];
    INFO("job " << i << " " << engine::to_string(job.status) << " " << job.error_message);
    if (job.status == JobStatus::cancelled) {
      ++cancelled;
      CHECK(cancel_taken[i]);
      CHECK(job.error_message == "cancelled");
      check_clean(io, job);
    } else {  // not cancelled, or too late: once CompleteMultipartUpload is sent, the export completes
      CHECK(job.status == JobStatus::completed);
      CHECK(object_bytes(io, job.s3_key) == expected);
    }
  }
  CHECK(cancelled > 0);
  CHECK(engine->metrics().buffer_bytes_in_use == 0);
  CHECK(engine->metrics().exports_running == 0);
}

TEST_CASE("CompleteMultipartUpload took effect but its answer was lost: the retry finds the object ours", "[faults]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto engine = start_engine(io, fault_config(proxy.endpoint()));
  proxy.lose_complete_answers(1);
  auto job = export_and_wait(io, *engine, {"four_parts", "", engine::Compression::none, ""});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.complete_answers_lost() == 1);
  CHECK(object_bytes(io, job.s3_key) == psql_csv(four_parts_query));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

TEST_CASE("an S3 that accepts and never answers: the status says which request is retried and why", "[faults]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.s3.io_timeout = 200ms;
  config.s3.retry = {3, std::chrono::milliseconds(10), std::chrono::milliseconds(50)};
  auto engine = start_engine(io, config);
  proxy.hang();
  std::string retrying;
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"four_parts", "", engine::Compression::none, ""};
    auto started = co_await engine->start_export(request);
    const std::string id = started.value().id;
    auto shown = [&]() -> asio::awaitable<bool> {
      auto job = co_await engine->find_job(id);
      retrying = (*job)->retrying;
      co_return !retrying.empty();
    };
    const bool seen = co_await poll_until(shown);
    CHECK(seen);
    auto ended = co_await engine->wait(id);
    co_return ended.value();
  }());
  CHECK_THAT(retrying, Catch::StartsWith("CreateMultipartUpload: ") && Catch::Contains("attempt 2 of 3"));
  CHECK(job.status == JobStatus::failed);
  CHECK(job.retrying.empty());
  check_clean(io, job);
}

TEST_CASE("a slow link: several parts in flight, in the right order, within the budget", "[faults][inflight]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(1000ms);  // each UploadPart takes a second: 5 MB/s a connection, far below the reader
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.buffer_budget = 6 * s3::min_part_size + 6 * engine::Compressor::max_overshoot;
  config.datasets.push_back({"twelve_parts", "SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 1200000) AS g", false});
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"twelve_parts", "", engine::Compression::none, ""});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.parts_at_once() > 1);
  CHECK(object_bytes(io, job.s3_key) ==
        psql_csv("SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 1200000) AS g"));
  CHECK(engine->metrics().buffer_bytes_peak <= config.buffer_budget);
}

TEST_CASE("one part in flight holds two buffers: the one uploading and the one filled next", "[faults][inflight]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(300ms);  // the reader fills each next part long before the upload ahead of it ends
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.max_parts_in_flight = 1;
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"four_parts", "", engine::Compression::none, ""});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.parts_at_once() == 1);
  CHECK(object_bytes(io, job.s3_key) == psql_csv(four_parts_query));
  CHECK(engine->metrics().buffer_bytes_peak <= 2 * (s3::min_part_size + engine::Compressor::max_overshoot));
}

TEST_CASE("a parallel export over a slow link: several parts in flight, in the right order", "[faults][inflight]") {
  psql("DROP TABLE IF EXISTS inflight_rows; "
       "CREATE TABLE inflight_rows AS SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 1200000) AS g");
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(1000ms);  // far below what two readers bring
  asio::io_context io;
  auto config = ranged_fault_config(proxy.endpoint(), "inflight_rows");
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, {"inflight_rows", "", engine::Compression::none, "", std::nullopt, 2});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.parts_at_once() > 2);  // grown while the uploads were the limit
  CHECK(object_bytes(io, job.s3_key) == psql_csv("SELECT * FROM inflight_rows"));
  CHECK(engine->metrics().buffer_bytes_peak <= config.buffer_budget);
  psql("DROP TABLE inflight_rows");
}

TEST_CASE("a part that fails while others are in flight is retried alone", "[faults][inflight]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(200ms);
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.datasets.push_back({"twelve_parts", "SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 1200000) AS g", false});
  auto engine = start_engine(io, config);
  proxy.go_away(6, 1);  // the sixth part's connection is dropped, once
  auto job = export_and_wait(io, *engine, {"twelve_parts", "", engine::Compression::none, ""});
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(proxy.requests_dropped() == 1);
  const int parts = static_cast<int>(job.bytes_uploaded / s3::min_part_size) + 1;
  CHECK(proxy.parts_forwarded() == parts);  // each part once through, the dropped one among them
  CHECK(object_bytes(io, job.s3_key) ==
        psql_csv("SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 1200000) AS g"));
}

TEST_CASE("a cancel with parts in flight leaves no object and no open upload", "[faults][inflight]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(500ms);
  asio::io_context io;
  auto engine = start_engine(io, fault_config(proxy.endpoint()));
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const engine::ExportRequest request{"slow", "", engine::Compression::none, ""};
    auto started = co_await engine->start_export(request);
    auto several = [&]() -> asio::awaitable<bool> { co_return proxy.parts_at_once() >= 2; };
    const bool in_flight = co_await poll_until(several);
    CHECK(in_flight);
    const bool cancelling = (co_await engine->cancel(started.value().id)).value();
    CHECK(cancelling);
    auto ended = co_await engine->wait(started.value().id);
    co_return ended.value();
  }());
  CHECK(job.status == JobStatus::cancelled);
  check_clean(io, job);
  CHECK(engine->metrics().buffer_bytes_in_use == 0);
}

TEST_CASE("many exports over a slow link with a tiny budget: all complete, the budget never exceeded",
          "[faults][inflight]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(100ms);
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.buffer_budget = 3 * s3::min_part_size;
  auto engine = start_engine(io, config);
  std::vector<engine::JobRecord> jobs(6);
  test::run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const engine::ExportRequest request{"four_parts", "", engine::Compression::none, ""};
      auto started = co_await engine->start_export(request);
      ids.push_back(started.value().id);
    }
    for (std::size_t i = 0; i < ids.size(); ++i) jobs[i] = (co_await engine->wait(ids[i])).value();
  }());
  const std::string expected = psql_csv(four_parts_query);
  for (const auto& job : jobs) {
    INFO(job.error_message);
    CHECK(job.status == JobStatus::completed);
    CHECK(object_bytes(io, job.s3_key) == expected);
  }
  CHECK(engine->metrics().buffer_bytes_peak <= config.buffer_budget);
  CHECK(engine->metrics().buffer_bytes_in_use == 0);
}

TEST_CASE("parallel and split exports at once over a slow link share the budget without waiting on each other "
          "forever", "[faults][inflight][admission]") {
  psql("CREATE TABLE IF NOT EXISTS admission_rows AS SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 600000) AS g");
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  proxy.delay_parts(300ms);  // the readers fill their pieces long before the writers can hand parts on
  asio::io_context io;
  auto config = ranged_fault_config(proxy.endpoint(), "admission_rows");
  auto engine = start_engine(io, config);
  std::vector<engine::ExportRequest> requests;
  // Alone, each fits the budget; together, their readers could fill it several times over with pieces.
  for (int i = 0; i < 3; ++i) requests.push_back({"admission_rows", "", engine::Compression::none, "", std::nullopt, 3});
  for (int i = 0; i < 3; ++i)
    requests.push_back({"admission_rows", "", engine::Compression::none, "", std::nullopt, 1, 16 * 1024 * 1024});
  std::vector<engine::JobRecord> jobs;
  test::run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::string> ids;
    for (const auto& request : requests) ids.push_back((co_await engine->start_export(request)).value().id);
    // Stuck exports would wait forever: past this, the ones still running are cancelled and fail the test.
    asio::steady_timer deadline(co_await asio::this_coro::executor, 120s);
    deadline.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      FAIL_CHECK("the exports had not ended after 120 s");
      for (const auto& id : ids) asio::co_spawn(io, [&, id]() -> asio::awaitable<void> { co_await engine->cancel(id); }, asio::detached);
    });
    for (const auto& id : ids) jobs.push_back((co_await engine->wait(id)).value());
    deadline.cancel();
  }());
  const std::string expected = psql_csv("SELECT * FROM admission_rows");
  for (const auto& job : jobs) {
    INFO(job.error_message);
    REQUIRE(job.status == JobStatus::completed);
    if (job.max_file_size == 0) CHECK(object_bytes(io, job.s3_key) == expected);
    else CHECK(job.files.value_or(0) >= 2);
  }
  CHECK(engine->metrics().buffer_bytes_peak <= config.buffer_budget);
  CHECK(engine->metrics().buffer_bytes_in_use == 0);
}

TEST_CASE("a job of the queue whose S3 was away past the retry window goes back PENDING and completes on its next "
          "attempt", "[faults][transient]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto config = fault_config(proxy.endpoint());
  config.datasets = {{"four_parts_queued", four_parts_query, false}};  // claims none of other tests' jobs
  config.jobs.claim_jobs = true;
  config.jobs.poll_interval = 50ms;
  config.jobs.retry_backoff = 1s;  // S3 comes back meanwhile
  proxy.go_away(1, -1);
  // A claiming engine keeps the loop busy while it lives: it ends inside the task.
  auto job = test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    const auto executor = co_await asio::this_coro::executor;
    auto started = co_await engine::Engine::start(executor, config);
    auto engine = std::move(started).value();
    const engine::ExportRequest request{"four_parts_queued", "", engine::Compression::none, ""};
    const std::string id = (co_await engine->start_export(request)).value().id;
    auto handed_back = [&]() -> asio::awaitable<bool> {
      auto found = co_await engine->find_job(id);
      co_return found && *found && !(*found)->errors.empty();
    };
    const bool retried = co_await poll_until(handed_back);
    CHECK(retried);
    proxy.come_back();
    co_return (co_await engine->wait(id)).value();
  }());
  INFO(job.error_message);
  CHECK(job.status == JobStatus::completed);
  CHECK(job.attempt >= 2);  // an attempt, not the process, was what the fault cost
  REQUIRE_FALSE(job.errors.empty());
  CHECK_THAT(job.errors[0], Catch::Contains("attempt 1") && Catch::Contains("UploadPart"));
  CHECK(object_bytes(io, job.s3_key) == psql_csv(four_parts_query));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
}

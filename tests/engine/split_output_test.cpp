// Split output against the real PostgreSQL and RGW: files of at most maxFileSize, each complete with its
// header, whose rows in manifest order are one COPY's; a manifest Redshift's COPY reads, written last;
// nothing left of an export that fails or is cancelled.
#include "engine/detail/manifest.hpp"
#include "engine/engine.hpp"
#include "pg/connection.hpp"
#include "tests/engine/engine_helpers.hpp"
#include "tests/support/s3_fault_proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <filesystem>
#include <functional>
#include <set>

using namespace pg2s3;
using namespace pg2s3::test;
using engine::Compression;
using engine::JobStatus;

namespace {

const std::string users_copy = "SELECT id, email, name, created_at FROM users";
const std::string header = "id,email,name,created_at\n";

engine::EngineConfig split_config() {
  auto config = ranged_engine_config();
  config.datasets.push_back(users_table_dataset("split_users", "users"));
  config.datasets.push_back(users_table_dataset("split_slow", "users", "id % 500 <> 0 OR pg_sleep(0.02) IS NOT NULL"));
  config.datasets.push_back(users_table_dataset("split_pause", "users", "id <> 1000 OR pg_sleep(2) IS NOT NULL"));
  config.datasets.push_back({"wide_row", "SELECT repeat('x', 5000) AS wide", false});
  return config;
}

engine::ExportRequest split_request(std::string dataset, std::uint64_t max_file_size, int parallelism = 1,
                                    Compression compression = Compression::none, std::string output = {}) {
  return {std::move(dataset), "", compression, std::move(output), std::nullopt, parallelism, max_file_size};
}

const char* decompressor(Compression compression) {
  return compression == Compression::gzip ? "gunzip" : compression == Compression::zstd ? "zstd -d" : "cat";
}

// The object's bytes as its consumer reads them.
std::string plain(asio::io_context& io, const std::string& key, Compression compression) {
  const std::string file = scratch_file("split-object");
  {
    std::ofstream(file, std::ios::binary) << object_bytes(io, key);
  }
  return command_output(std::string(decompressor(compression)) + " < " + file);
}

// CSV records: line ends outside quotes (a field may hold line breaks; a doubled quote toggles twice).
std::int64_t csv_records(std::string_view text) {
  std::int64_t records = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (c == '\n' && !quoted) ++records;
  }
  return records;
}

// Checks every file the manifest lists and returns their rows, in manifest order, without their headers.
std::string rows_of_files(asio::io_context& io, const engine::JobRecord& job, std::uint64_t limit) {
  const std::string manifest = object_bytes(io, job.manifest_key);
  auto files = engine::detail::manifest_files(manifest, bucket());
  REQUIRE(files);
  CHECK(static_cast<int>(files->size()) == job.files.value_or(-1));
  std::string rows;
  std::int64_t records = 0;
  for (std::size_t index = 0; index < files->size(); ++index) {
    const auto& file = (*files)[index];
    char name[32];
    std::snprintf(name, sizeof name, "/part-%05zu", index);
    CHECK(file.key == job.s3_key + name + std::string(engine::file_extension(engine::Format::csv, job.compression)));
    CHECK(file.bytes <= limit);
    CHECK(object_bytes(io, file.key).size() == file.bytes);
    const std::string text = plain(io, file.key, job.compression);
    REQUIRE(text.starts_with(header));
    CHECK(csv_records(text) == file.records + 1);
    rows += text.substr(header.size());
    records += file.records;
  }
  CHECK(records == job.processed_records);
  return rows;
}

bool nothing_under(asio::io_context& io, const engine::JobRecord& job) {
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const bool uploads = !test::run(io, client.list_multipart_uploads(bucket(), job.s3_key + "/")).value().empty();
  return !uploads && !object_exists(io, job.manifest_key) &&
         !object_exists(io, job.s3_key + "/part-00000.csv") && !object_exists(io, job.s3_key + "/part-00001.csv");
}

// Starts the export, runs `stop(id)` once it has finished a file, and returns its final record.
template <class Stop>
engine::JobRecord stopped_after_a_file(asio::io_context& io, engine::Engine& engine, engine::ExportRequest request, Stop stop) {
  return test::run(io, [&]() -> asio::awaitable<engine::JobRecord> {
    auto started = co_await engine.start_export(request);
    const std::string id = started.value().id;
    auto a_file_written = [&]() -> asio::awaitable<bool> {
      auto job = co_await engine.find_job(id);
      co_return job && *job && (*job)->files.value_or(0) > 0;
    };
    const bool written = co_await poll_until(a_file_written);
    REQUIRE(written);
    co_await stop(id);
    auto ended = co_await engine.wait(id);
    co_return ended.value();
  }());
}

// The keys of every object under `prefix`/.
std::set<std::string> keys_under(asio::io_context& io, const std::string& prefix) {
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  std::set<std::string> keys;
  for (const auto& object : test::run(io, client.list_objects(bucket(), prefix + "/")).value()) keys.insert(object.key);
  return keys;
}

// A split export as a killed process leaves it: RUNNING with its lease past, files under its prefix (one
// numbered past any the next attempt writes) and a manifest it should never have had.
std::string dead_split_export(asio::io_context& io, int attempt, std::uint64_t max_file_size) {
  const std::string id = engine::new_job_id(), prefix = "exports/" + id;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  for (const char* name : {"/part-00000.csv", "/part-00001.csv", "/part-09999.csv", "/manifest.json"})
    test::run(io, client.put_object(bucket(), prefix + name, "left by a dead attempt\n")).value();
  test::psql("INSERT INTO export_jobs (id, dataset, status, s3_key, manifest_key, max_file_size, created_at, started_at, "
             "attempt, max_attempts, runner, lease_token, lease_expires_at) VALUES ('" + id + "', 'split_users', "
             "'RUNNING', '" + prefix + "', '" + prefix + "/manifest.json', " + std::to_string(max_file_size) +
             ", now(), now(), " + std::to_string(attempt) + ", 3, 'gone-host:1', gen_random_uuid(), "
             "now() - interval '1 second')");
  return id;
}

}  // namespace

TEST_CASE("files of at most maxFileSize hold one COPY's rows in manifest order, with each compression", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  const std::string rows = psql_csv(users_copy).substr(header.size());
  constexpr std::uint64_t limit = 512 * 1024;
  for (int parallelism : {1, 2, 4}) {
    for (auto compression : {Compression::none, Compression::gzip, Compression::zstd}) {
      auto job = export_and_wait(io, *engine, split_request("split_users", limit, parallelism, compression));
      INFO("parallelism " << parallelism << ", " << engine::to_string(compression) << ": " << job.error_message);
      REQUIRE(job.status == JobStatus::completed);
      CHECK(job.s3_key == "exports/" + job.id);
      CHECK(job.manifest_key == "exports/" + job.id + "/manifest.json");
      CHECK(job.files > 1);
      CHECK(rows_of_files(io, job, limit) == rows);
    }
  }
}

TEST_CASE("the manifest has Redshift's entries and pg2s3's own fields", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  auto job = export_and_wait(io, *engine, split_request("split_users", 2 * 1024 * 1024, 2));
  REQUIRE(job.status == JobStatus::completed);
  simdjson::dom::parser parser;
  const std::string text = object_bytes(io, job.manifest_key);
  simdjson::dom::element manifest = parser.parse(text);
  CHECK(std::int64_t(manifest["version"]) == 1);
  CHECK(std::string_view(manifest["jobId"]) == job.id);
  CHECK(std::string_view(manifest["format"]) == "csv");
  CHECK(std::string_view(manifest["compression"]) == "none");
  CHECK(std::int64_t(manifest["totalRecords"]) == 100000);
  CHECK(std::uint64_t(manifest["totalBytes"]) == job.bytes_uploaded);
  CHECK_FALSE(std::string_view(manifest["snapshot"]).empty());
  std::vector<std::string> columns;
  for (auto column : manifest["columns"].get_array())
    columns.push_back(std::string(std::string_view(column["name"])) + " " + std::string(std::string_view(column["type"])));
  CHECK(columns == std::vector<std::string>{"id int8", "email text", "name text", "created_at timestamptz"});
  auto entries = manifest["entries"].get_array();
  CHECK(entries.size() == static_cast<std::size_t>(*job.files));
  auto first = entries.at(0);
  CHECK(std::string_view(first["url"]) == "s3://" + bucket() + "/" + job.s3_key + "/part-00000.csv");
  CHECK(bool(first["mandatory"]));
  CHECK(std::uint64_t(first["meta"]["content_length"]) == object_bytes(io, job.s3_key + "/part-00000.csv").size());

  auto downloads = test::run(io, engine->file_downloads(job)).value();
  REQUIRE(downloads.size() == entries.size());
  CHECK(command_output("curl -sf '" + downloads[1].url.url + "'") == object_bytes(io, downloads[1].key));
  CHECK(command_output("curl -sf '" + engine->download_url(job).value().url + "'") == text);
}

TEST_CASE("a tiny maxFileSize cuts hundreds of files, every one complete", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  constexpr std::uint64_t limit = 16 * 1024;
  auto job = export_and_wait(io, *engine, split_request("split_users", limit, 2));
  REQUIRE(job.status == JobStatus::completed);
  CHECK(job.files > 300);
  CHECK(rows_of_files(io, job, limit) == psql_csv(users_copy).substr(header.size()));
}

TEST_CASE("split output to a local directory: the same files and a manifest of their paths", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  const std::string directory = scratch_file("split-output");
  auto job = export_and_wait(io, *engine, split_request("split_users", 1024 * 1024, 4, Compression::none, directory));
  REQUIRE(job.status == JobStatus::completed);
  auto files = engine::detail::manifest_files(command_output("cat " + directory + "/manifest.json"), "");
  REQUIRE(files);
  std::string rows;
  for (const auto& file : *files) {
    CHECK(std::filesystem::file_size(file.key) == file.bytes);
    rows += command_output("tail -n +2 " + file.key);
  }
  CHECK(rows == psql_csv(users_copy).substr(header.size()));
  std::filesystem::remove_all(directory);
}

TEST_CASE("a split export whose reader fails after files were written leaves none of them", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  auto terminate_a_reader = [&](std::string) -> asio::awaitable<void> {
    auto admin = (co_await pg::Connection::connect(co_await asio::this_coro::executor, database_url())).value();
    auto result = co_await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
                                       "'COPY%pg_sleep%' AND pid <> pg_backend_pid() LIMIT 1");
    CHECK(result.value().rows() == 1);
  };
  auto job = stopped_after_a_file(io, *engine, split_request("split_slow", 256 * 1024, 4), terminate_a_reader);
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("terminating connection"));
  CHECK(nothing_under(io, job));
}

TEST_CASE("a split export cancelled after files were written leaves none of them", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  auto cancel = [&](std::string id) -> asio::awaitable<void> { CHECK((co_await engine->cancel(id)).value()); };
  auto job = stopped_after_a_file(io, *engine, split_request("split_slow", 256 * 1024, 1), cancel);
  CHECK(job.status == JobStatus::cancelled);
  CHECK(nothing_under(io, job));
}

TEST_CASE("a split export whose cleanup S3 refused keeps it on record, and the sweep finishes it once S3 is back",
          "[split][faults]") {
  S3FaultProxy proxy(service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto config = split_config();
  config.s3.endpoint = proxy.endpoint();
  config.s3.retry = {3, std::chrono::milliseconds(10), std::chrono::milliseconds(50)};
  config.sweep_interval = std::chrono::milliseconds(20);
  engine::JobRecord ended, swept;
  bool files_left_while_away = false;
  test::run(io, [&]() -> asio::awaitable<void> {  // one coroutine: the periodic sweep lives as long as the engine
    const auto executor = io.get_executor();  // named: async/README.md, GCC 12
    auto started_engine = co_await engine::Engine::start(executor, config);
    auto engine = std::move(started_engine.value());
    auto started = co_await engine->start_export(split_request("split_slow", 256 * 1024, 1));
    const std::string id = started.value().id;
    auto a_file_written = [&]() -> asio::awaitable<bool> {
      auto job = co_await engine->find_job(id);
      co_return job && *job && (*job)->files.value_or(0) > 0;
    };
    const bool written = co_await poll_until(a_file_written);
    REQUIRE(written);
    proxy.go_away(0, -1);  // from now on the open file's abort and the deletes fail too
    auto cancelled = co_await engine->cancel(id);
    CHECK(cancelled.has_value());
    ended = (co_await engine->wait(id)).value();
    auto direct = s3::Client::create(executor, rgw_config()).value();
    auto objects = co_await direct.list_objects(bucket(), ended.s3_key + "/");
    files_left_while_away = !objects.value().empty();

    proxy.come_back();
    auto cleaned_up = [&]() -> asio::awaitable<bool> {
      auto job = co_await engine->find_job(id);
      swept = **job;
      co_return swept.upload_id.empty();
    };
    const bool forgotten = co_await poll_until(cleaned_up);
    CHECK(forgotten);
  }());
  // Cancelled, or failed by S3 going away before the cancel was seen: either way it did not complete.
  CHECK((ended.status == JobStatus::cancelled || ended.status == JobStatus::failed));
  CHECK_FALSE(ended.upload_id.empty());  // before: nothing on record, and the files stayed for good
  CHECK(files_left_while_away);
  CHECK(nothing_under(io, ended));
  CHECK(keys_under(io, ended.s3_key).empty());
}

TEST_CASE("what a dead process's split export left is gone before its next attempt, and once its attempts are spent",
          "[split]") {
  asio::io_context io;
  constexpr std::uint64_t limit = 1024 * 1024;
  const std::string retried = dead_split_export(io, 1, limit), spent = dead_split_export(io, 3, limit);
  auto config = split_config();
  config.jobs.claim_jobs = true;  // so that the rescued job runs here again
  config.jobs.retry_backoff = std::chrono::milliseconds(0);
  config.jobs.poll_interval = std::chrono::milliseconds(100);
  // A claiming engine keeps the loop busy while it lives: it ends inside the task.
  auto [failed, job] = test::run(io, [&]() -> asio::awaitable<std::pair<engine::JobRecord, engine::JobRecord>> {
    const auto executor = co_await asio::this_coro::executor;
    auto started = co_await engine::Engine::start(executor, config);  // rescues at start-up
    auto engine = std::move(started).value();
    auto found = co_await engine->find_job(spent);
    auto ended = co_await engine->wait(retried);
    co_return std::pair{found.value().value(), ended.value()};
  }());
  CHECK(failed.status == JobStatus::failed);
  CHECK(keys_under(io, "exports/" + spent).empty());
  INFO(job.error_message);
  REQUIRE(job.status == JobStatus::completed);
  CHECK(job.attempt == 2);
  CHECK(rows_of_files(io, job, limit) == psql_csv(users_copy).substr(header.size()));
  auto files = engine::detail::manifest_files(object_bytes(io, job.manifest_key), bucket()).value();
  std::set<std::string> expected{job.manifest_key};
  for (const auto& file : files) expected.insert(file.key);
  CHECK(keys_under(io, job.s3_key) == expected);  // nothing of the dead attempt's
}

namespace {

// Starts the export and, once `co_await ready(id)` holds, takes its lease as another process's attempt
// would, then runs `also(id)`; returns the job's id once its export has stopped.
template <class Ready>
std::string taken_over_when(asio::io_context& io, engine::Engine& engine, engine::ExportRequest request, Ready ready,
                            std::function<asio::awaitable<void>(const std::string&)> also = {}) {
  return test::run(io, [&]() -> asio::awaitable<std::string> {
    auto started = co_await engine.start_export(request);
    const std::string id = started.value().id;
    auto is_ready = [&]() { return ready(id); };
    const bool readied = co_await poll_until(is_ready);
    REQUIRE(readied);
    test::psql("UPDATE export_jobs SET lease_token = gen_random_uuid() WHERE id = '" + id + "'");
    if (also) co_await also(id);
    auto stopped = [&]() -> asio::awaitable<bool> { co_return engine.metrics().exports_running == 0; };
    const bool ended = co_await poll_until(stopped);
    REQUIRE(ended);
    co_return id;
  }());
}

// What the attempt that took the job over would do at last: its files deleted, the job ended.
void end_taken_over(asio::io_context& io, const std::string& id) {
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  for (const auto& key : keys_under(io, "exports/" + id)) test::run(io, client.delete_object(bucket(), key)).value();
  test::psql("UPDATE export_jobs SET status = 'FAILED', finished_at = now(), lease_token = NULL WHERE id = '" + id + "'");
}

bool no_upload_under(asio::io_context& io, const std::string& prefix) {
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  return test::run(io, client.list_multipart_uploads(bucket(), prefix)).value().empty();
}

}  // namespace

TEST_CASE("a split export whose lease another attempt took stops, leaving the files under their keys alone",
          "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  auto a_file_written = [&](const std::string& id) -> asio::awaitable<bool> {
    auto job = co_await engine->find_job(id);
    co_return job && *job && (*job)->files.value_or(0) > 0;
  };
  const auto id = taken_over_when(io, *engine, split_request("split_slow", 256 * 1024, 1), a_file_written);
  const std::string prefix = "exports/" + id;
  CHECK(object_exists(io, prefix + "/part-00000.csv"));  // the keys the other attempt writes too
  CHECK(no_upload_under(io, prefix + "/"));  // its own: aborted
  end_taken_over(io, id);
}

TEST_CASE("a split export confirms its lease before each file appears, not only before the last", "[split]") {
  asio::io_context io;
  auto config = split_config();
  config.progress_interval = std::chrono::hours(1);  // no heartbeat between: only that confirmation can see it
  auto engine = start_engine(io, config);
  auto in_the_first_file = [](const std::string&) -> asio::awaitable<bool> {  // its backend sleeps at row 1000
    co_return test::psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE "
                         "'COPY%id <> 1000%'") != "0\n";
  };
  const auto id = taken_over_when(io, *engine, split_request("split_pause", 256 * 1024, 1), in_the_first_file);
  const std::string prefix = "exports/" + id;
  CHECK(keys_under(io, prefix).empty());  // not even the first file, under a key the other attempt writes
  CHECK(no_upload_under(io, prefix + "/"));
  end_taken_over(io, id);
}

TEST_CASE("a split export that learns of the takeover from S3, not from a heartbeat, leaves the files alone",
          "[split]") {
  asio::io_context io;
  auto config = split_config();
  config.progress_interval = std::chrono::hours(1);  // no heartbeat: the aborted upload is the first sign
  auto engine = start_engine(io, config);
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  auto next_file_open = [&](const std::string& id) -> asio::awaitable<bool> {
    auto job = co_await engine->find_job(id);
    if (!job || !*job || (*job)->files.value_or(0) == 0) co_return false;
    auto uploads = co_await client.list_multipart_uploads(bucket(), "exports/" + id + "/");
    co_return uploads && !uploads->empty();
  };
  // What the process that took the job over does first: it aborts the upload the dead attempt left open.
  // As the rescuer does, it takes NoSuchUpload as done: between the listing and the abort the file may
  // have been completed, or the attempt (its heartbeat rung by the file's new upload id) may have learnt
  // of the takeover and aborted it itself.
  auto abort_its_upload = [&](const std::string& id) -> asio::awaitable<void> {
    auto uploads = co_await client.list_multipart_uploads(bucket(), "exports/" + id + "/");
    REQUIRE(uploads.has_value());
    for (const auto& upload : *uploads) {
      auto aborted = co_await client.abort_multipart_upload(bucket(), upload.key, upload.upload_id);
      REQUIRE((aborted.has_value() || aborted.error().s3_code == "NoSuchUpload"));
    }
  };
  const auto id = taken_over_when(io, *engine, split_request("split_slow", 256 * 1024, 1), next_file_open, abort_its_upload);
  const std::string prefix = "exports/" + id;
  CHECK(object_exists(io, prefix + "/part-00000.csv"));  // under a key the attempt that took over writes
  CHECK(no_upload_under(io, prefix + "/"));
  end_taken_over(io, id);
}

TEST_CASE("a split output is refused or fails cleanly where it cannot work", "[split]") {
  asio::io_context io;
  auto engine = start_engine(io, split_config());
  for (std::uint64_t size : {std::uint64_t{1023}, std::uint64_t{(5ull << 40) + 1}}) {
    auto refused = test::run(io, engine->start_export(split_request("split_users", size)));
    REQUIRE_FALSE(refused.has_value());
    CHECK_THAT(refused.error().message, Catch::Contains("maxFileSize must be from 1KiB to 5TiB"));
  }
  auto parquet = split_request("split_users", 1 << 20);
  parquet.format = engine::Format::parquet;
  auto refused = test::run(io, engine->start_export(parquet));
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().message, Catch::Contains("Parquet"));

  auto job = export_and_wait(io, *engine, split_request("wide_row", 4096));
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("do not fit in maxFileSize (4096 bytes)"));
  CHECK(nothing_under(io, job));
}

TEST_CASE("a split export that would write more files than the cap fails, leaving none", "[split]") {
  asio::io_context io;
  auto config = split_config();
  config.max_split_files = 3;
  auto engine = start_engine(io, config);
  auto job = export_and_wait(io, *engine, split_request("split_users", 1 << 20));  // about 7 files
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("more than 3 files of maxFileSize (1048576 bytes)"));
  CHECK(nothing_under(io, job));
  auto fits = export_and_wait(io, *engine, split_request("split_users", 4 << 20));
  CHECK(fits.status == JobStatus::completed);
  CHECK(fits.files == 2);
}

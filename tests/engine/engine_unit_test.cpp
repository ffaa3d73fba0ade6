// The engine's plain logic: job rules, keys, estimates, part sizes, compression, the buffer pool, settings, JSON.
#include "app/export_command.hpp"
#include "app/settings.hpp"
#include "engine/buffer_pool.hpp"
#include "engine/compressor.hpp"
#include "engine/detail/export_pipeline.hpp"
#include "engine/detail/in_flight_limit.hpp"
#include "engine/detail/manifest.hpp"
#include "engine/detail/page_ranges.hpp"
#include "engine/detail/part_plan.hpp"
#include "engine/detail/row_estimate.hpp"
#include "engine/detail/split_output.hpp"
#include "engine/engine.hpp"
#include "http/json.hpp"
#include "tests/support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>

using namespace pg2s3;
using namespace pg2s3::engine;
namespace asio = boost::asio;

TEST_CASE("progress stays within 0..99 until COMPLETED and is 100 then", "[job]") {
  JobRecord job;
  job.status = JobStatus::running;
  CHECK(progress_percent(job) == 0);  // no estimate yet
  job.total_records = 1000;
  job.processed_records = 500;
  CHECK(progress_percent(job) == 50);
  job.processed_records = 1000;
  CHECK(progress_percent(job) == 99);
  job.processed_records = 5000;  // the planner underestimated
  CHECK(progress_percent(job) == 99);
  job.status = JobStatus::completed;
  CHECK(progress_percent(job) == 100);
}

TEST_CASE("job states move forward only", "[job]") {
  CHECK(can_transition(JobStatus::pending, JobStatus::running));
  CHECK(can_transition(JobStatus::pending, JobStatus::cancelled));
  CHECK_FALSE(can_transition(JobStatus::pending, JobStatus::completed));
  CHECK(can_transition(JobStatus::running, JobStatus::completed));
  CHECK(can_transition(JobStatus::running, JobStatus::failed));
  CHECK_FALSE(can_transition(JobStatus::completed, JobStatus::failed));
  CHECK_FALSE(can_transition(JobStatus::cancelled, JobStatus::running));
  CHECK(parse_job_status("RUNNING") == JobStatus::running);
  CHECK_FALSE(parse_job_status("running"));
}

TEST_CASE("job ids are random version 4 UUIDs", "[job]") {
  const auto id = new_job_id();
  CHECK(is_job_id(id));
  CHECK(id[14] == '4');
  CHECK(std::string("89ab").find(id[19]) != std::string::npos);
  CHECK(new_job_id() != id);
  CHECK_FALSE(is_job_id("not-a-uuid"));
  CHECK_FALSE(is_job_id("123e4567-e89b-12d3-a456-42661417400z"));
  CHECK(iso8601(TimePoint(std::chrono::seconds(1768298400))) == "2026-01-13T10:00:00Z");
}

TEST_CASE("object keys stay under the prefix and refuse what could escape it", "[keys]") {
  CHECK(object_key("", "exports/", "id", Format::csv, Compression::gzip).value() == "exports/id.csv.gz");
  CHECK(object_key("", "exports/", "id", Format::parquet, Compression::zstd).value() == "exports/id.parquet");
  CHECK(object_key("mine.csv", "exports/", "id", Format::csv, Compression::none).value() == "exports/mine.csv");
  CHECK(object_key("exports/a/b.csv", "exports/", "id", Format::csv, Compression::none).value() == "exports/a/b.csv");
  const std::string bad_keys[] = {"/abs.csv", "../up.csv", "a/../../b", "..", "a/..", "tab\tkey",
                                  std::string("nul\0key", 7), std::string(1100, 'k')};
  for (const auto& bad : bad_keys) {
    auto key = object_key(bad, "exports/", "id", Format::csv, Compression::none);
    REQUIRE_FALSE(key.has_value());
    CHECK(key.error().code == errc::invalid_request);
  }
}

TEST_CASE("formats and their compressions: defaults, extensions, content types, snappy only for Parquet", "[format]") {
  CHECK(default_compression(Format::csv) == Compression::none);
  CHECK(default_compression(Format::parquet) == Compression::zstd);
  for (auto compression : {Compression::none, Compression::snappy, Compression::gzip, Compression::zstd}) {
    CHECK_FALSE(refuse_compression(Format::parquet, compression));
    CHECK(file_extension(Format::parquet, compression) == ".parquet");
    CHECK(content_type(Format::parquet, compression) == "application/vnd.apache.parquet");
    CHECK(parse_compression(to_string(compression)) == compression);
  }
  CHECK_THAT(refuse_compression(Format::csv, Compression::snappy).value(), Catch::Contains("snappy"));
  for (auto compression : {Compression::none, Compression::gzip, Compression::zstd})
    CHECK_FALSE(refuse_compression(Format::csv, compression));
  CHECK(file_extension(Format::csv, Compression::zstd) == ".csv.zst");
  CHECK(content_type(Format::csv, Compression::none) == "text/csv");
  CHECK(parse_format("parquet") == Format::parquet);
  CHECK(parse_format("csv") == Format::csv);
  CHECK_FALSE(parse_format("PARQUET"));
  CHECK_FALSE(parse_compression("lz4"));
}

TEST_CASE("the planner's estimate is read from EXPLAIN (FORMAT JSON)", "[estimate]") {
  auto estimate = detail::plan_estimate(R"([{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 100000, "Plan Width": 40}}])");
  REQUIRE(estimate);
  CHECK(estimate->rows == 100000);
  CHECK(estimate->bytes() == 4'000'000u);
  CHECK_FALSE(detail::plan_estimate("not json"));
  CHECK_FALSE(detail::plan_estimate(R"([{"NoPlan": 1}])"));
  CHECK_FALSE(detail::plan_estimate(R"([{"Plan": {"Plan Rows": 5}}])")->bytes());
}

TEST_CASE("part sizes: chosen from the estimate, grown past a thousand parts, within S3's limits", "[parts]") {
  const std::size_t mib = 1024 * 1024;
  const std::uint64_t gib = 1024ull * mib;
  const std::size_t budget = 64 * mib;
  SECTION("an output the estimate calls small keeps the configured size and never grows within its parts") {
    auto plan = detail::PartPlan::choose(8 * mib, 3 * gib, budget);
    REQUIRE(plan.has_value());
    CHECK(plan->first_size() == 8 * mib);
    CHECK(plan->size_of(384) == 8 * mib);  // 3 GiB is 384 parts
    CHECK(plan->size_of(1000) == 8 * mib);
    CHECK(plan->size_of(1001) == 16 * mib);
  }
  SECTION("a large one starts at the size 10,000 parts need for twice the estimate, in whole MiB") {
    auto plan = detail::PartPlan::choose(8 * mib, 100 * gib, budget);
    REQUIRE(plan.has_value());
    CHECK(plan->first_size() == 21 * mib);
    CHECK(plan->first_size() * detail::max_parts >= 2 * 100 * gib);
  }
  SECTION("no estimate: the configured size") {
    CHECK(detail::PartPlan::choose(8 * mib, std::nullopt, budget)->first_size() == 8 * mib);
  }
  SECTION("an estimate past 5 TiB is refused at the start") {
    auto plan = detail::PartPlan::choose(8 * mib, 6 * 1024 * gib, 1024 * 1024 * mib);
    REQUIRE_FALSE(plan.has_value());
    CHECK(plan.error().code == errc::output_too_large);
    CHECK_THAT(plan.error().message, Catch::Contains("5 TiB") && Catch::Contains("maxFileSize"));
  }
  SECTION("parts that do not fit the budget are refused, naming it") {
    auto plan = detail::PartPlan::choose(8 * mib, 2048 * gib, budget);
    REQUIRE_FALSE(plan.has_value());
    CHECK(plan.error().code == errc::over_budget);
    CHECK_THAT(plan.error().message, Catch::Contains("buffer budget of 64 MiB"));
  }
  SECTION("more rows after the 10,000th part or past 5 TiB: refused as soon as known") {
    auto plan = detail::PartPlan::choose(5 * mib, std::nullopt, budget);
    CHECK_FALSE(plan->refuse_more(9'999, 100 * gib));
    auto parts = plan->refuse_more(10'000, 200 * gib);
    REQUIRE(parts);
    CHECK_THAT(parts->message, Catch::Contains("10,000 parts"));
    CHECK(plan->refuse_more(5'000, detail::max_object_size));
    std::uint64_t total = 0;  // growth lets an estimate that was far too small still reach 250 GiB
    for (std::size_t part = 1; part <= detail::max_parts; ++part) total += plan->size_of(part);
    CHECK(total >= 250 * gib);
    CHECK(plan->size_of(100'000'000) == detail::max_part_size);
  }
}

namespace {
std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  std::string out(compressed.size() * 20 + 1024, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  CHECK(inflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}
std::string unzstd(const std::string& compressed) {
  std::string out(ZSTD_getFrameContentSize(compressed.data(), compressed.size()) == ZSTD_CONTENTSIZE_UNKNOWN
                      ? compressed.size() * 20 + 1024 : 0, '\0');
  const auto size = ZSTD_decompress(out.data(), out.size(), compressed.data(), compressed.size());
  REQUIRE_FALSE(ZSTD_isError(size));
  out.resize(size);
  return out;
}
}  // namespace

TEST_CASE("gzip and zstd streams decompress to what went in, written piece by piece", "[compression]") {
  std::string csv;
  std::minstd_rand random(7);
  for (int row = 0; row < 20000; ++row) csv += std::to_string(row) + ",name " + std::to_string(random()) + "\n";
  for (auto compression : {Compression::gzip, Compression::zstd}) {
    auto compressor = Compressor::create(compression).value();
    std::string out;
    for (std::size_t at = 0; at < csv.size(); at += 7777)
      REQUIRE(compressor->write(std::string_view(csv).substr(at, 7777), out, false).has_value());
    REQUIRE(compressor->write({}, out, true).has_value());
    CHECK(out.size() < csv.size() / 2);
    CHECK((compression == Compression::gzip ? gunzip(out) : unzstd(out)) == csv);
  }
  std::string plain;
  REQUIRE(Compressor::create(Compression::none).value()->write("a,b\n", plain, true).has_value());
  CHECK(plain == "a,b\n");
}

TEST_CASE("the buffer pool lends within its budget and makes the next borrower wait", "[pool]") {
  asio::io_context io;
  BufferPool pool(io.get_executor(), 2 * 1024, 1024);
  std::vector<std::string> order;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await pool.acquire(1024);
    auto second = co_await pool.acquire(1024);
    CHECK(pool.bytes_in_use() == 2048);
    // It resumes after this coroutine (and the lambda object in its frame) is gone: it captures nothing and
    // keeps its references as parameters, in a frame of its own.
    auto third = [](BufferPool& pool, std::vector<std::string>& order) -> asio::awaitable<void> {
      auto lease = co_await pool.acquire(1024);  // waits: the budget is spent
      order.push_back("third got a buffer");
      CHECK(lease->bytes().capacity() >= 1024);
    };
    asio::co_spawn(co_await asio::this_coro::executor, third(pool, order), asio::detached);
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    CHECK(pool.waiting() == 1);
    order.push_back("first returned");
    { auto returned = std::move(*first); }
  }());
  CHECK(order == std::vector<std::string>{"first returned", "third got a buffer"});
  CHECK(pool.bytes_in_use() == 0);
  CHECK(pool.peak_bytes_held() <= pool.budget());
}

TEST_CASE("the buffer pool counts the bytes buffers hold and frees grown ones when they come back", "[pool]") {
  asio::io_context io;
  BufferPool pool(io.get_executor(), 64 * 1024, 8 * 1024);
  test::run(io, [&]() -> asio::awaitable<void> {
    {
      auto usual = co_await pool.acquire(8 * 1024);
      auto grown = co_await pool.acquire(40 * 1024);  // a part past the thousandth
      CHECK(pool.bytes_in_use() == 48 * 1024);
    }
    CHECK(pool.bytes_in_use() == 0);
    CHECK(pool.bytes_held() == 8 * 1024);  // the usual one is kept; the grown one is freed
    auto reused = co_await pool.acquire(8 * 1024);
    CHECK(pool.bytes_held() == 8 * 1024);
    // Room is made by freeing kept buffers rather than by going over the budget.
    auto large = co_await pool.acquire(56 * 1024);
    CHECK(pool.bytes_held() == 64 * 1024);
    auto too_large = co_await pool.acquire(65 * 1024);
    REQUIRE_FALSE(too_large.has_value());
    CHECK(too_large.error().code == errc::over_budget);
    CHECK_THAT(too_large.error().message, Catch::Contains("buffer budget of 1 MiB"));
  }());
  CHECK(pool.peak_bytes_held() == 64 * 1024);
  CHECK(pool.leases_overgrown() == 0);
}

TEST_CASE("a reservation counts against the budget without a buffer and leaves room for a part", "[pool]") {
  asio::io_context io;
  BufferPool pool(io.get_executor(), 64 * 1024, 8 * 1024);
  std::vector<std::string> order;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto part = co_await pool.acquire(8 * 1024);
    {
      auto writer = co_await pool.reserve(40 * 1024, 8 * 1024);
      CHECK(pool.bytes_in_use() == 48 * 1024);
      CHECK(pool.bytes_held() == 48 * 1024);
      // Another 16 KiB would leave less than a part beside it: it waits for the first to end. It resumes
      // after this coroutine is gone, so it keeps its references as parameters, in a frame of its own.
      auto second = [](BufferPool& pool, std::vector<std::string>& order) -> asio::awaitable<void> {
        auto reserved = co_await pool.reserve(16 * 1024, 8 * 1024);
        CHECK(reserved.has_value());
        order.push_back("second reserved");
      };
      asio::co_spawn(co_await asio::this_coro::executor, second(pool, order), asio::detached);
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      CHECK(pool.waiting() == 1);
      order.push_back("first ended");
    }
    auto too_large = co_await pool.reserve(60 * 1024, 8 * 1024);
    REQUIRE_FALSE(too_large.has_value());
    CHECK(too_large.error().code == errc::over_budget);
  }());
  CHECK(order == std::vector<std::string>{"first ended", "second reserved"});
  CHECK(pool.bytes_in_use() == 0);
  CHECK(pool.bytes_held() == 8 * 1024);  // the part buffer is kept for reuse; a reservation leaves nothing
  CHECK(pool.leases_overgrown() == 0);
}

TEST_CASE("a cancelled wait for a buffer takes none and leaves the queue", "[pool]") {
  asio::io_context io;
  BufferPool pool(io.get_executor(), 1024, 1024);
  asio::cancellation_signal cancel;
  std::optional<Result<BufferPool::Lease>> cancelled_wait;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto held = co_await pool.acquire(1024);
    asio::co_spawn(co_await asio::this_coro::executor,
                   [&]() -> asio::awaitable<void> { cancelled_wait.emplace(co_await pool.acquire(1024)); },
                   asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    CHECK(pool.waiting() == 1);
    cancel.emit(asio::cancellation_type::terminal);
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    CHECK(pool.waiting() == 0);
  }());
  REQUIRE(cancelled_wait);
  CHECK_FALSE(cancelled_wait->has_value());
  CHECK(pool.bytes_in_use() == 0);
}

TEST_CASE("settings: flags over environment over the config file over defaults", "[settings]") {
  const std::string path = test::scratch_file("settings.toml");
  {
    std::ofstream file(path);
    file << "[s3]\nbucket = \"from-file\"\nregion = \"eu-west-1\"\nrequest_timeout_ms = 1500\nmax_attempts = 4\n[server]\nlisten = \"127.0.0.1:1111\"\n"
            "[export]\npart_size_mib = 16\nmax_running = 3\n"
            "[[datasets]]\nname = \"orders\"\nquery = \"SELECT * FROM orders\"\nexact_count = true\n";
  }
  std::map<std::string, std::string> variables{{"PG2S3_S3_BUCKET", "from-env"}, {"PG2S3_LISTEN", "127.0.0.1:2222"},
                                               {"AWS_SECRET_ACCESS_KEY", "s3cr3t"}};
  app::Environment environment = [&](const char* name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
  auto loaded = app::load_settings({path, "127.0.0.1:3333"}, environment);
  REQUIRE(std::holds_alternative<app::Settings>(loaded));
  const auto& settings = std::get<app::Settings>(loaded);
  CHECK(settings.listen == "127.0.0.1:3333");           // flag
  CHECK(settings.engine.bucket == "from-env");           // environment over file
  CHECK(settings.engine.s3.scope.region == "eu-west-1");  // file over default
  CHECK(settings.engine.part_size == 16 * 1024 * 1024);
  CHECK(settings.engine.max_running_exports == 3);
  CHECK(settings.engine.max_parts_in_flight == 8);  // default
  CHECK(settings.engine.s3.io_timeout == std::chrono::milliseconds(1500));
  CHECK(settings.engine.s3.retry.max_attempts == 4);
  CHECK(settings.engine.sweep_interval == std::chrono::seconds(5));  // a server rescues; a bare EngineConfig does not
  CHECK(engine::EngineConfig{}.sweep_interval.count() == 0);
  CHECK_FALSE(engine::EngineConfig{}.jobs.claim_jobs);  // an embedded engine runs its own jobs only
  CHECK(settings.engine.jobs.lease == std::chrono::seconds(30));
  CHECK(settings.engine.jobs.max_attempts == 3);
  REQUIRE(settings.engine.datasets.size() == 1);
  CHECK(settings.engine.datasets[0].exact_count);

  variables["AWS_REGION"] = "ap-south-1";
  variables["PG2S3_S3_REGION"] = "us-west-2";
  CHECK(std::get<app::Settings>(app::load_settings({path, ""}, environment)).engine.s3.scope.region == "us-west-2");

  { std::ofstream(path) << "[export]\npart_size_mib = 1\n"; }
  auto too_small = app::load_settings({path, ""}, environment);
  REQUIRE(std::holds_alternative<std::string>(too_small));
  CHECK_THAT(std::get<std::string>(too_small), Catch::Contains("part_size_mib must be at least 5"));
  { std::ofstream(path) << "[s3\nbucket = 1"; }
  auto broken = app::load_settings({path, ""}, environment);
  REQUIRE(std::holds_alternative<std::string>(broken));
  CHECK_THAT(std::get<std::string>(broken), Catch::StartsWith("config file " + path));
  std::remove(path.c_str());
}

TEST_CASE("the status JSON has every field of the contract", "[json]") {
  JobRecord job;
  job.id = "123e4567-e89b-42d3-a456-426614174000";
  job.dataset = "users";
  job.status = JobStatus::running;
  job.total_records = 200;
  job.processed_records = 100;
  job.s3_key = "exports/x.csv";
  job.created_at = TimePoint(std::chrono::seconds(1768298400));
  job.attempt = 2;
  job.runner = "ip-10-0-1-5:4242";
  job.errors = {"attempt 1 on ip-10-0-1-7:17: its lease expired"};
  job.params = {{"tenant", "42"}, {"from", std::nullopt}};
  CHECK(http::job_status_json(job) ==
        R"({"id":"123e4567-e89b-42d3-a456-426614174000","dataset":"users","status":"RUNNING","format":"csv","totalRecords":200,)"
        R"("processedRecords":100,"progressPercent":50,"bytesUploaded":0,"s3Key":"exports/x.csv","errorMessage":null,)"
        R"("retrying":null,"stalledSeconds":null,"attempt":2,"maxAttempts":3,"runner":"ip-10-0-1-5:4242",)"
        R"("errors":["attempt 1 on ip-10-0-1-7:17: its lease expired"],"files":null,"manifestKey":null,)"
        R"("params":{"from":null,"tenant":"42"},)"
        R"("createdAt":"2026-01-13T10:00:00Z","startedAt":null,"finishedAt":null})");
  job.files = 3;
  job.manifest_key = "exports/x/manifest.json";
  CHECK_THAT(http::job_status_json(job), Catch::Contains(R"("files":3,"manifestKey":"exports/x/manifest.json",)"));
  CHECK(http::error_json("not_found", "no \"job\"") == R"({"error":"not_found","message":"no \"job\""})");
  // Bytes that are not UTF-8 (from a request target, say) become U+FFFD; valid sequences stay.
  CHECK(http::error_json("not_found", "a\xFF\xC3\xA9\xE2\x82") == "{\"error\":\"not_found\",\"message\":\"a\xEF\xBF\xBD\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\"}");
  CHECK(app::progress_line(job, 2.0) == "users  100/200 rows  50%  0.0 MB/s  ETA 0:02");
}

TEST_CASE("export options are read from an optional JSON body", "[json]") {
  auto options = [](std::string_view body) { return http::parse_export_options(body); };
  const auto empty = std::get<http::ExportOptions>(options(""));
  CHECK_FALSE(empty.compression);  // the engine chooses: the dataset's format, the format's compression
  CHECK_FALSE(empty.format);
  auto full = std::get<http::ExportOptions>(options(R"({"key":"a.csv.gz","compression":"gzip"})"));
  CHECK(full.key == "a.csv.gz");
  CHECK(full.compression == Compression::gzip);
  auto parquet = std::get<http::ExportOptions>(options(R"({"format":"parquet","compression":"snappy"})"));
  CHECK(parquet.format == Format::parquet);
  CHECK(parquet.compression == Compression::snappy);
  CHECK(std::get<http::ExportOptions>(options(R"({"format":"csv"})")).format == Format::csv);
  CHECK_THAT(std::get<std::string>(options(R"({"format":"orc"})")), Catch::Contains("csv or parquet, not \"orc\""));
  CHECK(std::get<std::string>(options(R"({"format":1})")) == "\"format\" must be a string");
  CHECK(std::get<std::string>(options(R"({"format":"csv","format":"parquet"})")) == "\"format\" is given twice");
  CHECK_THAT(std::get<std::string>(options(R"({"format":"Parquet"})")), Catch::Contains("not \"Parquet\""));
  CHECK(std::get<std::string>(options("{bad json")) == "the body is not a JSON object");
  CHECK(std::get<std::string>(options(R"({"key": 5})")) == "\"key\" must be a string");
  CHECK_THAT(std::get<std::string>(options(R"({"compression":"lz4"})")), Catch::Contains("not \"lz4\""));
  CHECK(std::get<std::string>(options(R"({"sql":"DROP TABLE users"})")) == "unknown field \"sql\"");
  CHECK(std::get<std::string>(options(R"({"key":"a.csv","key":"../b.csv"})")) == "\"key\" is given twice");
  CHECK(std::get<http::ExportOptions>(options(R"({"parallelism":4})")).parallelism == 4);
  for (const char* bad : {R"({"parallelism":0})", R"({"parallelism":65})", R"({"parallelism":"4"})", R"({"parallelism":2.5})"})
    CHECK(std::get<std::string>(options(bad)) == "\"parallelism\" must be a whole number from 1 to 64");
  CHECK(std::get<http::ExportOptions>(options(R"({"maxFileSize":"256MiB"})")).max_file_size == 256ull << 20);
  CHECK(std::get<http::ExportOptions>(options(R"({"maxFileSize":5000})")).max_file_size == 5000);
  CHECK_THAT(std::get<std::string>(options(R"({"maxFileSize":"big"})")), Catch::Contains("not \"big\""));
  CHECK_THAT(std::get<std::string>(options(R"({"maxFileSize":-1})")), Catch::Contains("a number of bytes"));
}

TEST_CASE("sizes are read as people write them", "[json]") {
  CHECK(engine::parse_byte_size("256MiB") == 256ull << 20);
  CHECK(engine::parse_byte_size("1GiB") == 1ull << 30);
  CHECK(engine::parse_byte_size("64KiB") == 64 * 1024);
  CHECK(engine::parse_byte_size("100MB") == 100'000'000);
  CHECK(engine::parse_byte_size("5000") == 5000);
  CHECK(engine::parse_byte_size("5TiB") == 5ull << 40);
  for (const char* bad : {"", "MiB", "12 MiB", "1.5GiB", "-1", "12mib", "99999999999TiB"}) CHECK_FALSE(engine::parse_byte_size(bad));
}

TEST_CASE("a manifest lists its files as Redshift's COPY reads them, and reads back", "[manifest]") {
  detail::Manifest manifest{"job-1", "users", "csv", "gzip", {{"id", "int8"}}, "00000003-0000001B-1",
                            {{"exports/job-1/part-00000.csv.gz", 100, 7}, {"exports/job-1/part-00001.csv.gz", 50, 3}}};
  const std::string json = detail::manifest_json(manifest, "bucket");
  CHECK(json ==
        R"({"version":1,"jobId":"job-1","dataset":"users","format":"csv","compression":"gzip",)"
        R"("columns":[{"name":"id","type":"int8"}],"snapshot":"00000003-0000001B-1","totalRecords":10,"totalBytes":150,)"
        R"("entries":[{"url":"s3://bucket/exports/job-1/part-00000.csv.gz","mandatory":true,"meta":{"content_length":100,"record_count":7}},)"
        R"({"url":"s3://bucket/exports/job-1/part-00001.csv.gz","mandatory":true,"meta":{"content_length":50,"record_count":3}}]})");
  auto files = detail::manifest_files(json, "bucket");
  REQUIRE(files);
  REQUIRE(files->size() == 2);
  CHECK((*files)[1].key == "exports/job-1/part-00001.csv.gz");
  CHECK((*files)[1].bytes == 50);
  CHECK((*files)[1].records == 3);
  CHECK_FALSE(detail::manifest_files(json, "other-bucket"));
  CHECK_FALSE(detail::manifest_files("{", "bucket"));
  CHECK_FALSE(detail::manifest_files(R"({"entries":[{"url":"s3://bucket/a","meta":{"content_length":-1,"record_count":1}}]})", "bucket"));
  CHECK(detail::split_file_key("exports/j", 12, Format::csv, Compression::zstd) == "exports/j/part-00012.csv.zst");
  CHECK(detail::manifest_key("exports/j") == "exports/j/manifest.json");
}

TEST_CASE("a table's pages are split into ranges of about the asked output, the last one open", "[ranges]") {
  using detail::split_pages;
  const auto ranges = split_pages(1000, 40'000'000, 8'000'000);  // 5 ranges of 200 pages
  REQUIRE(ranges.size() == 5);
  CHECK(ranges[0].first == 0);
  CHECK(ranges[0].end == 200);
  CHECK(ranges[3].end == 800);
  CHECK(ranges[4].first == 800);
  CHECK_FALSE(ranges[4].end);  // pages added after the count are read too
  for (std::size_t i = 1; i < ranges.size(); ++i) CHECK(ranges[i].first == *ranges[i - 1].end);
  CHECK(split_pages(3, 40'000'000, 8'000'000).size() == 3);  // never more ranges than pages
  const auto empty = split_pages(0, 0, 8'000'000);
  REQUIRE(empty.size() == 1);  // an empty table is still read once, for what it holds by then
  CHECK(empty[0].first == 0);
  CHECK_FALSE(empty[0].end);
  CHECK(split_pages(1000, std::nullopt, 8192 * 100).size() == 10);  // no estimate: a page's worth per page
}

TEST_CASE("a dataset's table becomes its query, and a range its ctid condition", "[ranges]") {
  engine::Dataset events;
  events.name = "events";
  events.table = "audit.Events";
  events.columns = {"id", "kind", "say \"hi\""};
  events.where = "kind <> 'debug'";
  CHECK(engine::table_query(events) ==
        R"(SELECT "id", "kind", "say ""hi""" FROM "audit"."Events" WHERE kind <> 'debug')");
  CHECK(detail::range_query(events, {10, 20}) ==
        R"(SELECT "id", "kind", "say ""hi""" FROM "audit"."Events" WHERE ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid AND (kind <> 'debug'))");
  events.columns.clear();
  events.where.clear();
  CHECK(detail::range_query(events, {30, std::nullopt}) == R"(SELECT * FROM "audit"."Events" WHERE ctid >= '(30,0)'::tid)");
  CHECK(engine::default_datasets().at(0).query == R"(SELECT "id", "email", "name", "created_at" FROM "users")");
}

TEST_CASE("parts in flight are what the reader's rate needs of one upload's, within the budget", "[inflight]") {
  using detail::InFlightLimit;
  using Measured = InFlightLimit::Measured;
  constexpr int room = 16;
  SECTION("a slow link: at once as many as the reader needs, with headroom") {
    InFlightLimit limit(8);
    limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, room);
    CHECK(limit.current() == 3);  // 85 / 40 MB/s, a quarter more: 2.7
    limit.window_ended(Measured{85e6, 0.0, 40e6, 85e6}, room);  // the reader is the limit now
    CHECK(limit.current() == 3);
  }
  SECTION("never more than the maximum") {
    InFlightLimit limit(4);
    limit.window_ended(Measured{200e6, 0.8, 10e6, 10e6}, room);
    CHECK(limit.current() == 4);
  }
  SECTION("a fast link: one upload outruns the reader, and no second part is tried") {
    InFlightLimit limit(8);
    for (int window = 0; window < 10; ++window) limit.window_ended(Measured{85e6, 0.0, 300e6, 85e6}, room);
    CHECK(limit.current() == 1);
  }
  SECTION("uploads that share one bottleneck: a step that bought nothing is undone, and held a while") {
    InFlightLimit limit(8);
    limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, room);
    CHECK(limit.current() == 3);
    limit.window_ended(Measured{85e6, 0.5, 14e6, 41e6}, room);  // three at once carry what one did
    CHECK(limit.current() == 1);
    for (int window = 0; window < 8; ++window) limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, room);
    CHECK(limit.current() == 1);
    limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, room);  // then it tries again
    CHECK(limit.current() == 3);
  }
  SECTION("the reader slows down: fewer buffers do as well, one step at a time") {
    InFlightLimit limit(8);
    limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, room);
    limit.window_ended(Measured{85e6, 0.0, 40e6, 85e6}, room);
    limit.window_ended(Measured{20e6, 0.0, 40e6, 20e6}, room);
    CHECK(limit.current() == 2);
    limit.window_ended(Measured{20e6, 0.0, 40e6, 20e6}, room);
    CHECK(limit.current() == 1);
  }
  SECTION("a little more than needed is kept: one upload's rate varies") {
    InFlightLimit limit(8);
    limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, room);
    limit.window_ended(Measured{85e6, 0.0, 55e6, 85e6}, room);  // 85 / 55 MB/s: 1.5, half again: 2.3
    CHECK(limit.current() == 3);
  }
  SECTION("no further than the budget lends") {
    InFlightLimit limit(8);
    limit.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, 1);
    CHECK(limit.current() == 2);
    InFlightLimit spent(8);
    spent.window_ended(Measured{85e6, 0.5, 40e6, 40e6}, 0);
    CHECK(spent.current() == 1);
  }
}

TEST_CASE("parts in flight are decided once a window of parts has started, from what it measured", "[inflight]") {
  using detail::InFlightLimit;
  using namespace std::chrono_literals;
  InFlightLimit limit(8);
  auto now = InFlightLimit::Clock::time_point{};
  InFlightLimit::Clock::duration waited{};
  constexpr std::uint64_t part = 40'000'000;
  constexpr int room = 16;
  limit.part_started(now, part, waited, room);  // the first part starts the first window, one part long
  CHECK(limit.current() == 1);
  limit.part_uploaded(part, 1s);  // 40 MB/s per upload
  now += 1s;
  waited += 500ms;  // the reader filled a part in half a second, then waited for the upload
  limit.part_started(now, part, waited, room);
  CHECK(limit.current() == 3);  // 80 MB/s over 40, with headroom
  for (int started = 0; started < 5; ++started) {
    limit.part_uploaded(part, 1s);
    now += 500ms;  // three uploads at once keep up: the reader never waits
    limit.part_started(now, part, waited, room);
  }
  CHECK(limit.current() == 3);
  for (int started = 0; started < 5; ++started) {
    limit.part_uploaded(part, 100ms);  // the link got fast
    now += 500ms;
    limit.part_started(now, part, waited, room);
  }
  CHECK(limit.current() == 2);
  for (int started = 0; started < 3; ++started) {
    limit.part_uploaded(part, 100ms);
    now += 500ms;
    limit.part_started(now, part, waited, room);
  }
  CHECK(limit.current() == 1);
}

// Parquet exports through the engine to the real RGW, read back by DuckDB and compared with PostgreSQL.
#include "engine/engine.hpp"
#include "tests/engine/engine_helpers.hpp"
#include "tests/support/parquet_check.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace pg2s3;
using namespace pg2s3::test;
using engine::Compression;
using engine::Format;
using engine::JobStatus;

namespace {

// A million rows whose 900,000th holds a timestamp Parquet cannot: several parts are uploaded first.
const std::string infinite_at_query =
    "SELECT g AS id, md5(g::text) AS hash, CASE WHEN g = 900000 THEN timestamp 'infinity' "
    "ELSE timestamp '2000-01-01' + g * interval '1 second' END AS at FROM generate_series(1, 1000000) AS g";

engine::EngineConfig parquet_config() {
  auto config = engine_config();
  config.datasets.push_back({"parquet_types", "SELECT * FROM parquet_types_test", false, Format::parquet});
  config.datasets.push_back({"infinite_at", infinite_at_query, false});
  config.datasets.push_back({"refused_probe", users_query, false});
  std::string wide = "SELECT g AS id";  // 120 columns: at the default page and dictionary sizes, past the budget
  for (int i = 1; i < 120; ++i) wide += ", md5((g * " + std::to_string(i) + ")::text) AS c" + std::to_string(i);
  config.datasets.push_back({"wide", wide + " FROM generate_series(1, 20000) AS g", false, Format::parquet});
  engine::Dataset users_delta{"users_delta", users_query, false, Format::parquet};
  users_delta.parquet_delta = true;
  config.datasets.push_back(users_delta);
  config.datasets.push_back({"same_name_twice", "SELECT u.id, u.email, v.id FROM users AS u JOIN users AS v ON v.id = u.id",
                             false, Format::parquet});
  return config;
}

// The object's bytes in a file for DuckDB to read.
std::string object_file(asio::io_context& io, const std::string& key, const TempDir& dir) {
  const std::string path = (dir.path / "object.parquet").string();
  std::ofstream(path, std::ios::binary) << object_bytes(io, key);
  return path;
}

}  // namespace

TEST_CASE("a Parquet export of every type reads back in DuckDB as PostgreSQL has it, with each codec",
          "[engine][parquet]") {
  asio::io_context io;
  execute(io, types_table);
  auto engine = start_engine(io, parquet_config());
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  TempDir dir;
  // The dataset says Parquet; the codec is the request's, zstd when it names none.
  for (auto compression : {std::optional<Compression>{}, std::optional(Compression::snappy),
                           std::optional(Compression::gzip), std::optional(Compression::none)}) {
    auto job = export_and_wait(io, *engine, {"parquet_types", "", compression, ""});
    INFO(job.error_message);
    REQUIRE(job.status == JobStatus::completed);
    CHECK(job.format == Format::parquet);
    CHECK(job.compression == compression.value_or(Compression::zstd));
    CHECK(job.s3_key == "exports/" + job.id + ".parquet");
    CHECK(job.processed_records == 5);
    CHECK(test::run(io, client.head_object(test::bucket(), job.s3_key)).value().content_type ==
          "application/vnd.apache.parquet");
    const std::string path = object_file(io, job.s3_key, dir);
    check_types_file(io, path);
    const auto codec = compression.value_or(Compression::zstd);
    const std::string codec_name = codec == Compression::none ? "uncompressed" : std::string(engine::to_string(codec));
    CHECK(duckdb_rows("SELECT DISTINCT lower(compression) FROM parquet_metadata('" + path + "')") == Rows{{codec_name}});
  }
}

TEST_CASE("the users table as Parquet, integers PLAIN or differences as the dataset asks, equal to PostgreSQL's",
          "[engine][parquet]") {
  asio::io_context io;
  auto engine = start_engine(io, parquet_config());
  TempDir dir;
  auto job = export_and_wait(io, *engine, {"users", "", std::nullopt, "", Format::parquet});
  REQUIRE(job.status == JobStatus::completed);
  CHECK(job.compression == Compression::zstd);
  CHECK(job.processed_records == 100000);
  const Rows postgres_digest = users_digest_postgres(io);
  const std::string path = object_file(io, job.s3_key, dir);
  CHECK(users_digest_duckdb(path) == postgres_digest);
  // PLAIN, dictionaries and RLE levels only: what every reader takes (Spark before 3.3 refuses DELTA_BINARY_PACKED).
  CHECK(duckdb_rows("SELECT count(*)::VARCHAR FROM parquet_metadata('" + path + "') WHERE encodings LIKE '%DELTA%'") ==
        Rows{{"0"}});
  // A dataset with parquet_delta writes its integers as differences, which read back the same.
  auto delta = export_and_wait(io, *engine, {"users_delta", "", std::nullopt, ""});
  REQUIRE(delta.status == JobStatus::completed);
  const std::string delta_path = object_file(io, delta.s3_key, dir);
  CHECK(users_digest_duckdb(delta_path) == postgres_digest);
  CHECK(duckdb_rows("SELECT DISTINCT encodings FROM parquet_metadata('" + delta_path + "') WHERE path_in_schema = 'id'") ==
        Rows{{"RLE, DELTA_BINARY_PACKED"}});
  // A dataset that says Parquet still exports CSV when asked.
  auto csv = export_and_wait(io, *engine, {"parquet_types", "", std::nullopt, "", Format::csv});
  REQUIRE(csv.status == JobStatus::completed);
  CHECK(csv.s3_key.ends_with(".csv"));
  CHECK(object_bytes(io, csv.s3_key) == psql_csv("SELECT * FROM parquet_types_test"));
}

TEST_CASE("a value Parquet cannot hold fails the export naming the column and row, leaving nothing",
          "[engine][parquet][faults]") {
  asio::io_context io;
  auto engine = start_engine(io, parquet_config());
  // Uncompressed, so that parts were uploaded before the bad row and there is an upload to abort.
  auto job = export_and_wait(io, *engine, {"infinite_at", "", Compression::none, "", Format::parquet});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("column \"at\", row 900000: the timestamp is infinite"));
  CHECK(job.bytes_uploaded > 0);
  CHECK(job.upload_id.empty());
  CHECK_FALSE(object_exists(io, job.s3_key));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
  CHECK(engine->metrics().buffer_bytes_in_use == 0);  // the writer's reservation came back too
}

TEST_CASE("a result of 120 columns fits the buffer budget with smaller pages and dictionaries", "[engine][parquet]") {
  asio::io_context io;
  auto engine = start_engine(io, parquet_config());
  TempDir dir;
  auto job = export_and_wait(io, *engine, {"wide", "", std::nullopt, ""});
  INFO(job.error_message);
  REQUIRE(job.status == JobStatus::completed);
  const std::string path = object_file(io, job.s3_key, dir);
  CHECK(duckdb_rows("SELECT count(*)::VARCHAR, sum(id)::VARCHAR, count(DISTINCT c119)::VARCHAR, max(c119) FROM '" + path + "'") ==
        postgres_rows(io, "SELECT count(*)::text, sum(g)::text, count(DISTINCT md5((g * 119)::text))::text, "
                          "max(md5((g * 119)::text)) FROM generate_series(1, 20000) AS g"));
  CHECK(engine->metrics().buffer_bytes_peak <= engine->config().buffer_budget);
}

TEST_CASE("snappy for CSV is refused and nothing is recorded", "[engine][parquet]") {
  asio::io_context io;
  auto engine = start_engine(io, parquet_config());
  auto refused = test::run(io, engine->start_export({"refused_probe", "", Compression::snappy, ""}));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == engine::errc::invalid_request);
  CHECK_THAT(refused.error().message, Catch::Contains("snappy"));
  CHECK(postgres_rows(io, "SELECT count(*)::text FROM export_jobs WHERE dataset = 'refused_probe'") == Rows{{"0"}});
  CHECK(engine->metrics().exports_waiting == 0);
  CHECK(engine->metrics().exports_running == 0);
}

TEST_CASE("a result naming a column twice fails the Parquet export naming it, leaving nothing; CSV takes it",
          "[engine][parquet]") {
  asio::io_context io;
  auto engine = start_engine(io, parquet_config());
  auto job = export_and_wait(io, *engine, {"same_name_twice", "", std::nullopt, ""});
  CHECK(job.status == JobStatus::failed);
  CHECK_THAT(job.error_message, Catch::Contains("column \"id\" appears twice"));
  CHECK(job.bytes_uploaded == 0);
  CHECK(job.upload_id.empty());
  CHECK_FALSE(object_exists(io, job.s3_key));
  CHECK_FALSE(upload_open_for(io, job.s3_key));
  CHECK(engine->metrics().buffer_bytes_in_use == 0);
  auto csv = export_and_wait(io, *engine, {"same_name_twice", "", std::nullopt, "", Format::csv});
  CHECK(csv.status == JobStatus::completed);
}

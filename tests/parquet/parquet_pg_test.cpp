// Parquet files written from the real PostgreSQL's binary COPY, read back by DuckDB (an independent
// reader) and compared value by value with what PostgreSQL itself says.
#include "engine/detail/parquet_columns.hpp"
#include "parquet/writer.hpp"
#include "pg/connection.hpp"
#include "pg/copy_binary.hpp"
#include "tests/support/parquet_check.hpp"

#include <fstream>

using namespace pg2s3;
using namespace pg2s3::test;
using engine::detail::ParquetColumn;

namespace {

// Writes the query's rows to `path` as Parquet, reading COPY in small chunks so rows and fields split.
asio::awaitable<std::uint64_t> write_parquet(std::string query, std::string path, parquet::WriterOptions options) {
  auto connection = (co_await pg::Connection::connect(co_await asio::this_coro::executor, test::database_url())).value();
  const auto described = (co_await connection.query(engine::detail::describe_statement(query))).value();
  const std::vector<ParquetColumn> columns = engine::detail::parquet_columns(engine::detail::result_columns(described)).value();
  std::vector<parquet::Column> schema;
  for (const auto& column : columns) schema.push_back(column.column);
  parquet::FileWriter writer(schema, options);
  pg::BinaryCopyParser parser(columns.size());
  auto stream = (co_await connection.copy_out(engine::detail::binary_copy_statement(query, columns))).value();
  std::ofstream file(path, std::ios::binary);
  std::string chunk, scratch, output;
  for (bool more = true; more;) {
    chunk.clear();
    more = (co_await stream.read(chunk, 1000)).value();
    parser.feed(chunk);
    while (auto row = parser.next_row().value()) {
      for (std::size_t i = 0; i < columns.size(); ++i)
        writer.write(engine::detail::decode_field(columns[i], (*row)[i], parser.rows(), scratch).value());
      writer.end_row();
    }
    writer.take_output(output);
  }
  parser.finish().value();
  writer.finish();
  writer.take_output(output);
  file << output;
  co_return parser.rows();
}

}  // namespace

TEST_CASE("Every type, NULLs, empty strings, Unicode and extremes read back by DuckDB as PostgreSQL has them", "[parquet]") {
  asio::io_context io;
  execute(io, types_table);
  TempDir dir;
  for (auto codec : {parquet::Codec::zstd, parquet::Codec::snappy, parquet::Codec::gzip, parquet::Codec::none}) {
    const std::string path = (dir.path / "types.parquet").string();
    parquet::WriterOptions options;
    options.codec = codec;
    CHECK(test::run(io, write_parquet("SELECT * FROM parquet_types_test", path, options)) == 5);
    check_types_file(io, path);
  }
  // The types as readers see them.
  const Rows types = duckdb_rows("SELECT name, duckdb_type FROM parquet_schema('" + (dir.path / "types.parquet").string() +
                                 "') WHERE name IN ('n_small', 'n_mid', 'n_big', 'n_any', 'tstz', 'ts', 'u', 'jb', 'i2') ORDER BY name");
  CHECK(types == Rows{{"i2", "SMALLINT"}, {"jb", "JSON"}, {"n_any", "VARCHAR"}, {"n_big", "DECIMAL(38,10)"},
                      {"n_mid", "DECIMAL(18,4)"}, {"n_small", "DECIMAL(9,2)"}, {"ts", "TIMESTAMP"},
                      {"tstz", "TIMESTAMP WITH TIME ZONE"}, {"u", "UUID"}});
}

TEST_CASE("Zero rows make a valid file with the schema, one row a file with one row", "[parquet]") {
  asio::io_context io;
  execute(io, types_table);
  TempDir dir;
  const std::string path = (dir.path / "few.parquet").string();
  CHECK(test::run(io, write_parquet("SELECT * FROM parquet_types_test WHERE false", path, {})) == 0);
  CHECK(duckdb_rows("SELECT count(*), count(DISTINCT name) FROM parquet_schema('" + path + "')") == Rows{{"27", "27"}});
  CHECK(duckdb_rows("SELECT count(*) FROM '" + path + "'") == Rows{{"0"}});
  CHECK(test::run(io, write_parquet("SELECT * FROM parquet_types_test WHERE id = 3", path, {})) == 1);
  CHECK(duckdb_rows("SELECT i8::VARCHAR, t FROM '" + path + "'") == Rows{{"9223372036854775807", "Zoë 日本 🎉"}});
}

TEST_CASE("Infinite dates and timestamps are refused naming the column and row", "[parquet]") {
  asio::io_context io;
  TempDir dir;
  const std::string path = (dir.path / "refused.parquet").string();
  try {
    test::run(io, write_parquet("SELECT g, CASE WHEN g = 3 THEN timestamp 'infinity' ELSE now()::timestamp END AS at "
                                "FROM generate_series(1, 5) AS g", path, {}));
    FAIL("an infinite timestamp was written");
  } catch (const std::exception& e) {
    CHECK_THAT(e.what(), Catch::Contains("column \"at\", row 3: the timestamp is infinite"));
  }
}

TEST_CASE("Many row groups, distinct values PLAIN, and statistics over the users table", "[parquet]") {
  asio::io_context io;
  TempDir dir;
  const std::string path = (dir.path / "users.parquet").string();
  parquet::WriterOptions options;
  options.row_group_bytes = 32 * 1024;
  options.page_bytes = 16 * 1024;
  const auto rows = test::run(io, write_parquet("SELECT * FROM users", path, options));
  const Rows expected = users_digest_postgres(io);
  CHECK(users_digest_duckdb(path) == expected);
  CHECK(std::to_string(rows) == expected[0][0]);
  // Several row groups, each with its own statistics: together they give the table's min and max, and
  // the per-group null counts add up to the NULL names.
  const Rows groups = duckdb_rows(
      "SELECT min(stats_min_value::BIGINT)::VARCHAR, max(stats_max_value::BIGINT)::VARCHAR "
      "FROM parquet_metadata('" + path + "') WHERE path_in_schema = 'id'");
  REQUIRE(groups.size() == 1);
  CHECK(groups[0][0] == expected[0][4]);
  CHECK(groups[0][1] == expected[0][5]);
  CHECK(duckdb_rows("SELECT (count(DISTINCT row_group_id) > 3)::VARCHAR FROM parquet_metadata('" + path + "')") == Rows{{"true"}});
  const Rows nulls = duckdb_rows("SELECT sum(stats_null_count)::VARCHAR FROM parquet_metadata('" + path + "') WHERE path_in_schema = 'name'");
  const Rows pg_nulls = postgres_rows(io, "SELECT count(*) FILTER (WHERE name IS NULL)::text FROM users");
  CHECK(nulls == pg_nulls);
  // Unique emails are written PLAIN: no dictionary pays for values that never repeat.
  CHECK(duckdb_rows("SELECT bool_and(encodings = 'RLE, PLAIN')::VARCHAR FROM parquet_metadata('" + path + "') WHERE path_in_schema = 'email'") ==
        Rows{{"true"}});
}

TEST_CASE("Repeated values in dictionary pages, and a dictionary outgrown mid-chunk, read back by DuckDB", "[parquet]") {
  asio::io_context io;
  TempDir dir;
  const std::string path = (dir.path / "repeated.parquet").string();
  // `t` repeats 100 values through the dictionary's sample, then never repeats: it outgrows the dictionary.
  const std::string query = "SELECT g, 'status ' || g % 7 AS status, CASE WHEN g % 5 > 0 THEN (g % 100)::bigint END AS n, "
                            "'text ' || CASE WHEN g <= 20000 THEN g % 100 ELSE g END AS t FROM generate_series(1, 60000) AS g";
  CHECK(test::run(io, write_parquet(query, path, {})) == 60000);
  std::string summary;
  for (std::string aggregate : {"count(*)", "count(DISTINCT status)", "sum(length(status))", "count(n)", "sum(n)",
                                "count(DISTINCT t)", "sum(length(t))"})
    summary += (summary.empty() ? "" : " || '|' || ") + aggregate + "::VARCHAR";
  CHECK(duckdb_rows("SELECT " + summary + " FROM '" + path + "'") ==
        postgres_rows(io, "SELECT " + summary + " FROM (" + query + ") AS q"));
  const Rows encodings = duckdb_rows("SELECT path_in_schema, string_agg(DISTINCT encodings, ';') FROM parquet_metadata('" + path +
                                     "') GROUP BY path_in_schema ORDER BY path_in_schema");
  CHECK(encodings == Rows{{"g", "RLE, PLAIN"}, {"n", "RLE, PLAIN, RLE_DICTIONARY"}, {"status", "RLE, PLAIN, RLE_DICTIONARY"},
                          {"t", "RLE, PLAIN, RLE_DICTIONARY"}});  // RLE: the definition levels
}

TEST_CASE("Integers of every size and sign, sequential and scattered, PLAIN and as differences, read back by DuckDB",
          "[parquet]") {
  asio::io_context io;
  TempDir dir;
  const std::string path = (dir.path / "integers.parquet").string();
  const bool delta_integers = GENERATE(false, true);
  parquet::WriterOptions options;
  options.delta_integers = delta_integers;
  // hashtext scatters values over the whole int4 range; shifted and mixed, over int8's.
  const std::string query =
      "SELECT g, hashtext(g::text) AS i4, (hashtext(g::text)::int8 << 32) # hashtext((g * 7)::text) AS i8, "
      "((g % 32768) * CASE WHEN g % 2 = 0 THEN -1 ELSE 1 END)::int2 AS i2, date '2000-01-01' + (g % 5000) * (g % 3 - 1) AS d, "
      "CASE WHEN g % 9 = 0 THEN NULL ELSE g::int8 * 1000003 END AS n FROM generate_series(-50000, 150000) AS g";
  CHECK(test::run(io, write_parquet(query, path, options)) == 200001);
  std::string summary;
  for (std::string aggregate : {"count(*)", "sum(i4)", "min(i4)", "max(i4)", "sum(i8)", "min(i8)", "max(i8)", "sum(i2)",
                                "min(d)", "max(d)", "count(n)", "sum(n)", "sum(g * (i4 % 1000))", "sum(g * (i8 % 1000))"})
    summary += (summary.empty() ? "" : " || '|' || ") + aggregate + "::VARCHAR";
  CHECK(duckdb_rows("SELECT " + summary + " FROM '" + path + "'") ==
        postgres_rows(io, "SELECT " + summary + " FROM (" + query + ") AS q"));
  CHECK(duckdb_rows("SELECT string_agg(DISTINCT encodings, ';') FROM parquet_metadata('" + path + "') WHERE path_in_schema = 'i8'") ==
        Rows{{delta_integers ? "RLE, DELTA_BINARY_PACKED" : "RLE, PLAIN"}});
}

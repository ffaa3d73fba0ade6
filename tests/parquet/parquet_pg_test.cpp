// Parquet files written from the real PostgreSQL's binary COPY, read back by DuckDB (an independent
// reader) and compared value by value with what PostgreSQL itself says.
#include "engine/detail/parquet_columns.hpp"
#include "parquet/writer.hpp"
#include "pg/connection.hpp"
#include "pg/copy_binary.hpp"
#include "tests/support/services.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace pg2s3;
namespace asio = boost::asio;
using engine::detail::ParquetColumn;
using Rows = std::vector<std::vector<std::optional<std::string>>>;

namespace Catch {
template <>
struct StringMaker<std::optional<std::string>> {
  static std::string convert(const std::optional<std::string>& value) { return value ? '"' + *value + '"' : "NULL"; }
};
}  // namespace Catch

namespace {

// Writes the query's rows to `path` as Parquet, reading COPY in small chunks so rows and fields split.
asio::awaitable<std::uint64_t> write_parquet(std::string query, std::string path, parquet::WriterOptions options) {
  auto connection = (co_await pg::Connection::connect(co_await asio::this_coro::executor, test::database_url())).value();
  const auto described = (co_await connection.query(engine::detail::describe_statement(query))).value();
  std::vector<ParquetColumn> columns;
  std::vector<parquet::Column> schema;
  for (const auto& column : engine::detail::result_columns(described)) {
    columns.push_back(engine::detail::parquet_column(column));
    schema.push_back(columns.back().column);
  }
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

std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// DuckDB's answer to `select`, every value as text or NULL.
Rows duckdb_rows(const std::string& select) {
  const std::string json = test::command_output("node " PARQUET_READER " " + shell_quote("SET TimeZone = 'UTC'") + " " +
                                                shell_quote(select));
  simdjson::dom::parser parser;
  Rows rows;
  for (simdjson::dom::array row : parser.parse(json).get_array()) {
    auto& values = rows.emplace_back();
    for (simdjson::dom::element value : row) {
      if (value.is_null()) values.emplace_back();
      else values.emplace_back(std::string(value.get_string().value()));
    }
  }
  return rows;
}

Rows postgres_rows(asio::io_context& io, const std::string& select) {
  auto connection = test::run(io, pg::Connection::connect(io.get_executor(), test::database_url())).value();
  test::run(io, connection.execute("SET TimeZone = 'UTC'")).value();
  const auto result = test::run(io, connection.query(select)).value();
  Rows rows(static_cast<std::size_t>(result.rows()));
  for (int r = 0; r < result.rows(); ++r)
    for (int c = 0; c < result.columns(); ++c) {
      auto value = result.text(r, result.column_name(c));
      rows[static_cast<std::size_t>(r)].push_back(value ? std::optional<std::string>(std::string(*value)) : std::nullopt);
    }
  return rows;
}

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("pg2s3-parquet-" + std::to_string(getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

void execute(asio::io_context& io, const std::string& sql) {
  auto connection = test::run(io, pg::Connection::connect(io.get_executor(), test::database_url())).value();
  test::run(io, connection.execute(sql)).value();
}

const char* const types_table = R"(
  SET client_min_messages = warning;
  DROP TABLE IF EXISTS parquet_types_test;
  DROP TYPE IF EXISTS parquet_mood;
  CREATE TYPE parquet_mood AS ENUM ('sad', 'happy');
  CREATE TABLE parquet_types_test (
    id int, b bool, i2 int2, i4 int4, i8 int8, f4 real, f8 float8,
    n_small numeric(9,2), n_mid numeric(18,4), n_big numeric(38,10), n_any numeric,
    t text, vc varchar(20), bp char(5), nm name, by bytea, d date, ts timestamp, tstz timestamptz, tm time,
    u uuid, j json, jb jsonb, e parquet_mood, iv interval, arr int[]);
  INSERT INTO parquet_types_test (id) VALUES (1);
  INSERT INTO parquet_types_test VALUES
   (2, false, 0, 0, 0, 0, -0.0, 0, 0, 0, 0, '', '', '', '', '', '1970-01-01', '1970-01-01', '1970-01-01 00:00:00+00',
    '00:00', '00000000-0000-0000-0000-000000000000', '""', '{}', 'sad', '0', '{}'),
   (3, true, 32767, 2147483647, 9223372036854775807, 'Infinity', 'NaN', 9999999.99, 99999999999999.9999,
    9999999999999999999999999999.9999999999, 123456789012345678901234567890.123456789, 'Zoë 日本 🎉', 'ünïcödé', 'ab',
    'name', '\xdeadbeef00ff', '9999-12-31', '3000-06-15 12:34:56.789012', '2500-01-01 00:00:00+00', '23:59:59.999999',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, "x"]}', '{"b": null, "a": 1}', 'happy',
    '1 year 2 mons 3 days 04:05:06.789', '{1,NULL,3}'),
   (4, NULL, -32768, -2147483648, -9223372036854775808, '-Infinity', '-Infinity', -9999999.99, -99999999999999.9999,
    -9999999999999999999999999999.9999999999, 'NaN', E'tab\there\nnewline "quote" \\', 'x', 'abcde', 'n',
    '\x00', '0044-03-15 BC', '1900-01-01 00:00:00.000001', '1969-12-31 23:59:59.999999+00', '00:00:00.000001',
    'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '[1, "two", {"three": 3.0}]', NULL, '-1 days -00:00:01', '{{1,2},{3,4}}'),
   (5, true, 1, 1, 1, 1.17549435e-38, 1e308, 0.01, -0.0001, 0.0000000001, -0.5, 'a', 'a', 'a', 'a', '\x61', '2262-04-12',
    '2262-04-11 23:47:16.854776', '1677-09-21 00:12:43.145224+00', '12:00', '00000000-0000-0000-0000-000000000001',
    'null', '"s"', 'sad', '1 microsecond', '{NULL}');
)";

// Each column compared through text both sides print alike; dates as days since 1970, since the two
// print BC dates differently.
const std::vector<std::pair<std::string, std::string>> compared = {
    {"id::text", "id::VARCHAR"}, {"b::text", "b::VARCHAR"}, {"i2::text", "i2::VARCHAR"}, {"i4::text", "i4::VARCHAR"},
    {"i8::text", "i8::VARCHAR"}, {"f4::text", "f4::VARCHAR"}, {"f8::text", "f8::VARCHAR"},
    {"n_small::text", "n_small::VARCHAR"}, {"n_mid::text", "n_mid::VARCHAR"}, {"n_big::text", "n_big::VARCHAR"},
    {"n_any::text", "n_any::VARCHAR"}, {"t", "t"}, {"vc::text", "vc"}, {"bp", "bp"}, {"nm::text", "nm"},
    {"encode(by, 'hex')", "lower(hex(\"by\"))"}, {"(d - date '1970-01-01')::text", "(d - DATE '1970-01-01')::VARCHAR"},
    {"ts::text", "ts::VARCHAR"}, {"tstz::text", "tstz::VARCHAR"}, {"tm::text", "tm::VARCHAR"}, {"u::text", "u::VARCHAR"},
    {"j::text", "j::VARCHAR"}, {"jb::text", "jb::VARCHAR"}, {"e::text", "e"}, {"iv::text", "iv"}, {"arr::text", "arr"},
};

std::string select_list(bool postgres) {
  std::string list;
  for (std::size_t i = 0; i < compared.size(); ++i)
    list += (i ? ", " : "") + (postgres ? compared[i].first : compared[i].second) + " AS c" + std::to_string(i);
  return list;
}

// PostgreSQL spells IEEE specials as words, and whole numbers without ".0".
std::optional<std::string> as_duckdb_prints(std::optional<std::string> value) {
  if (value == "NaN") return "nan";
  if (value == "Infinity") return "inf";
  if (value == "-Infinity") return "-inf";
  if (value && value->find_first_of(".e") == std::string::npos) return *value + ".0";
  return value;
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
    Rows expected = postgres_rows(io, "SELECT " + select_list(true) + " FROM parquet_types_test ORDER BY id");
    for (auto& row : expected) row[5] = as_duckdb_prints(row[5]), row[6] = as_duckdb_prints(row[6]);
    const Rows actual = duckdb_rows("SELECT " + select_list(false) + " FROM '" + path + "' ORDER BY id");
    REQUIRE(actual.size() == expected.size());
    for (std::size_t r = 0; r < expected.size(); ++r)
      for (std::size_t c = 0; c < compared.size(); ++c) {
        INFO("row " << r + 1 << ", " << compared[c].first);
        CHECK(actual[r][c] == expected[r][c]);
      }
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

TEST_CASE("Many row groups, dictionary fallback and statistics over the users table", "[parquet]") {
  asio::io_context io;
  TempDir dir;
  const std::string path = (dir.path / "users.parquet").string();
  parquet::WriterOptions options;
  options.row_group_bytes = 256 * 1024;
  options.page_bytes = 16 * 1024;
  const auto rows = test::run(io, write_parquet("SELECT * FROM users", path, options));
  const std::string pg_row = "concat_ws('|', id::text, email, coalesce(name, '<null>'), (extract(epoch FROM created_at) * 1000000)::bigint::text)";
  const std::string duck_row = "concat_ws('|', id::VARCHAR, email, coalesce(name, '<null>'), epoch_us(created_at)::VARCHAR)";
  const Rows expected = postgres_rows(io, "SELECT count(*) AS a0, sum(id) AS a1, sum(('x' || left(md5(" + pg_row + "), 15))::bit(60)::bigint) AS a2, "
                                          "count(name) AS a3, min(id) AS a4, max(id) AS a5 FROM users");
  const Rows actual = duckdb_rows("SELECT count(*)::VARCHAR, sum(id)::VARCHAR, sum(('0x' || left(md5(" + duck_row +
                                  "), 15))::BIGINT)::VARCHAR, count(name)::VARCHAR, min(id)::VARCHAR, max(id)::VARCHAR FROM '" +
                                  path + "'");
  CHECK(actual == expected);
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
  // Unique emails outgrow the dictionary: their chunks fall back to PLAIN.
  CHECK(duckdb_rows("SELECT bool_or(encodings LIKE '%PLAIN%')::VARCHAR FROM parquet_metadata('" + path + "') WHERE path_in_schema = 'email'") ==
        Rows{{"true"}});
}

// Checks of Parquet files against PostgreSQL, read back by DuckDB (tools/duckdb, an independent reader):
// a table of every type, and digests of the users table.
#pragma once

#include "pg/connection.hpp"
#include "tests/support/services.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace Catch {
template <>
struct StringMaker<std::optional<std::string>> {
  static std::string convert(const std::optional<std::string>& value) { return value ? '"' + *value + '"' : "NULL"; }
};
}  // namespace Catch

namespace pg2s3::test {

namespace asio = boost::asio;
using Rows = std::vector<std::vector<std::optional<std::string>>>;

inline std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// DuckDB's answer to `select`, every value as text or NULL.
inline Rows duckdb_rows(const std::string& select) {
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

inline Rows postgres_rows(asio::io_context& io, const std::string& select) {
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

inline void execute(asio::io_context& io, const std::string& sql) {
  auto connection = test::run(io, pg::Connection::connect(io.get_executor(), test::database_url())).value();
  test::run(io, connection.execute(sql)).value();
}

inline const char* const types_table = R"(
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
inline const std::vector<std::pair<std::string, std::string>> compared = {
    {"id::text", "id::VARCHAR"}, {"b::text", "b::VARCHAR"}, {"i2::text", "i2::VARCHAR"}, {"i4::text", "i4::VARCHAR"},
    {"i8::text", "i8::VARCHAR"}, {"f4::text", "f4::VARCHAR"}, {"f8::text", "f8::VARCHAR"},
    {"n_small::text", "n_small::VARCHAR"}, {"n_mid::text", "n_mid::VARCHAR"}, {"n_big::text", "n_big::VARCHAR"},
    {"n_any::text", "n_any::VARCHAR"}, {"t", "t"}, {"vc::text", "vc"}, {"bp", "bp"}, {"nm::text", "nm"},
    {"encode(by, 'hex')", "lower(hex(\"by\"))"}, {"(d - date '1970-01-01')::text", "(d - DATE '1970-01-01')::VARCHAR"},
    {"ts::text", "ts::VARCHAR"}, {"tstz::text", "tstz::VARCHAR"}, {"tm::text", "tm::VARCHAR"}, {"u::text", "u::VARCHAR"},
    {"j::text", "j::VARCHAR"}, {"jb::text", "jb::VARCHAR"}, {"e::text", "e"}, {"iv::text", "iv"}, {"arr::text", "arr"},
};

inline std::string select_list(bool postgres) {
  std::string list;
  for (std::size_t i = 0; i < compared.size(); ++i)
    list += (i ? ", " : "") + (postgres ? compared[i].first : compared[i].second) + " AS c" + std::to_string(i);
  return list;
}

// PostgreSQL spells IEEE specials as words, and whole numbers without ".0".
inline std::optional<std::string> as_duckdb_prints(std::optional<std::string> value) {
  if (value == "NaN") return "nan";
  if (value == "Infinity") return "inf";
  if (value == "-Infinity") return "-inf";
  if (value && value->find_first_of(".e") == std::string::npos) return *value + ".0";
  return value;
}

// Checks that DuckDB reads the file written from parquet_types_test as PostgreSQL has the table.
inline void check_types_file(asio::io_context& io, const std::string& path) {
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

// count, sum(id), an order-independent hash of every row, count(name), min(id), max(id) of the users
// table: as PostgreSQL has it, and as DuckDB reads it from a Parquet file of it.
inline Rows users_digest_postgres(asio::io_context& io) {
  const std::string row = "concat_ws('|', id::text, email, coalesce(name, '<null>'), (extract(epoch FROM created_at) * 1000000)::bigint::text)";
  return postgres_rows(io, "SELECT count(*) AS a0, sum(id) AS a1, sum(('x' || left(md5(" + row + "), 15))::bit(60)::bigint) AS a2, "
                           "count(name) AS a3, min(id) AS a4, max(id) AS a5 FROM users");
}

inline Rows users_digest_duckdb(const std::string& path) {
  const std::string row = "concat_ws('|', id::VARCHAR, email, coalesce(name, '<null>'), epoch_us(created_at)::VARCHAR)";
  return duckdb_rows("SELECT count(*)::VARCHAR, sum(id)::VARCHAR, sum(('0x' || left(md5(" + row +
                     "), 15))::BIGINT)::VARCHAR, count(name)::VARCHAR, min(id)::VARCHAR, max(id)::VARCHAR FROM '" + path + "'");
}

}  // namespace pg2s3::test

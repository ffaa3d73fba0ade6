// The binary COPY parser on chunks split at every byte, and the decoding of fields into Parquet values.
#include "engine/detail/parquet_columns.hpp"
#include "pg/copy_binary.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <vector>

using namespace pg2s3;
using namespace std::string_literals;

namespace {

std::string be16(int v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be32(std::int64_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string field(std::string_view bytes) { return be32(static_cast<std::int64_t>(bytes.size())) + std::string(bytes); }
const std::string null_field = be32(-1);
const std::string header = "PGCOPY\n\377\r\n\0"s + be32(0) + be32(3) + "ext";
const std::string trailer = be16(-1);

using Row = std::vector<std::optional<std::string>>;

// Feeds `chunks` one after another and gathers every row as owned strings.
pg::Result<std::vector<Row>> parse(const std::vector<std::string>& chunks, std::size_t columns) {
  pg::BinaryCopyParser parser(columns);
  std::vector<Row> rows;
  for (const auto& chunk : chunks) {
    parser.feed(chunk);
    for (;;) {
      auto row = parser.next_row();
      if (!row) return row.error();
      if (!*row) break;
      Row copy;
      for (const auto& f : **row) copy.push_back(f ? std::optional<std::string>(std::string(*f)) : std::nullopt);
      rows.push_back(std::move(copy));
    }
  }
  if (auto finished = parser.finish(); !finished) return finished.error();
  return rows;
}

}  // namespace

TEST_CASE("Binary COPY: rows come out whole wherever the chunks split them", "[copy_binary]") {
  const std::string data = header + be16(2) + field("abc") + null_field + be16(2) + field("") + field("\xFF\x00z"s) +
                           be16(2) + null_field + field(std::string(300, 'x')) + trailer;
  const std::vector<Row> expected{{"abc", std::nullopt}, {"", "\xFF\x00z"s}, {std::nullopt, std::string(300, 'x')}};
  CHECK(parse({data}, 2).value() == expected);
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    INFO("split at " << cut);
    CHECK(parse({data.substr(0, cut), data.substr(cut)}, 2).value() == expected);
  }
  std::vector<std::string> bytes;
  for (char c : data) bytes.emplace_back(1, c);
  CHECK(parse(bytes, 2).value() == expected);
}

TEST_CASE("Binary COPY: malformed data is an error naming the row", "[copy_binary]") {
  auto message = [](const std::vector<std::string>& chunks, std::size_t columns) {
    auto rows = parse(chunks, columns);
    REQUIRE_FALSE(rows.has_value());
    return rows.error().message();
  };
  CHECK_THAT(message({"PGCOPY\n\377\r\n\1"s + be32(0) + be32(0)}, 1), Catch::Contains("signature"));
  CHECK_THAT(message({header + be16(3) + field("a")}, 1), Catch::Contains("3 fields where 1"));
  CHECK_THAT(message({header + be16(1) + field("a") + be16(1) + be32(-7)}, 1), Catch::Contains("length -7 (row 2)"));
  CHECK_THAT(message({header + be16(1) + field("a")}, 1), Catch::Contains("no binary COPY trailer"));
  CHECK_THAT(message({header + be16(1) + be32(5) + "ab"}, 1), Catch::Contains("cut short"));
  CHECK_THAT(message({header + trailer + "x"}, 1), Catch::Contains("after the binary COPY trailer"));
  CHECK(parse({header + trailer}, 4).value().empty());  // zero rows
}

namespace {

// numeric's binary form from its parts.
std::string numeric(std::vector<int> digits, int weight, int sign, int display_scale) {
  std::string bytes = be16(static_cast<int>(digits.size())) + be16(weight) + be16(sign) + be16(display_scale);
  for (int d : digits) bytes += be16(d);
  return bytes;
}

engine::detail::ParquetColumn numeric_column(int precision, int scale) {
  return engine::detail::parquet_column({"n", 1700, ((precision << 16) | scale) + 4});
}

}  // namespace

TEST_CASE("Decoding: numeric to DECIMAL and to text, epochs, and values Parquet cannot hold", "[copy_binary]") {
  using engine::detail::decode_field;
  std::string scratch;
  // 12345.67 = 1|2345|6700 with weight 1
  const std::string value = numeric({1, 2345, 6700}, 1, 0, 2);
  CHECK(std::get<std::int32_t>(decode_field(numeric_column(9, 2), value, 1, scratch).value()) == 1234567);
  CHECK(std::get<std::int64_t>(decode_field(numeric_column(18, 2), numeric({1, 2345, 6700}, 1, 0x4000, 2), 1, scratch).value()) == -1234567);
  const auto fixed = decode_field(numeric_column(38, 2), value, 1, scratch).value();
  CHECK(std::get<std::string_view>(fixed) == std::string(13, '\0') + "\x12\xD6\x87"s);
  CHECK(std::get<std::string_view>(decode_field(numeric_column(38, 0), numeric({1}, 0, 0x4000, 0), 1, scratch).value()) ==
        std::string(16, '\xFF').substr(0, 15) + "\xFF");
  auto unbounded = engine::detail::parquet_column({"n", 1700, -1});
  CHECK(unbounded.column.logical == parquet::LogicalType::string);
  CHECK(std::get<std::string_view>(decode_field(unbounded, numeric({12, 0, 5}, 1, 0x4000, 6), 1, scratch).value()) ==
        "-120000.000500");
  CHECK(std::get<std::string_view>(decode_field(unbounded, numeric({5}, -2, 0, 9), 1, scratch).value()) == "0.000000050");
  CHECK(std::get<std::string_view>(decode_field(unbounded, numeric({}, 0, 0xC000, 0), 1, scratch).value()) == "NaN");

  auto nan = decode_field(numeric_column(10, 2), numeric({}, 0, 0xC000, 0), 7, scratch);
  REQUIRE_FALSE(nan.has_value());
  CHECK(nan.error().message == "column \"n\", row 7: NaN has no DECIMAL value");
  CHECK_FALSE(decode_field(numeric_column(4, 2), numeric({100}, 0, 0, 2), 1, scratch).has_value());  // 100.00 needs 5 digits

  const auto date = engine::detail::parquet_column({"d", 1082, -1});
  CHECK(std::get<std::int32_t>(decode_field(date, be32(0), 1, scratch).value()) == 10957);
  auto infinite = decode_field(date, be32(0x7FFFFFFF), 3, scratch);
  REQUIRE_FALSE(infinite.has_value());
  CHECK_THAT(infinite.error().message, Catch::StartsWith("column \"d\", row 3: the date is infinite"));
  CHECK_FALSE(decode_field(date, "abc", 1, scratch).has_value());  // three bytes for a date

  const auto jsonb = engine::detail::parquet_column({"j", 3802, -1});
  CHECK(std::get<std::string_view>(decode_field(jsonb, "\x01{}", 1, scratch).value()) == "{}");
  CHECK(std::holds_alternative<std::monostate>(decode_field(jsonb, std::nullopt, 1, scratch).value()));
}

TEST_CASE("The binary COPY statement casts to text the columns without a decoder, by position", "[copy_binary]") {
  using engine::detail::parquet_column;
  const std::vector<engine::detail::ParquetColumn> plain{parquet_column({"a", 23, -1}), parquet_column({"b", 25, -1})};
  CHECK(engine::detail::binary_copy_statement("SELECT 1, 'x'", plain) == "COPY (SELECT 1, 'x') TO STDOUT WITH (FORMAT binary)");
  const std::vector<engine::detail::ParquetColumn> mixed{parquet_column({"a", 23, -1}), parquet_column({"a", 1186, -1})};
  CHECK(mixed[1].cast_to_text);
  CHECK(engine::detail::binary_copy_statement("SELECT 1 AS a, interval '1 day' AS a", mixed) ==
        "COPY (SELECT q.c1, q.c2::text FROM (SELECT 1 AS a, interval '1 day' AS a) AS q(c1, c2)) TO STDOUT WITH (FORMAT binary)");
}

TEST_CASE("Columns of one name, or of names that differ only in case, are refused naming them", "[copy_binary]") {
  using engine::detail::parquet_columns;
  const auto mapped = parquet_columns({{"id", 23, -1}, {"Id_2", 25, -1}, {"email", 25, -1}});
  REQUIRE(mapped.has_value());
  CHECK(mapped->size() == 3);
  CHECK(mapped->at(1).column.name == "Id_2");
  const auto twice = parquet_columns({{"id", 23, -1}, {"email", 25, -1}, {"id", 20, -1}});
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error().code == engine::errc::invalid_request);
  CHECK_THAT(twice.error().message, Catch::StartsWith("column \"id\" appears twice in the result: "));
  const auto in_case = parquet_columns({{"id", 23, -1}, {"ID", 23, -1}});
  REQUIRE_FALSE(in_case.has_value());
  CHECK_THAT(in_case.error().message, Catch::Contains("(as \"id\" and \"ID\", one name to Spark and Athena)"));
  // PostgreSQL names every unnamed expression ?column?.
  CHECK_FALSE(parquet_columns({{"?column?", 23, -1}, {"?column?", 23, -1}}).has_value());
}

#include "engine/detail/parquet_columns.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace pg2s3::engine::detail {

namespace {

using parquet::LogicalType;
using parquet::PhysicalType;

// Type OIDs of pg_type.dat, fixed since PostgreSQL 7.
enum : std::uint32_t {
  oid_bool = 16, oid_bytea = 17, oid_name = 19, oid_int8 = 20, oid_int2 = 21, oid_int4 = 23, oid_text = 25,
  oid_json = 114, oid_float4 = 700, oid_float8 = 701, oid_bpchar = 1042, oid_varchar = 1043, oid_date = 1082,
  oid_time = 1083, oid_timestamp = 1114, oid_timestamptz = 1184, oid_numeric = 1700, oid_uuid = 2950,
  oid_jsonb = 3802,
};

// PostgreSQL counts days and microseconds from 2000-01-01, Parquet from 1970-01-01.
constexpr std::int32_t epoch_shift_days = 10957;
constexpr std::int64_t epoch_shift_micros = std::int64_t{epoch_shift_days} * 86'400'000'000;
// Larger DECIMALs exist in the format, but readers (DuckDB, Spark, Arrow) stop at 38 digits.
constexpr int max_decimal_precision = 38;

// numeric's sign word
constexpr std::uint16_t numeric_negative = 0x4000, numeric_nan = 0xC000, numeric_pinf = 0xD000, numeric_ninf = 0xF000;

using Int128 = __int128;

ParquetColumn make(std::string name, PhysicalType physical, LogicalType logical, FieldDecoding decoding) {
  ParquetColumn column{{std::move(name), physical, logical}, decoding};
  return column;
}

// The fewest bytes whose two's complement holds every value of `precision` digits.
int decimal_bytes(int precision) {
  Int128 largest = 1;
  for (int i = 0; i < precision; ++i) largest *= 10;
  int bytes = 1;
  while (bytes < 16 && (Int128{1} << (8 * bytes - 1)) < largest) ++bytes;
  return bytes;
}

ParquetColumn numeric_column(std::string name, int modifier) {
  // typmod: ((precision << 16) | scale) + VARHDRSZ, the scale an 11-bit signed number since PostgreSQL 15.
  const int precision = modifier >= 4 ? ((modifier - 4) >> 16) & 0xFFFF : 0;
  const int scale = modifier >= 4 ? ((((modifier - 4) & 0x7FF) ^ 1024) - 1024) : 0;
  if (precision < 1 || precision > max_decimal_precision || scale < 0 || scale > precision)
    return make(std::move(name), PhysicalType::byte_array, LogicalType::string, FieldDecoding::numeric_text);
  ParquetColumn column;
  if (precision <= 9) column = make(std::move(name), PhysicalType::int32, LogicalType::decimal, FieldDecoding::numeric_int32);
  else if (precision <= 18) column = make(std::move(name), PhysicalType::int64, LogicalType::decimal, FieldDecoding::numeric_int64);
  else {
    column = make(std::move(name), PhysicalType::fixed_len_byte_array, LogicalType::decimal, FieldDecoding::numeric_fixed);
    column.column.type_length = decimal_bytes(precision);
  }
  column.column.precision = precision;
  column.column.scale = scale;
  return column;
}

std::uint64_t read_big_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (char byte : bytes) value = value << 8 | static_cast<unsigned char>(byte);
  return value;
}

// A field of 1, 2, 4 or 8 bytes, big-endian: one load each, where read_big_endian takes a byte at a time.
std::uint64_t read_fixed_width(std::string_view bytes) {
  static_assert(std::endian::native == std::endian::little);
  const auto load = [&]<class Unsigned>(Unsigned) {
    Unsigned value;
    std::memcpy(&value, bytes.data(), sizeof value);
    return value;
  };
  switch (bytes.size()) {
    case 1: return load(std::uint8_t{});
    case 2: return __builtin_bswap16(load(std::uint16_t{}));
    case 4: return __builtin_bswap32(load(std::uint32_t{}));
    case 8: return __builtin_bswap64(load(std::uint64_t{}));
    default: return read_big_endian(bytes);
  }
}

std::int16_t read_i16(std::string_view bytes, std::size_t at) {
  return static_cast<std::int16_t>(read_big_endian(bytes.substr(at, 2)));
}

// numeric's binary form: digit count, weight (of the first base-10000 digit), sign, display scale, digits.
struct Numeric {
  std::int16_t weight = 0;
  std::uint16_t sign = 0;
  std::int16_t display_scale = 0;
  std::vector<std::int16_t> digits;
};

std::optional<Numeric> read_numeric(std::string_view bytes) {
  if (bytes.size() < 8) return std::nullopt;
  const std::int16_t count = read_i16(bytes, 0);
  if (count < 0 || bytes.size() != 8 + 2 * static_cast<std::size_t>(count)) return std::nullopt;
  Numeric numeric{read_i16(bytes, 2), static_cast<std::uint16_t>(read_i16(bytes, 4)), read_i16(bytes, 6), {}};
  for (int i = 0; i < count; ++i) {
    const std::int16_t digit = read_i16(bytes, 8 + 2 * static_cast<std::size_t>(i));
    if (digit < 0 || digit > 9999) return std::nullopt;
    numeric.digits.push_back(digit);
  }
  return numeric;
}

// As numeric_out prints it: every digit of the display scale, no exponent.
std::string numeric_text(const Numeric& numeric) {
  if (numeric.sign == numeric_nan) return "NaN";
  if (numeric.sign == numeric_pinf) return "Infinity";
  if (numeric.sign == numeric_ninf) return "-Infinity";
  const auto digit_at = [&](int index) {
    return index >= 0 && index < static_cast<int>(numeric.digits.size()) ? numeric.digits[static_cast<std::size_t>(index)] : 0;
  };
  std::string text = numeric.sign == numeric_negative ? "-" : "";
  if (numeric.weight < 0) text += '0';
  for (int index = 0; index <= numeric.weight; ++index) {
    const std::string group = std::to_string(digit_at(index));
    if (index > 0) text.append(4 - group.size(), '0');
    text += group;
  }
  if (numeric.display_scale > 0) {
    text += '.';
    std::string fraction;
    for (int index = numeric.weight + 1; static_cast<int>(fraction.size()) < numeric.display_scale; ++index) {
      const std::string group = std::to_string(digit_at(index));
      fraction.append(4 - group.size(), '0');
      fraction += group;
    }
    text.append(fraction, 0, static_cast<std::size_t>(numeric.display_scale));
  }
  return text;
}

// The value times 10^scale as an integer, if it is one below 10^precision. Decimal digit by digit, from
// the highest power down to 10^-scale, so nothing grows past the limit; any digit below must be zero.
std::optional<Int128> unscaled(const Numeric& numeric, int scale, int precision) {
  const auto decimal_digit = [&](int power) {
    const int group_power = power >= 0 ? power / 4 : -((-power + 3) / 4);  // floor(power / 4)
    const int index = numeric.weight - group_power;
    if (index < 0 || index >= static_cast<int>(numeric.digits.size())) return 0;
    int digit = numeric.digits[static_cast<std::size_t>(index)];
    for (int i = 0; i < power - 4 * group_power; ++i) digit /= 10;
    return digit % 10;
  };
  Int128 limit = 1;
  for (int i = 0; i < precision; ++i) limit *= 10;
  Int128 value = 0;
  const int lowest = 4 * (numeric.weight - static_cast<int>(numeric.digits.size()) + 1);
  for (int power = 4 * numeric.weight + 3; power >= -scale; --power) {
    value = value * 10 + decimal_digit(power);
    if (value >= limit) return std::nullopt;
  }
  for (int power = -scale - 1; power >= lowest; --power)
    if (decimal_digit(power) != 0) return std::nullopt;  // more decimal places than the scale
  return numeric.sign == numeric_negative ? -value : value;
}

Error field_error(const ParquetColumn& column, std::uint64_t row, std::string_view what, std::errc code) {
  return Error{std::make_error_code(code),
               "column \"" + column.column.name + "\", row " + std::to_string(row) + ": " + std::string(what)};
}

Result<parquet::Value> decode_numeric(const ParquetColumn& column, std::string_view bytes, std::uint64_t row,
                                      std::string& scratch) {
  auto numeric = read_numeric(bytes);
  if (!numeric) return field_error(column, row, "malformed numeric", std::errc::bad_message);
  if (column.decoding == FieldDecoding::numeric_text) {
    scratch = numeric_text(*numeric);
    return parquet::Value(std::string_view(scratch));
  }
  if (numeric->sign != 0 && numeric->sign != numeric_negative)
    return field_error(column, row, numeric_text(*numeric) + " has no DECIMAL value", std::errc::result_out_of_range);
  auto value = unscaled(*numeric, column.column.scale, column.column.precision);
  if (!value)
    return field_error(column, row, numeric_text(*numeric) + " does not fit DECIMAL(" + std::to_string(column.column.precision) +
                                        ", " + std::to_string(column.column.scale) + ")",
                       std::errc::result_out_of_range);
  if (column.decoding == FieldDecoding::numeric_int32) return parquet::Value(static_cast<std::int32_t>(*value));
  if (column.decoding == FieldDecoding::numeric_int64) return parquet::Value(static_cast<std::int64_t>(*value));
  // Big-endian two's complement of the column's width.
  scratch.assign(static_cast<std::size_t>(column.column.type_length), '\0');
  for (std::size_t i = 0; i < scratch.size(); ++i)
    scratch[scratch.size() - 1 - i] = static_cast<char>(static_cast<std::uint8_t>(*value >> (8 * i)));
  return parquet::Value(std::string_view(scratch));
}

// The result of a decoded field, its value built in place: a Value returned and then copied into the
// result took longer than decoding the field.
template <class T>
Result<parquet::Value> value_result(T value) {
  return Result<parquet::Value>(boost::system::in_place_value, std::in_place_type<T>, value);
}

bool same_name(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return std::ranges::equal(a, b, {}, lower, lower);
}

Error name_taken(const std::string& first, const std::string& second) {
  std::string message = "column \"" + first + "\" appears twice in the result";
  if (first != second) message += " (as \"" + first + "\" and \"" + second + "\", one name to Spark and Athena)";
  return Error{errc::invalid_request, message + ": Parquet readers such as Spark refuse a file whose columns share a "
                                                "name; give each column its own with AS"};
}

// The fixed width of a decoding's binary form, 0 for variable ones.
std::size_t fixed_width(FieldDecoding decoding) {
  switch (decoding) {
    case FieldDecoding::boolean: return 1;
    case FieldDecoding::int16: return 2;
    case FieldDecoding::int32:
    case FieldDecoding::float32:
    case FieldDecoding::date: return 4;
    case FieldDecoding::int64:
    case FieldDecoding::float64:
    case FieldDecoding::timestamp:
    case FieldDecoding::time: return 8;
    case FieldDecoding::uuid: return 16;
    default: return 0;
  }
}

}  // namespace

std::string describe_statement(std::string_view query) {
  return "SELECT * FROM (" + std::string(query) + ") AS q LIMIT 0";
}

std::vector<ResultColumn> result_columns(const pg::QueryResult& described) {
  std::vector<ResultColumn> columns;
  for (int i = 0; i < described.columns(); ++i)
    columns.push_back({std::string(described.column_name(i)), described.column_type(i), described.column_modifier(i)});
  return columns;
}

ParquetColumn parquet_column(const ResultColumn& result) {
  std::string name = result.name;
  switch (result.type) {
    case oid_bool: return make(std::move(name), PhysicalType::boolean, LogicalType::none, FieldDecoding::boolean);
    case oid_int2: return make(std::move(name), PhysicalType::int32, LogicalType::int16, FieldDecoding::int16);
    case oid_int4: return make(std::move(name), PhysicalType::int32, LogicalType::none, FieldDecoding::int32);
    case oid_int8: return make(std::move(name), PhysicalType::int64, LogicalType::none, FieldDecoding::int64);
    case oid_float4: return make(std::move(name), PhysicalType::float32, LogicalType::none, FieldDecoding::float32);
    case oid_float8: return make(std::move(name), PhysicalType::float64, LogicalType::none, FieldDecoding::float64);
    case oid_numeric: return numeric_column(std::move(name), result.modifier);
    case oid_text:
    case oid_varchar:
    case oid_bpchar:
    case oid_name: return make(std::move(name), PhysicalType::byte_array, LogicalType::string, FieldDecoding::bytes);
    case oid_bytea: return make(std::move(name), PhysicalType::byte_array, LogicalType::none, FieldDecoding::bytes);
    case oid_json: return make(std::move(name), PhysicalType::byte_array, LogicalType::json, FieldDecoding::bytes);
    case oid_jsonb: return make(std::move(name), PhysicalType::byte_array, LogicalType::json, FieldDecoding::jsonb);
    case oid_date: return make(std::move(name), PhysicalType::int32, LogicalType::date, FieldDecoding::date);
    case oid_time: return make(std::move(name), PhysicalType::int64, LogicalType::time_micros, FieldDecoding::time);
    case oid_timestamp:
      return make(std::move(name), PhysicalType::int64, LogicalType::timestamp_micros, FieldDecoding::timestamp);
    case oid_timestamptz:
      return make(std::move(name), PhysicalType::int64, LogicalType::timestamp_micros_utc, FieldDecoding::timestamp);
    case oid_uuid: {
      auto column = make(std::move(name), PhysicalType::fixed_len_byte_array, LogicalType::uuid, FieldDecoding::uuid);
      column.column.type_length = 16;
      return column;
    }
    default: {
      auto column = make(std::move(name), PhysicalType::byte_array, LogicalType::string, FieldDecoding::bytes);
      column.cast_to_text = true;
      return column;
    }
  }
}

Result<std::vector<ParquetColumn>> parquet_columns(const std::vector<ResultColumn>& result) {
  std::vector<ParquetColumn> columns;
  for (const auto& column : result) {
    for (const auto& earlier : columns)
      if (same_name(earlier.column.name, column.name)) return name_taken(earlier.column.name, column.name);
    columns.push_back(parquet_column(column));
  }
  return columns;
}

std::string binary_copy_statement(std::string_view query, std::span<const ParquetColumn> columns) {
  const auto binary = [](std::string_view select) { return "COPY (" + std::string(select) + ") TO STDOUT WITH (FORMAT binary)"; };
  bool any_cast = false;
  for (const auto& column : columns) any_cast = any_cast || column.cast_to_text;
  if (!any_cast) return binary(query);
  std::string select = "SELECT ", aliases;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const std::string alias = "c" + std::to_string(i + 1);
    select += (i ? ", q." : "q.") + alias + (columns[i].cast_to_text ? "::text" : "");
    aliases += (i ? ", " : "") + alias;
  }
  return binary(select + " FROM (" + std::string(query) + ") AS q(" + aliases + ")");
}

Result<parquet::Value> decode_field(const ParquetColumn& column, pg::BinaryField field, std::uint64_t row,
                                    std::string& scratch) {
  if (!field) return value_result(std::monostate{});
  const std::string_view bytes = *field;
  const std::size_t width = fixed_width(column.decoding);
  if (width && bytes.size() != width)
    return field_error(column, row, "a field of " + std::to_string(bytes.size()) + " bytes where " +
                                        std::to_string(width) + " were expected", std::errc::bad_message);
  const std::uint64_t bits = width && width <= 8 ? read_fixed_width(bytes) : 0;
  switch (column.decoding) {
    case FieldDecoding::boolean: return value_result(bits != 0);
    case FieldDecoding::int16: return value_result(std::int32_t{static_cast<std::int16_t>(bits)});
    case FieldDecoding::int32: return value_result(static_cast<std::int32_t>(bits));
    case FieldDecoding::int64:
    case FieldDecoding::time: return value_result(static_cast<std::int64_t>(bits));
    case FieldDecoding::float32: return value_result(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    case FieldDecoding::float64: return value_result(std::bit_cast<double>(bits));
    case FieldDecoding::numeric_int32:
    case FieldDecoding::numeric_int64:
    case FieldDecoding::numeric_fixed:
    case FieldDecoding::numeric_text: return decode_numeric(column, bytes, row, scratch);
    case FieldDecoding::bytes:
    case FieldDecoding::uuid: return value_result(bytes);
    case FieldDecoding::jsonb:
      if (bytes.empty() || bytes[0] != 1) return field_error(column, row, "jsonb of an unknown version", std::errc::bad_message);
      return value_result(bytes.substr(1));
    case FieldDecoding::date: {
      const auto days = static_cast<std::int32_t>(bits);
      if (days == std::numeric_limits<std::int32_t>::max() || days == std::numeric_limits<std::int32_t>::min())
        return field_error(column, row, "the date is infinite; Parquet's DATE has no infinity", std::errc::result_out_of_range);
      return value_result(std::int32_t{days + epoch_shift_days});
    }
    case FieldDecoding::timestamp: {
      const auto micros = static_cast<std::int64_t>(bits);
      std::int64_t shifted = 0;
      if (micros == std::numeric_limits<std::int64_t>::max() || micros == std::numeric_limits<std::int64_t>::min())
        return field_error(column, row, "the timestamp is infinite; Parquet's TIMESTAMP has no infinity", std::errc::result_out_of_range);
      if (__builtin_add_overflow(micros, epoch_shift_micros, &shifted))
        return field_error(column, row, "the timestamp is past Parquet's microsecond range", std::errc::result_out_of_range);
      return value_result(shifted);
    }
  }
  return value_result(std::monostate{});
}

}  // namespace pg2s3::engine::detail

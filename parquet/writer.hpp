// A streaming Parquet file writer: rows in, file bytes out row group by row group, the footer last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pg2s3::parquet {

enum class PhysicalType { boolean, int32, int64, float32, float64, byte_array, fixed_len_byte_array };

// The logical annotation of a column; `none` leaves the physical type to speak for itself (bytes, numbers).
enum class LogicalType {
  none,
  int16,             // INT32 holding 16-bit signed integers
  string,            // BYTE_ARRAY of UTF-8
  json,              // BYTE_ARRAY of UTF-8 JSON
  uuid,              // FIXED_LEN_BYTE_ARRAY(16)
  decimal,           // INT32, INT64 or FIXED_LEN_BYTE_ARRAY (big-endian two's complement): unscaled integers
  date,              // INT32 days since 1970-01-01
  time_micros,       // INT64 microseconds since midnight, local (not adjusted to UTC)
  timestamp_micros,  // INT64 microseconds since 1970-01-01, local (not adjusted to UTC)
  timestamp_micros_utc,  // INT64 microseconds since 1970-01-01 UTC
};

struct Column {
  std::string name;
  PhysicalType physical = PhysicalType::byte_array;
  LogicalType logical = LogicalType::none;
  int type_length = 0;  // bytes of a fixed_len_byte_array value
  int precision = 0;    // of a decimal
  int scale = 0;        // of a decimal
  bool nullable = true;
};

enum class Codec { none, snappy, gzip, zstd };

struct WriterOptions {
  Codec codec = Codec::zstd;
  // A data page ends once its values reach this many bytes (before compression).
  std::size_t page_bytes = 256 * 1024;
  // A row group ends once its encoded pages (after compression), dictionaries and open pages reach this.
  std::size_t row_group_bytes = 8 * 1024 * 1024;
  // A column's dictionary, with the memory of its index, may grow to this; past it the column chunk goes
  // on in PLAIN, and the next row group tries a dictionary again.
  std::size_t dictionary_bytes = 1024 * 1024;
  bool dictionary = true;
  // INT32 and INT64 values outside a dictionary as DELTA_BINARY_PACKED (differences bit-packed, a few bits
  // a value for ids and timestamps) instead of PLAIN. Off, as in parquet-mr's and Arrow's own writers:
  // Spark before 3.3, Athena engine 2, Redshift Spectrum and Synapse cannot read such pages.
  bool delta_integers = false;
  std::string created_by = "pg2s3";
};

// One value: monostate for NULL; otherwise the alternative of the column's physical type (bool, int32_t,
// int64_t, float, double, or bytes for byte_array and fixed_len_byte_array). Bytes are copied at once.
using Value = std::variant<std::monostate, bool, std::int32_t, std::int64_t, float, double, std::string_view>;

namespace detail {
class ColumnWriter;
class PageCompressor;
}

// How a caller drives it:
//   FileWriter writer(columns, options);
//   for each row: for each column in order, writer.write(value); then writer.end_row();
//     whenever writer.pending_bytes() is worth it, writer.take_output(part, limit) moves bytes out;
//   writer.finish();  then take_output until pending_bytes() is 0: that is the end of the file.
// Bytes become pending a whole row group at a time (the first ones with the "PAR1" magic), so memory
// holds at most one row group (options.row_group_bytes, give or take a row) plus one open page and one
// dictionary per column, plus what the caller leaves pending. A wrong value type or a call out of order
// is a programming error and throws std::logic_error; the writer checks no value's meaning.
class FileWriter {
 public:
  FileWriter(std::vector<Column> columns, WriterOptions options);
  FileWriter(FileWriter&&) noexcept;
  FileWriter& operator=(FileWriter&&) noexcept;
  ~FileWriter();

  void write(const Value& value);  // the next column's value of the current row
  void end_row();                  // after every column's value; may close a row group
  void finish();                   // closes the last row group and appends the footer

  std::size_t pending_bytes() const { return pending_size_; }
  // Appends up to `limit` pending bytes to `out`, in file order.
  void take_output(std::string& out, std::size_t limit = SIZE_MAX);

  // The most memory a writer of `columns` columns holds, besides what the caller leaves pending and one
  // row (a row group closes after the row that fills it): the row group's pages, and for each column an
  // open page (whose buffers may double as they grow) and a dictionary, and the page being compressed
  // (its buffers kept from page to page) with the codec's state.
  static std::size_t memory_bound(std::size_t columns, const WriterOptions& options);

  std::uint64_t rows() const { return rows_; }
  std::uint64_t bytes_written() const { return offset_; }  // file bytes produced so far, pending included

 private:
  void close_row_group();
  void append_output(std::string bytes);
  std::string footer() const;

  std::vector<Column> columns_;
  WriterOptions options_;
  std::unique_ptr<detail::PageCompressor> compressor_;  // the column writers keep its address
  std::vector<std::unique_ptr<detail::ColumnWriter>> writers_;
  std::size_t next_column_ = 0;
  std::uint64_t rows_ = 0;
  std::uint64_t row_group_rows_ = 0;
  std::uint64_t offset_ = 0;
  bool finished_ = false;
  std::vector<std::string> row_groups_;  // each RowGroup of the footer, already encoded
  std::deque<std::string> pending_;
  std::size_t pending_front_offset_ = 0;
  std::size_t pending_size_ = 0;
};

}  // namespace pg2s3::parquet

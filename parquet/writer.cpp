#include "parquet/writer.hpp"

#include "parquet/detail/column_writer.hpp"
#include "parquet/detail/compression.hpp"
#include "parquet/detail/thrift_compact.hpp"

#include <algorithm>
#include <stdexcept>

namespace pg2s3::parquet {

namespace {

using detail::ThriftType;
using detail::ThriftWriter;

constexpr std::string_view magic = "PAR1";

// parquet.thrift's ConvertedType, for readers older than logical types; -1 where none matches.
int converted_type(const Column& column) {
  switch (column.logical) {
    case LogicalType::string: return 0;   // UTF8
    case LogicalType::decimal: return 5;  // DECIMAL
    case LogicalType::date: return 6;     // DATE
    case LogicalType::timestamp_micros_utc: return 10;  // TIMESTAMP_MICROS means adjusted to UTC
    case LogicalType::int16: return 16;   // INT_16
    case LogicalType::json: return 19;    // JSON
    default: return -1;
  }
}

void write_time_unit_micros(ThriftWriter& thrift, bool adjusted_to_utc) {
  thrift.field_bool(1, adjusted_to_utc);
  thrift.field_struct(2);  // TimeUnit
  thrift.field_struct(2);  // MICROS
  thrift.end_struct();
  thrift.end_struct();
}

// The LogicalType union, field 10 of SchemaElement.
void write_logical_type(ThriftWriter& thrift, const Column& column) {
  if (column.logical == LogicalType::none) return;
  thrift.field_struct(10);
  switch (column.logical) {
    case LogicalType::none: break;
    case LogicalType::string: thrift.field_struct(1); thrift.end_struct(); break;
    case LogicalType::decimal:
      thrift.field_struct(5);
      thrift.field_i32(1, column.scale);
      thrift.field_i32(2, column.precision);
      thrift.end_struct();
      break;
    case LogicalType::date: thrift.field_struct(6); thrift.end_struct(); break;
    case LogicalType::time_micros:
      thrift.field_struct(7);
      write_time_unit_micros(thrift, false);
      thrift.end_struct();
      break;
    case LogicalType::timestamp_micros:
    case LogicalType::timestamp_micros_utc:
      thrift.field_struct(8);
      write_time_unit_micros(thrift, column.logical == LogicalType::timestamp_micros_utc);
      thrift.end_struct();
      break;
    case LogicalType::int16:
      thrift.field_struct(10);
      thrift.field_i8(1, 16);
      thrift.field_bool(2, true);
      thrift.end_struct();
      break;
    case LogicalType::json: thrift.field_struct(12); thrift.end_struct(); break;
    case LogicalType::uuid: thrift.field_struct(14); thrift.end_struct(); break;
  }
  thrift.end_struct();
}

void write_schema_element(ThriftWriter& thrift, const Column& column) {
  thrift.list_struct();
  thrift.field_i32(1, detail::thrift_type(column.physical));
  if (column.physical == PhysicalType::fixed_len_byte_array) thrift.field_i32(2, column.type_length);
  thrift.field_i32(3, column.nullable ? 1 : 0);  // OPTIONAL : REQUIRED
  thrift.field_binary(4, column.name);
  if (const int converted = converted_type(column); converted >= 0) thrift.field_i32(6, converted);
  if (column.logical == LogicalType::decimal) {
    thrift.field_i32(7, column.scale);
    thrift.field_i32(8, column.precision);
  }
  write_logical_type(thrift, column);
  thrift.end_struct();
}

}  // namespace

FileWriter::FileWriter(std::vector<Column> columns, WriterOptions options)
    : columns_(std::move(columns)),
      options_(std::move(options)),
      compressor_(std::make_unique<detail::PageCompressor>(options_)) {
  if (columns_.empty()) throw std::logic_error("parquet: a file needs at least one column");
  for (const auto& column : columns_)
    writers_.push_back(std::make_unique<detail::ColumnWriter>(column, options_, *compressor_));
}

FileWriter::FileWriter(FileWriter&&) noexcept = default;
FileWriter& FileWriter::operator=(FileWriter&&) noexcept = default;
FileWriter::~FileWriter() = default;

std::size_t FileWriter::memory_bound(std::size_t columns, const WriterOptions& options) {
  const std::size_t per_column = 2 * options.page_bytes + (options.dictionary ? options.dictionary_bytes : 0);
  const std::size_t compressing = 2 * std::max(options.page_bytes, options.dictionary ? options.dictionary_bytes : 0) +
                                  detail::PageCompressor::context_bytes;
  return options.row_group_bytes + columns * per_column + compressing;
}

void FileWriter::write(const Value& value) {
  if (finished_ || next_column_ == writers_.size()) throw std::logic_error("parquet: a value past the row's last column");
  writers_[next_column_]->write(value);
  ++next_column_;
}

void FileWriter::end_row() {
  if (next_column_ != writers_.size()) throw std::logic_error("parquet: a row ended before its last column");
  next_column_ = 0;
  ++rows_;
  ++row_group_rows_;
  std::size_t buffered = 0;
  for (const auto& writer : writers_) buffered += writer->buffered_bytes();
  if (buffered >= options_.row_group_bytes) close_row_group();
}

void FileWriter::finish() {
  if (finished_) throw std::logic_error("parquet: finish() called twice");
  if (next_column_ != 0) throw std::logic_error("parquet: finish() in the middle of a row");
  close_row_group();
  if (offset_ == 0) append_output(std::string(magic));
  std::string tail = footer();
  const auto length = static_cast<std::uint32_t>(tail.size());
  for (int byte = 0; byte < 4; ++byte) tail.push_back(static_cast<char>(length >> (8 * byte)));
  tail += magic;
  append_output(std::move(tail));
  finished_ = true;
}

void FileWriter::close_row_group() {
  if (row_group_rows_ == 0) return;
  if (offset_ == 0) append_output(std::string(magic));
  const auto start = static_cast<std::int64_t>(offset_);
  std::int64_t uncompressed = 0, compressed = 0;
  std::vector<std::string> chunks;
  for (auto& writer : writers_) {
    auto chunk = writer->close_chunk(offset_);
    uncompressed += chunk.uncompressed_bytes;
    compressed += chunk.compressed_bytes;
    chunks.push_back(std::move(chunk.metadata));
    for (auto& piece : chunk.pieces) append_output(std::move(piece));
  }
  std::string row_group;
  ThriftWriter thrift(row_group);
  thrift.begin_struct();
  thrift.field_list(1, ThriftType::structure, chunks.size());
  for (const auto& chunk : chunks) thrift.encoded_struct(chunk);
  thrift.field_i64(2, uncompressed);
  thrift.field_i64(3, static_cast<std::int64_t>(row_group_rows_));
  thrift.field_i64(5, start);
  thrift.field_i64(6, compressed);
  thrift.end_struct();
  row_groups_.push_back(std::move(row_group));
  row_group_rows_ = 0;
}

std::string FileWriter::footer() const {
  std::string out;
  ThriftWriter thrift(out);
  thrift.begin_struct();
  thrift.field_i32(1, 1);  // format version 1: data pages v1, read by every reader
  thrift.field_list(2, ThriftType::structure, columns_.size() + 1);
  thrift.list_struct();
  thrift.field_binary(4, "schema");
  thrift.field_i32(5, static_cast<std::int32_t>(columns_.size()));
  thrift.end_struct();
  for (const auto& column : columns_) write_schema_element(thrift, column);
  thrift.field_i64(3, static_cast<std::int64_t>(rows_));
  thrift.field_list(4, ThriftType::structure, row_groups_.size());
  for (const auto& row_group : row_groups_) thrift.encoded_struct(row_group);
  thrift.field_binary(6, options_.created_by);
  // TypeDefinedOrder for every column: min_value and max_value follow each type's own order.
  thrift.field_list(7, ThriftType::structure, columns_.size());
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    thrift.list_struct();
    thrift.field_struct(1);
    thrift.end_struct();
    thrift.end_struct();
  }
  thrift.end_struct();
  return out;
}

void FileWriter::append_output(std::string bytes) {
  if (bytes.empty()) return;
  offset_ += bytes.size();
  pending_size_ += bytes.size();
  pending_.push_back(std::move(bytes));
}

void FileWriter::take_output(std::string& out, std::size_t limit) {
  while (limit > 0 && !pending_.empty()) {
    const std::string& front = pending_.front();
    const std::size_t n = std::min(limit, front.size() - pending_front_offset_);
    out.append(front, pending_front_offset_, n);
    pending_front_offset_ += n;
    pending_size_ -= n;
    limit -= n;
    if (pending_front_offset_ == front.size()) {
      pending_.pop_front();
      pending_front_offset_ = 0;
    }
  }
}

}  // namespace pg2s3::parquet

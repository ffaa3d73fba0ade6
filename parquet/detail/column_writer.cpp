#include "parquet/detail/column_writer.hpp"

#include "parquet/detail/compression.hpp"
#include "parquet/detail/rle_hybrid.hpp"
#include "parquet/detail/thrift_compact.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace pg2s3::parquet::detail {

namespace {

// parquet.thrift's numbers.
constexpr int page_data = 0, page_dictionary = 2;
constexpr int encoding_plain = 0, encoding_rle = 3, encoding_delta_binary_packed = 5, encoding_rle_dictionary = 8;
// A dictionary pays when values repeat. Once this many values have been looked up (or the first page
// closes, if sooner), a dictionary holding more than half of them is dropped: values that seldom repeat
// cost less PLAIN, where the page's compression still finds what they share, than as a dictionary and
// indices, and a column of distinct values spends no more time in the dictionary than this.
constexpr std::size_t dictionary_sample = 10'000;

}  // namespace

int thrift_type(PhysicalType type) {
  switch (type) {
    case PhysicalType::boolean: return 0;
    case PhysicalType::int32: return 1;
    case PhysicalType::int64: return 2;
    case PhysicalType::float32: return 4;
    case PhysicalType::float64: return 5;
    case PhysicalType::byte_array: return 6;
    case PhysicalType::fixed_len_byte_array: return 7;
  }
  return 0;
}

namespace {

template <class Number>
void append_little_endian(Number number, std::string& out) {
  static_assert(std::endian::native == std::endian::little);
  char bytes[sizeof number];
  std::memcpy(bytes, &number, sizeof number);
  out.append(bytes, sizeof number);
}

// A value's bytes as PLAIN writes them, without a byte array's length: its key in a dictionary.
template <class Number>
std::string_view key_bytes(const Number& number) {
  return {reinterpret_cast<const char*>(&number), sizeof number};
}

std::string_view key_bytes(std::string_view bytes) { return bytes; }

// A PageHeader: its type and sizes, then the type's own header (field `id`) as `details` writes it.
template <class Details>
std::string page_header(int type, std::size_t uncompressed, std::size_t compressed, std::int16_t id, Details details) {
  std::string header;
  ThriftWriter thrift(header);
  thrift.begin_struct();
  thrift.field_i32(1, type);
  thrift.field_i32(2, static_cast<std::int32_t>(uncompressed));
  thrift.field_i32(3, static_cast<std::int32_t>(compressed));
  thrift.field_struct(id);
  details(thrift);
  thrift.end_struct();
  thrift.end_struct();
  return header;
}

std::size_t expected_index(PhysicalType type) {
  switch (type) {
    case PhysicalType::boolean: return 1;
    case PhysicalType::int32: return 2;
    case PhysicalType::int64: return 3;
    case PhysicalType::float32: return 4;
    case PhysicalType::float64: return 5;
    case PhysicalType::byte_array:
    case PhysicalType::fixed_len_byte_array: return 6;
  }
  return 0;
}

}  // namespace

ColumnWriter::ColumnWriter(const Column& column, const WriterOptions& options, PageCompressor& compressor)
    : column_(column),
      options_(options),
      compressor_(&compressor),
      value_index_(expected_index(column.physical)),
      statistics_(column),
      dictionary_mode_(options.dictionary && column.physical != PhysicalType::boolean),
      dictionary_(column.physical == PhysicalType::byte_array) {}

void ColumnWriter::write(const Value& value) {
  if (value.index() == 0) return write_null();
  if (value.index() != value_index_) throw std::logic_error("parquet: a value of the wrong type for column " + column_.name);
  // The one dispatch on the value's type: what follows is compiled for that type alone.
  std::visit(
      [this](auto v) {
        if constexpr (!std::is_same_v<decltype(v), std::monostate>) write_value(v);
      },
      value);
}

void ColumnWriter::write_null() {
  if (!column_.nullable) throw std::logic_error("parquet: NULL in required column " + column_.name);
  ++page_values_;
  levels_.push_back(0);
  statistics_.add_null();
  if (open_page_memory() >= options_.page_bytes) close_page();
}

template <class T>
void ColumnWriter::write_value(T value) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    if (column_.physical == PhysicalType::fixed_len_byte_array && value.size() != static_cast<std::size_t>(column_.type_length))
      throw std::logic_error("parquet: a value of the wrong length for column " + column_.name);
  }
  ++page_values_;
  if (column_.nullable) levels_.push_back(1);
  statistics_.add(value);
  if (!dictionary_mode_ || !add_to_dictionary(key_bytes(value))) append_plain(value);
  if (dictionary_mode_ && !dictionary_tested_ && indices_.size() == dictionary_sample) test_dictionary();
  if (open_page_memory() >= options_.page_bytes) close_page();
}

bool ColumnWriter::add_to_dictionary(std::string_view key) {
  const auto index = dictionary_.find_or_add(key, options_.dictionary_bytes);
  if (!index) {
    // The dictionary stays for the pages that use it; this page and the rest of the chunk do without.
    --page_values_;
    if (column_.nullable) levels_.pop_back();
    close_page();
    ++page_values_;
    if (column_.nullable) levels_.push_back(1);
    dictionary_mode_ = false;
    return false;
  }
  indices_.push_back(*index);
  return true;
}

// Called before the chunk's first dictionary page closes, so the open page's indices are all it used.
void ColumnWriter::test_dictionary() {
  dictionary_tested_ = true;
  if (2 * dictionary_.size() <= indices_.size()) return;
  for (std::uint32_t index : indices_) plain_values_ += dictionary_.plain_entry(index);
  indices_.clear();
  dictionary_ = Dictionary(column_.physical == PhysicalType::byte_array);
  dictionary_mode_ = false;
}

void ColumnWriter::append_plain(bool flag) {
  if (booleans_ % 8 == 0) plain_values_.push_back('\0');
  if (flag) plain_values_.back() = static_cast<char>(plain_values_.back() | (1 << (booleans_ % 8)));
  ++booleans_;
}

template <class Number>
void ColumnWriter::append_plain(Number number) {
  append_little_endian(number, plain_values_);
}

void ColumnWriter::append_plain(std::string_view bytes) {
  if (column_.physical == PhysicalType::byte_array) append_little_endian(static_cast<std::uint32_t>(bytes.size()), plain_values_);
  plain_values_.append(bytes);
}

void ColumnWriter::close_page() {
  if (page_values_ == 0) return;
  if (dictionary_mode_ && !dictionary_tested_) test_dictionary();
  std::string& body = compressor_->page_buffer();
  if (column_.nullable) {
    body.resize(sizeof(std::uint32_t));
    encode_rle_hybrid<std::uint8_t>(levels_, 1, body);
    const auto length = static_cast<std::uint32_t>(body.size() - sizeof(std::uint32_t));
    std::memcpy(body.data(), &length, sizeof length);
  }
  // A page of NULLs alone has no values to look up or take differences of: PLAIN, with nothing to say,
  // serves it. Integers not in a dictionary are written as differences when asked, which for ids,
  // timestamps and other counts take a few bits where PLAIN takes 4 or 8 bytes.
  const bool delta = options_.delta_integers && !plain_values_.empty();
  int encoding = encoding_plain;
  if (dictionary_mode_ && !indices_.empty()) {
    encoding = encoding_rle_dictionary;
    const int width = bit_width(static_cast<std::uint32_t>(dictionary_.size() - 1));
    body.push_back(static_cast<char>(width));
    encode_rle_hybrid<std::uint32_t>(indices_, width, body);
    dictionary_pages_ = true;
  } else if (delta && column_.physical == PhysicalType::int32) {
    encoding = encoding_delta_binary_packed;
    encode_delta_binary_packed<std::int32_t>(plain_values_, body);
    delta_pages_ = true;
  } else if (delta && column_.physical == PhysicalType::int64) {
    encoding = encoding_delta_binary_packed;
    encode_delta_binary_packed<std::int64_t>(plain_values_, body);
    delta_pages_ = true;
  } else {
    body += plain_values_;
    plain_pages_ = true;
  }

  const std::string_view compressed = compressor_->compress(body);
  const std::string header = page_header(page_data, body.size(), compressed.size(), 5, [&](ThriftWriter& thrift) {
    thrift.field_i32(1, static_cast<std::int32_t>(page_values_));
    thrift.field_i32(2, encoding);
    thrift.field_i32(3, encoding_rle);
    thrift.field_i32(4, encoding_rle);
  });

  pages_uncompressed_bytes_ += static_cast<std::int64_t>(header.size() + body.size());
  std::string page;
  page.reserve(header.size() + compressed.size());
  page += header;
  page.append(compressed);
  pages_bytes_ += page.size();
  pages_.push_back(std::move(page));
  chunk_values_ += page_values_;
  page_values_ = 0;
  booleans_ = 0;
  levels_.clear();
  indices_.clear();
  plain_values_.clear();
}

ClosedChunk ColumnWriter::close_chunk(std::uint64_t file_offset) {
  close_page();
  ClosedChunk chunk;
  const auto start = static_cast<std::int64_t>(file_offset);
  std::int64_t data_offset = start;
  if (dictionary_pages_) {
    const std::string_view values = dictionary_.plain();
    const std::string_view page = compressor_->compress(values);
    std::string header = page_header(page_dictionary, values.size(), page.size(), 7, [&](ThriftWriter& thrift) {
      thrift.field_i32(1, static_cast<std::int32_t>(dictionary_.size()));
      thrift.field_i32(2, encoding_plain);
    });
    chunk.uncompressed_bytes += static_cast<std::int64_t>(header.size() + values.size());
    header.append(page);
    data_offset += static_cast<std::int64_t>(header.size());
    chunk.pieces.push_back(std::move(header));
  }
  chunk.uncompressed_bytes += pages_uncompressed_bytes_;
  for (auto& page : pages_) chunk.pieces.push_back(std::move(page));
  for (const auto& piece : chunk.pieces) chunk.compressed_bytes += static_cast<std::int64_t>(piece.size());

  ThriftWriter thrift(chunk.metadata);
  thrift.begin_struct();
  thrift.field_i64(2, start);
  thrift.field_struct(3);
  thrift.field_i32(1, thrift_type(column_.physical));
  std::vector<int> encodings{encoding_rle};
  if (plain_pages_ || dictionary_pages_) encodings.push_back(encoding_plain);
  if (dictionary_pages_) encodings.push_back(encoding_rle_dictionary);
  if (delta_pages_) encodings.push_back(encoding_delta_binary_packed);
  thrift.field_list(2, ThriftType::i32, encodings.size());
  for (int encoding : encodings) thrift.i32(encoding);
  thrift.field_list(3, ThriftType::binary, 1);
  thrift.binary(column_.name);
  thrift.field_i32(4, thrift_codec(options_.codec));
  thrift.field_i64(5, chunk_values_);
  thrift.field_i64(6, chunk.uncompressed_bytes);
  thrift.field_i64(7, chunk.compressed_bytes);
  thrift.field_i64(9, data_offset);
  if (dictionary_pages_) thrift.field_i64(11, start);
  statistics_.write(thrift, 12);
  thrift.end_struct();
  thrift.end_struct();

  *this = ColumnWriter(column_, options_, *compressor_);
  return chunk;
}

}  // namespace pg2s3::parquet::detail

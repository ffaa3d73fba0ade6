// The Parquet writer's pieces against known bytes: Thrift compact, RLE hybrid, dictionary, statistics.
#include "parquet/detail/column_writer.hpp"
#include "parquet/detail/compression.hpp"
#include "parquet/detail/dictionary.hpp"
#include "parquet/detail/rle_hybrid.hpp"
#include "parquet/detail/statistics.hpp"
#include "parquet/detail/thrift_compact.hpp"
#include "parquet/writer.hpp"

#include <catch2/catch.hpp>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

using namespace pg2s3::parquet;
using namespace pg2s3::parquet::detail;
using namespace std::string_literals;

namespace {

// Thrift compact read back, as far as a footer and page headers need: integers (zigzag undone), binary,
// lists and structs, a struct's fields by id.
struct Thrift {
  std::int64_t integer = 0;
  std::string bytes = {};
  std::vector<Thrift> list = {};
  std::map<int, Thrift> fields = {};
};

class ThriftReader {
 public:
  explicit ThriftReader(std::string_view in) : in_(in) {}

  Thrift structure() {
    Thrift value;
    for (int id = 0;;) {
      const std::uint8_t header = byte();
      if (header == 0) return value;
      const int type = header & 0x0F;
      id = header >> 4 ? id + (header >> 4) : static_cast<int>(unzigzag(varint()));
      // A boolean field's value is its type: 1 true, 2 false.
      value.fields[id] = type == 1 || type == 2 ? Thrift{type == 1} : element(type);
    }
  }

  std::size_t position() const { return at_; }

 private:
  Thrift element(int type) {
    Thrift value;
    switch (type) {
      case 1: case 2: case 3: value.integer = byte(); break;  // in a list, a boolean is a byte
      case 4: case 5: case 6: value.integer = unzigzag(varint()); break;
      case 8: {
        const std::uint64_t size = varint();
        if (size > in_.size() - at_) throw std::out_of_range("thrift: binary past the end");
        value.bytes = in_.substr(at_, size);
        at_ += size;
        break;
      }
      case 9: {
        const std::uint8_t header = byte();
        const std::uint64_t size = header >> 4 == 15 ? varint() : header >> 4;
        for (std::uint64_t i = 0; i < size; ++i) value.list.push_back(element(header & 0x0F));
        break;
      }
      case 12: return structure();
      default: throw std::runtime_error("thrift: type " + std::to_string(type) + " is not read here");
    }
    return value;
  }

  std::uint8_t byte() {
    if (at_ == in_.size()) throw std::out_of_range("thrift: past the end");
    return static_cast<std::uint8_t>(in_[at_++]);
  }

  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      const std::uint8_t next = byte();
      value |= std::uint64_t{next & 0x7Fu} << shift;
      if (!(next & 0x80)) return value;
    }
  }

  static std::int64_t unzigzag(std::uint64_t value) {
    return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
  }

  std::string_view in_;
  std::size_t at_ = 0;
};

// parquet.thrift's Encoding.
constexpr std::int64_t plain = 0, rle = 3, delta_binary_packed = 5, rle_dictionary = 8;

// The encodings of one column chunk: as its metadata in the footer lists them, and as its page headers
// (data pages: values and levels; the dictionary page: its values) name them.
struct ChunkEncodings {
  std::string column;
  std::set<std::int64_t> listed;
  std::set<std::int64_t> in_pages;
};

std::vector<ChunkEncodings> chunk_encodings(std::string_view file) {
  std::uint32_t length = 0;
  std::memcpy(&length, file.data() + file.size() - 8, sizeof length);
  const Thrift footer = ThriftReader(file.substr(file.size() - 8 - length, length)).structure();
  std::vector<ChunkEncodings> chunks;
  for (const Thrift& row_group : footer.fields.at(4).list)
    for (const Thrift& chunk : row_group.fields.at(1).list) {
      const Thrift& metadata = chunk.fields.at(3);
      auto& found = chunks.emplace_back(ChunkEncodings{metadata.fields.at(3).list.at(0).bytes, {}, {}});
      for (const Thrift& encoding : metadata.fields.at(2).list) found.listed.insert(encoding.integer);
      const auto first_page = metadata.fields.contains(11) ? metadata.fields.at(11) : metadata.fields.at(9);
      const auto end = static_cast<std::size_t>(first_page.integer + metadata.fields.at(7).integer);
      auto at = static_cast<std::size_t>(first_page.integer);
      while (at < end) {
        ThriftReader reader(file.substr(at));
        const Thrift header = reader.structure();
        if (header.fields.contains(7)) found.in_pages.insert(header.fields.at(7).fields.at(2).integer);
        for (int field : {2, 3, 4})  // a data page's values, definition levels, repetition levels
          if (header.fields.contains(5)) found.in_pages.insert(header.fields.at(5).fields.at(field).integer);
        at += reader.position() + static_cast<std::size_t>(header.fields.at(3).integer);
      }
      CHECK(at == end);  // the pages fill the chunk exactly
    }
  return chunks;
}

}  // namespace

TEST_CASE("Thrift compact: field deltas, long ids, zigzag varints, lists, booleans, nested structs", "[parquet]") {
  std::string out;
  ThriftWriter thrift(out);
  thrift.begin_struct();
  thrift.field_i32(1, 1);          // delta 1, i32: 0x15, zigzag(1) = 2
  thrift.field_binary(2, "ab");    // 0x18, length 2
  thrift.field_i64(20, -1);        // delta 18: type byte 0x06, then zigzag(20) = 40, then zigzag(-1) = 1
  thrift.field_list(21, ThriftType::i32, 3);  // 0x19, (3 << 4) | 5
  thrift.i32(150);                 // zigzag 300 = 0xAC 0x02
  thrift.i32(-2);                  // 3
  thrift.i32(0);
  thrift.field_bool(22, true);     // 0x11
  thrift.field_struct(23);         // 0x1C; the inner struct counts its ids from 0
  thrift.field_bool(1, false);     // 0x12
  thrift.end_struct();
  thrift.field_list(24, ThriftType::binary, 15);  // 15 elements: 0xF8 then varint 15
  thrift.end_struct();
  const std::string expected = "\x15\x02\x18\x02"s "ab" "\x06\x28\x01\x19\x35\xAC\x02\x03\x00\x11\x1C\x12\x00\x19\xF8\x0F\x00"s;
  CHECK(out == expected);
}

TEST_CASE("RLE hybrid: the specification's bit-packing example, runs, and a run topping up a group", "[parquet]") {
  std::string out;
  const std::vector<std::uint32_t> counting{0, 1, 2, 3, 4, 5, 6, 7};
  encode_rle_hybrid<std::uint32_t>(counting, 3, out);
  CHECK(out == "\x03\x88\xC6\xFA"s);

  out.clear();
  const std::vector<std::uint8_t> repeated(10, 1);
  encode_rle_hybrid<std::uint8_t>(repeated, 1, out);
  CHECK(out == "\x14\x01"s);  // 10 << 1, then the value in one byte

  // 3 literals, then 13 ones: 5 of them complete the literal group, the other 8 are a run.
  out.clear();
  std::vector<std::uint8_t> mixed{0, 1, 0};
  mixed.insert(mixed.end(), 13, 1);
  encode_rle_hybrid<std::uint8_t>(mixed, 1, out);
  CHECK(out == "\x03\xFA\x10\x01"s);  // one bit-packed group 0b11111010, then a run of 8 ones

  // Two-byte values in runs; a lone trailing literal padded to a group.
  out.clear();
  const std::vector<std::uint32_t> wide{300, 300, 300, 300, 300, 300, 300, 300, 7};
  encode_rle_hybrid<std::uint32_t>(wide, 9, out);
  CHECK(out == "\x10\x2C\x01\x03\x07\x00\x00\x00\x00\x00\x00\x00\x00"s);

  CHECK(bit_width(0) == 1);
  CHECK(bit_width(1) == 1);
  CHECK(bit_width(2) == 2);
  CHECK(bit_width(255) == 8);
  CHECK(bit_width(256) == 9);
}

TEST_CASE("DELTA_BINARY_PACKED: the header, a block's smallest difference and widths, wrapping differences", "[parquet]") {
  const auto encoded = []<class Integer>(std::initializer_list<Integer> values) {
    std::string plain, out;
    for (Integer value : values) plain.append(reinterpret_cast<const char*>(&value), sizeof value);
    encode_delta_binary_packed<Integer>(plain, out);
    return out;
  };
  // Block of 128 values in 4 miniblocks, 5 values, first 1; differences all 1: width 0, nothing packed.
  CHECK(encoded(std::initializer_list<std::int32_t>{1, 2, 3, 4, 5}) == "\x80\x01\x04\x05\x02\x02\0\0\0\0"s);
  // Differences -2 -2 -2 1 1 1 1: smallest -2 (zigzag 3), then 0 0 0 3 3 3 3 in 2 bits, padded to 32.
  CHECK(encoded(std::initializer_list<std::int32_t>{7, 5, 3, 1, 2, 3, 4, 5}) ==
        "\x80\x01\x04\x08\x0e\x03\x02\0\0\0\xc0\x3f\0\0\0\0\0\0"s);
  // From the largest int64 to the smallest is a difference of 1, wrapping as readers add it.
  CHECK(encoded(std::initializer_list<std::int64_t>{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) ==
        "\x80\x01\x04\x02\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\x02\0\0\0\0"s);
  // 130 values: 129 differences, a second block of one difference, its unused miniblocks' widths zero.
  std::vector<std::int64_t> many;
  for (std::int64_t i = 0; i < 130; ++i) many.push_back(i * i);
  std::string plain, out;
  for (std::int64_t value : many) plain.append(reinterpret_cast<const char*>(&value), sizeof value);
  encode_delta_binary_packed<std::int64_t>(plain, out);
  // Block 1: differences 1, 3, ... 255, smallest 1, the rest 0, 2, ... 254 in miniblocks of 6, 7, 8, 8 bits.
  CHECK(out.substr(0, 11) == "\x80\x01\x04\x82\x01\x00\x02\x06\x07\x08\x08"s);
  // Block 2: the one difference, 257 (zigzag 514), and four widths of 0: nothing packed.
  CHECK(out.size() == 11 + 4 * (6 + 7 + 8 + 8) + 2 + 4);
  CHECK(out.substr(out.size() - 6) == "\x82\x04\0\0\0\0"s);
}

TEST_CASE("PageCompressor: each codec's pages, one after another with its state and buffers reused, decompress to themselves", "[parquet]") {
  const std::string large = [] {
    std::string text;
    for (int i = 0; i < 20'000; ++i) text += "row " + std::to_string(i * 7919 % 10007) + ";";
    return text;
  }();
  const auto decompressed = [](Codec codec, std::string_view bytes, std::size_t size) {
    std::string out(size, '\0');
    std::size_t length = size;
    if (codec == Codec::zstd) length = ZSTD_decompress(out.data(), size, bytes.data(), bytes.size());
    if (codec == Codec::snappy && snappy_uncompress(bytes.data(), bytes.size(), out.data(), &length) != SNAPPY_OK) length = 0;
    if (codec == Codec::gzip) {
      z_stream stream{};
      inflateInit2(&stream, 15 + 16);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
      stream.avail_in = static_cast<uInt>(bytes.size());
      stream.next_out = reinterpret_cast<Bytef*>(out.data());
      stream.avail_out = static_cast<uInt>(size);
      length = inflate(&stream, Z_FINISH) == Z_STREAM_END && stream.avail_in == 0 ? stream.total_out : 0;
      inflateEnd(&stream);
    }
    if (codec == Codec::none) out = bytes;
    out.resize(length);
    return out;
  };
  for (Codec codec : {Codec::zstd, Codec::snappy, Codec::gzip, Codec::none}) {
    WriterOptions options;
    options.codec = codec;
    options.page_bytes = 16 * 1024;  // buffers of 32 KiB kept: the large page's are let go after it
    options.dictionary = false;
    PageCompressor compressor(options);
    for (const std::string& page : {large, std::string("a smaller page after a large one"), large.substr(1000, 30'000)}) {
      std::string& buffer = compressor.page_buffer();
      CHECK(buffer.empty());
      buffer = page;
      const std::string_view compressed = compressor.compress(buffer);
      if (codec != Codec::none && page.size() > 1000) CHECK(compressed.size() < page.size());
      CHECK(decompressed(codec, compressed, page.size()) == page);
    }
  }
}

TEST_CASE("Dictionary: values found again by their bytes, PLAIN with lengths, growth, and the budget", "[parquet]") {
  Dictionary strings(true);
  CHECK(strings.find_or_add("ab", 1 << 20) == 0u);
  CHECK(strings.find_or_add("", 1 << 20) == 1u);
  CHECK(strings.find_or_add("ab", 1 << 20) == 0u);
  CHECK(strings.find_or_add("abc", 1 << 20) == 2u);
  CHECK(strings.plain() == "\x02\0\0\0ab\0\0\0\0\x03\0\0\0abc"s);
  CHECK(strings.plain_entry(2) == "\x03\0\0\0abc"s);

  // Thousands of keys, many sharing all but their last bytes, each found again at its own index.
  Dictionary numbers(false);
  for (std::uint64_t round = 0; round < 2; ++round)
    for (std::uint64_t i = 0; i < 5000; ++i) {
      const std::uint64_t key = i << 40 | i;
      REQUIRE(numbers.find_or_add(std::string_view(reinterpret_cast<const char*>(&key), sizeof key), 1 << 20) == i);
    }
  CHECK(numbers.size() == 5000);
  CHECK(numbers.plain().size() == 5000 * 8);

  // A new value that would take it past the budget is refused; known ones are still found.
  Dictionary small(true);
  std::uint32_t added = 0;
  while (small.find_or_add(std::to_string(added), 2048)) ++added;
  CHECK(added > 10);
  CHECK(small.memory_bytes() <= 2048);
  CHECK(small.size() == added);
  CHECK(small.find_or_add("0", 2048) == 0u);
}

TEST_CASE("A dictionary whose values seldom repeat is dropped before its first page: the chunk is PLAIN", "[parquet]") {
  const Column column{"v", PhysicalType::byte_array, LogicalType::string};
  WriterOptions options;
  options.codec = Codec::none;
  PageCompressor compressor(options);
  ColumnWriter distinct(column, options, compressor);
  for (int i = 0; i < 100; ++i) distinct.write(std::string_view(i % 2 ? "x" : std::to_string(i)));
  CHECK(distinct.using_dictionary());  // nothing decided before the sample or the first page
  const auto plain = distinct.close_chunk(4);
  CHECK(distinct.using_dictionary());  // the next chunk tries again
  REQUIRE(plain.pieces.size() == 1);  // one data page, no dictionary page
  CHECK(plain.pieces[0].find("\x02\0\0\0" "98" "\x01\0\0\0x"s) != std::string::npos);  // the values, PLAIN
  CHECK(plain.metadata.find("\x25\x06\x00"s) != std::string::npos);  // encodings RLE, PLAIN

  ColumnWriter repeating(column, options, compressor);
  for (int i = 0; i < 20'000; ++i) repeating.write(std::string_view(std::to_string(i % 1000)));
  CHECK(repeating.using_dictionary());  // 1,000 entries for the sample's 10,000 values
  const auto dictionary = repeating.close_chunk(4);
  REQUIRE(dictionary.pieces.size() == 2);  // the dictionary page, then a data page of indices
  CHECK(dictionary.metadata.find("\x35\x06\x00\x10"s) != std::string::npos);  // RLE, PLAIN, RLE_DICTIONARY

  // Past the sample, with no page closed yet: the indices already taken become PLAIN values.
  ColumnWriter unique(column, options, compressor);
  for (int i = 0; i < 10'000; ++i) unique.write(std::string_view(std::to_string(i)));
  CHECK_FALSE(unique.using_dictionary());
  unique.write(std::string_view("last"));
  const auto converted = unique.close_chunk(4);
  REQUIRE(converted.pieces.size() == 1);
  CHECK(converted.pieces[0].find("\x01\0\0\0" "0" "\x01\0\0\0" "1" "\x01\0\0\0" "2"s) != std::string::npos);
  CHECK(converted.pieces[0].find("\x04\0\0\0" "9999" "\x04\0\0\0" "last"s) != std::string::npos);
}

TEST_CASE("Dictionary encoding falls back to PLAIN once the dictionary outgrows its budget", "[parquet]") {
  const Column column{"v", PhysicalType::int64};
  WriterOptions options;
  options.dictionary_bytes = 4096;
  PageCompressor compressor(options);
  ColumnWriter writer(column, options, compressor);
  for (int round = 0; round < 100; ++round)
    for (std::int64_t v = 0; v < 10; ++v) writer.write(v);
  CHECK(writer.using_dictionary());
  std::int64_t v = 10;
  for (; writer.using_dictionary(); ++v) writer.write(v);
  CHECK(v > 10);
  CHECK(v < 100);  // 4 KiB holds a few dozen entries with their index
  writer.write(std::monostate{});
  const auto chunk = writer.close_chunk(4);
  REQUIRE(chunk.pieces.size() == 3);  // the dictionary page, then the data pages: indices, then PLAIN values
  // Every encoding is listed in the column's metadata: RLE (levels), PLAIN (the dictionary page and the
  // last data page), RLE_DICTIONARY.
  CHECK(chunk.metadata.find("\x35\x06\x00\x10"s) != std::string::npos);
  // The next chunk starts with a dictionary again.
  CHECK(writer.using_dictionary());
}

TEST_CASE("Statistics: numbers, NaN left out, signed zeros, unsigned bytes, signed decimals, long bounds cut", "[parquet]") {
  Statistics ints(Column{"i", PhysicalType::int32});
  for (std::int32_t v : {5, -3, 12, 0}) ints.add(v);
  ints.add_null();
  CHECK(ints.null_count() == 1);
  CHECK(ints.min_bytes() == "\xFD\xFF\xFF\xFF"s);
  CHECK(ints.max_bytes() == "\x0C\x00\x00\x00"s);

  Statistics doubles(Column{"d", PhysicalType::float64});
  doubles.add(std::numeric_limits<double>::quiet_NaN());
  CHECK_FALSE(doubles.has_bounds());
  doubles.add(0.0);
  CHECK(doubles.min_bytes() == std::string("\0\0\0\0\0\0\0\x80", 8));  // -0.0
  CHECK(doubles.max_bytes() == std::string(8, '\0'));                 // +0.0
  doubles.add(-std::numeric_limits<double>::infinity());
  CHECK(doubles.min_bytes() == std::string("\0\0\0\0\0\0\xF0\xFF", 8));

  Statistics strings(Column{"s", PhysicalType::byte_array, LogicalType::string});
  for (std::string_view v : {"b", "\xC3\xA9", "a", ""}) strings.add(v);
  CHECK(strings.min_bytes() == "");
  CHECK(strings.max_bytes() == "\xC3\xA9");  // é sorts after ASCII: bytes compare unsigned

  Column decimal{"n", PhysicalType::fixed_len_byte_array, LogicalType::decimal, 2, 4, 0};
  Statistics decimals(decimal);
  decimals.add(std::string_view("\x00\x01", 2));  // 1
  decimals.add(std::string_view("\xFF\xFE", 2));  // -2
  decimals.add(std::string_view("\x7F\x00", 2));  // 32512
  CHECK(decimals.min_bytes() == "\xFF\xFE");
  CHECK(decimals.max_bytes() == "\x7F\x00"s);

  // A bound longer than 64 bytes: min cut to a prefix, max rounded up, both marked inexact.
  Statistics long_strings(Column{"s", PhysicalType::byte_array, LogicalType::string});
  long_strings.add(std::string_view(std::string(100, 'a')));
  long_strings.add(std::string_view(std::string(63, 'b') + "\xFF\xFF"));
  std::string out;
  ThriftWriter thrift(out);
  thrift.begin_struct();
  long_strings.write(thrift, 1);
  thrift.end_struct();
  CHECK(out.find(std::string(62, 'b') + "c") != std::string::npos);
  CHECK(out.find("\x40" + std::string(64, 'a')) != std::string::npos);
  CHECK(out.find(std::string(65, 'a')) == std::string::npos);
  CHECK(out.find("\x12\x12") != std::string::npos);  // is_max_value_exact and is_min_value_exact false
}

TEST_CASE("FileWriter: magic at both ends, bytes handed out in order and within the limit, misuse refused", "[parquet]") {
  WriterOptions options;
  options.row_group_bytes = 1000;
  options.codec = Codec::none;
  FileWriter writer({{"id", PhysicalType::int64, LogicalType::none, 0, 0, 0, false}, {"s", PhysicalType::byte_array, LogicalType::string}},
                    options);
  CHECK_THROWS_AS(writer.end_row(), std::logic_error);  // before its columns
  std::string file;
  for (std::int64_t i = 0; i < 1000; ++i) {
    writer.write(i);
    writer.write(i % 2 ? Value() : Value(std::string_view("x")));
    writer.end_row();
    const std::size_t before = file.size();
    writer.take_output(file, 100);
    CHECK(file.size() - before <= 100);
  }
  CHECK_THROWS_AS(writer.write(true), std::logic_error);  // a bool for an int64 column
  writer.finish();
  CHECK_THROWS_AS(writer.finish(), std::logic_error);
  writer.take_output(file);
  CHECK(writer.pending_bytes() == 0);
  CHECK(file.size() == writer.bytes_written());
  CHECK(file.substr(0, 4) == "PAR1");
  CHECK(file.substr(file.size() - 4) == "PAR1");
  CHECK(writer.rows() == 1000);

  FileWriter required({{"id", PhysicalType::int64, LogicalType::none, 0, 0, 0, false}}, options);
  CHECK_THROWS_AS(required.write(Value()), std::logic_error);
}

TEST_CASE("Integers are PLAIN unless delta_integers asks: only then do chunks list DELTA_BINARY_PACKED and pages use it",
          "[parquet]") {
  // Ascending ids and scattered days never repeat (no dictionary); buckets repeat, then outgrow their
  // dictionary within a chunk; small pages and row groups, so that each column has many chunks and pages.
  const std::vector<Column> columns{{"id", PhysicalType::int64, LogicalType::none, 0, 0, 0, false},
                                    {"day", PhysicalType::int32, LogicalType::date},
                                    {"bucket", PhysicalType::int32},
                                    {"name", PhysicalType::byte_array, LogicalType::string}};
  // Each column's encodings over all its chunks, each chunk's list checked against its pages.
  const auto encodings_written = [&](bool delta_integers) {
    WriterOptions options;
    options.codec = Codec::none;
    options.page_bytes = 4096;
    options.row_group_bytes = 32 * 1024;
    options.dictionary_bytes = 4096;
    options.delta_integers = delta_integers;
    FileWriter writer(columns, options);
    for (std::int64_t i = 0; i < 50'000; ++i) {
      writer.write(i);
      writer.write(i % 10 == 0 ? Value() : Value(static_cast<std::int32_t>(i * 7919 % 100'003)));
      writer.write(static_cast<std::int32_t>(i < 20'000 ? i % 20 : i));
      const std::string name = "user " + std::to_string(i % 300);
      writer.write(std::string_view(name));
      writer.end_row();
    }
    writer.finish();
    std::string file;
    writer.take_output(file);
    const auto chunks = chunk_encodings(file);
    CHECK(chunks.size() > 4 * 4);  // several row groups
    std::map<std::string, std::set<std::int64_t>> by_column;
    for (const auto& chunk : chunks) {
      INFO(chunk.column);
      CHECK(chunk.listed == chunk.in_pages);
      by_column[chunk.column].insert(chunk.in_pages.begin(), chunk.in_pages.end());
    }
    return by_column;
  };

  auto plain_file = encodings_written(false);
  CHECK(plain_file["id"] == std::set<std::int64_t>{plain, rle});
  CHECK(plain_file["day"] == std::set<std::int64_t>{plain, rle});
  CHECK(plain_file["bucket"] == std::set<std::int64_t>{plain, rle, rle_dictionary});
  CHECK_FALSE(plain_file["name"].contains(delta_binary_packed));

  auto delta_file = encodings_written(true);
  CHECK(delta_file["id"] == std::set<std::int64_t>{rle, delta_binary_packed});
  CHECK(delta_file["day"] == std::set<std::int64_t>{rle, delta_binary_packed});
  CHECK(delta_file["bucket"] == std::set<std::int64_t>{plain, rle, rle_dictionary, delta_binary_packed});
  CHECK_FALSE(delta_file["name"].contains(delta_binary_packed));  // differences are for integers only
}

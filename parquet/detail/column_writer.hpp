// One column's chunk of the current row group: its open page, its dictionary, its finished pages.
#pragma once

#include "parquet/detail/compression.hpp"
#include "parquet/detail/dictionary.hpp"
#include "parquet/detail/statistics.hpp"
#include "parquet/writer.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pg2s3::parquet::detail {

// The physical type's number in parquet.thrift's Type.
int thrift_type(PhysicalType type);

// A closed column chunk: its bytes in file order, and its ColumnChunk struct for the footer.
struct ClosedChunk {
  std::vector<std::string> pieces;  // the dictionary page (if any), then the data pages
  std::string metadata;             // ColumnChunk, thrift compact
  std::int64_t uncompressed_bytes = 0;
  std::int64_t compressed_bytes = 0;
};

class ColumnWriter {
 public:
  // `compressor` (for options.codec) serves every column of the file and outlives the writer.
  ColumnWriter(const Column& column, const WriterOptions& options, PageCompressor& compressor);

  void write(const Value& value);
  // What the chunk holds so far, as it will be written (the open page and dictionary before compression).
  std::size_t buffered_bytes() const { return pages_bytes_ + dictionary_.plain().size() + open_page_memory(); }
  // Closes the open page and hands out the chunk, which starts at `file_offset`; the writer starts a new one.
  ClosedChunk close_chunk(std::uint64_t file_offset);

  bool using_dictionary() const { return dictionary_mode_; }

 private:
  void write_null();
  template <class T>
  void write_value(T value);
  bool add_to_dictionary(std::string_view key);  // false when the dictionary is full
  void test_dictionary();
  void append_plain(bool flag);
  template <class Number>
  void append_plain(Number number);
  void append_plain(std::string_view bytes);
  std::size_t open_page_memory() const {
    return levels_.size() + indices_.size() * sizeof(std::uint32_t) + plain_values_.size();
  }
  void close_page();
  void append_page(std::string header, std::string_view body);

  Column column_;
  WriterOptions options_;
  PageCompressor* compressor_;
  std::size_t value_index_;  // the alternative of Value that the column's physical type takes
  Statistics statistics_;

  // The open page.
  std::vector<std::uint8_t> levels_;     // definition levels, when the column is nullable
  std::vector<std::uint32_t> indices_;   // dictionary indices, in dictionary mode
  std::string plain_values_;             // PLAIN values otherwise
  std::size_t booleans_ = 0;             // bits of plain_values_ used, for a boolean column
  std::int64_t page_values_ = 0;         // NULLs included

  // The chunk.
  bool dictionary_mode_;
  bool dictionary_tested_ = false;  // whether its values were seen to repeat enough (test_dictionary)
  Dictionary dictionary_;
  bool dictionary_pages_ = false;  // some data page refers to the dictionary
  bool plain_pages_ = false;
  bool delta_pages_ = false;
  // Finished data pages, headers included, compressed; each its own string, so that memory is what they
  // hold, not what a growing buffer doubled to.
  std::vector<std::string> pages_;
  std::size_t pages_bytes_ = 0;
  std::int64_t pages_uncompressed_bytes_ = 0;
  std::int64_t chunk_values_ = 0;
};

}  // namespace pg2s3::parquet::detail

// Reads PostgreSQL's binary COPY format incrementally: chunks in as they arrive, rows of field views out.
#pragma once

#include "pg/error.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::pg {

// One field of a row: its bytes in the type's binary send format, or nothing for NULL.
using BinaryField = std::optional<std::string_view>;

// Usage: feed(chunk), then next_row() until it yields no row, then feed the next chunk; after the last
// chunk, finish() checks that the data ended with its trailer. A row split across chunks is copied
// into the parser (one row at most), the others are viewed where they lie in the chunk. Malformed
// data is an error value (errc::unexpected_result, naming what was wrong and the row).
class BinaryCopyParser {
 public:
  explicit BinaryCopyParser(std::size_t columns) : columns_(columns) {}

  // The chunk must stay alive and unchanged while rows of it are read.
  void feed(std::string_view chunk) { input_ = chunk; }

  // The next whole row; its views are valid until the next call. Nothing when the chunk is used up
  // (a partial row is kept for the next feed) or the trailer was read.
  Result<std::optional<std::span<const BinaryField>>> next_row();

  // After the last chunk: an error unless the trailer ended the data.
  Result<void> finish() const;

  std::uint64_t rows() const { return rows_; }

 private:
  // What parsing found at the front of some bytes: a whole unit of `size` bytes, or that at least
  // `size` more bytes are needed to tell.
  struct Step {
    enum { whole, need_more, trailer } kind;
    std::size_t size;
  };

  Result<Step> parse(std::string_view bytes);
  Result<Step> parse_header(std::string_view bytes) const;
  Result<Step> parse_row(std::string_view bytes);
  Error malformed(std::string what) const;

  std::size_t columns_;
  std::string_view input_;
  std::string carry_;  // the start of a unit that the last chunk ended in
  std::vector<BinaryField> fields_;
  bool row_in_carry_ = false;
  bool header_read_ = false;
  bool ended_ = false;
  std::uint64_t rows_ = 0;
};

}  // namespace pg2s3::pg

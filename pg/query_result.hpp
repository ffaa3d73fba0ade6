// The rows of a finished statement, read by column name in text format.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

struct pg_result;

namespace pg2s3::pg {

class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(pg_result* result);  // takes ownership

  int rows() const;
  int columns() const;
  int column(std::string_view name) const;  // -1 when there is none

  // What the result describes of a column (0-based), whatever its row count, as for a LIMIT 0 query.
  std::string_view column_name(int column) const;
  std::uint32_t column_type(int column) const;  // the type's OID
  int column_modifier(int column) const;        // the type modifier (numeric's precision and scale), -1 if none

  // The value as text; nothing for NULL. Throws std::out_of_range for a column the result lacks.
  std::optional<std::string_view> text(int row, std::string_view column) const;
  std::optional<std::int64_t> int64(int row, std::string_view column) const;

  // Rows the command touched, or copied for COPY ("COPY 42" is 42).
  std::uint64_t affected_rows() const;

 private:
  struct Free {
    void operator()(pg_result* result) const;
  };
  std::shared_ptr<pg_result> result_;
};

}  // namespace pg2s3::pg

#include "pg/query_result.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <stdexcept>
#include <string>

namespace pg2s3::pg {

void QueryResult::Free::operator()(pg_result* result) const { PQclear(result); }

QueryResult::QueryResult(pg_result* result) : result_(result, Free{}) {}

int QueryResult::rows() const { return result_ ? PQntuples(result_.get()) : 0; }
int QueryResult::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

int QueryResult::column(std::string_view name) const {
  for (int i = 0; i < columns(); ++i)
    if (name == PQfname(result_.get(), i)) return i;
  return -1;
}

std::string_view QueryResult::column_name(int column) const { return PQfname(result_.get(), column); }
std::uint32_t QueryResult::column_type(int column) const { return PQftype(result_.get(), column); }
int QueryResult::column_modifier(int column) const { return PQfmod(result_.get(), column); }

std::optional<std::string_view> QueryResult::text(int row, std::string_view column_name) const {
  const int index = column(column_name);
  if (index < 0) throw std::out_of_range("the result has no column " + std::string(column_name));
  if (row < 0 || row >= rows()) throw std::out_of_range("the result has no row " + std::to_string(row));
  if (PQgetisnull(result_.get(), row, index)) return std::nullopt;
  return std::string_view(PQgetvalue(result_.get(), row, index),
                          static_cast<std::size_t>(PQgetlength(result_.get(), row, index)));
}

std::optional<std::int64_t> QueryResult::int64(int row, std::string_view column_name) const {
  auto value = text(row, column_name);
  if (!value) return std::nullopt;
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), number);
  if (ec != std::errc{} || end != value->data() + value->size())
    throw std::invalid_argument("column " + std::string(column_name) + " is not an integer: " + std::string(*value));
  return number;
}

std::uint64_t QueryResult::affected_rows() const {
  if (!result_) return 0;
  const std::string_view tuples = PQcmdTuples(result_.get());
  std::uint64_t count = 0;
  std::from_chars(tuples.data(), tuples.data() + tuples.size(), count);
  return count;
}

}  // namespace pg2s3::pg

// PostgreSQL result columns as Parquet columns, and their binary COPY fields as Parquet values.
#pragma once

#include "engine/error.hpp"
#include "parquet/writer.hpp"
#include "pg/copy_binary.hpp"
#include "pg/query_result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::engine::detail {

// A column of a query's result as PostgreSQL describes it (PQfname, PQftype, PQfmod).
struct ResultColumn {
  std::string name;
  std::uint32_t type = 0;  // OID
  int modifier = -1;
};

// How a field of a column's binary COPY form becomes a Parquet value.
enum class FieldDecoding {
  boolean, int16, int32, int64, float32, float64,
  numeric_int32, numeric_int64, numeric_fixed, numeric_text,
  bytes,   // the field's bytes as they are: text, varchar, bpchar, name, json, bytea, and ::text casts
  jsonb,   // a version byte, then JSON text
  date, timestamp, time, uuid,
};

struct ParquetColumn {
  parquet::Column column;
  FieldDecoding decoding;
  bool cast_to_text = false;  // no binary decoder for its type: the COPY casts it to text
};

// The statement whose result describes a query's columns without reading a row.
std::string describe_statement(std::string_view query);
std::vector<ResultColumn> result_columns(const pg::QueryResult& described);

ParquetColumn parquet_column(const ResultColumn& column);

// Each column of the result mapped. Two of one name are refused (errc::invalid_request, naming it): Spark
// refuses such a file, and it and Athena compare names without case, so "id" and "ID" are one name too.
Result<std::vector<ParquetColumn>> parquet_columns(const std::vector<ResultColumn>& result);

// COPY of the query in binary, its columns cast to text where `columns` say so. Those are chosen by
// position, through a column alias list, so duplicate or odd column names need no quoting.
std::string binary_copy_statement(std::string_view query, std::span<const ParquetColumn> columns);

// The value of one field of `row` (from 1); byte values may view `scratch`, valid until its next use.
// A value Parquet cannot hold (an infinite date or timestamp, a NaN or infinite numeric in a DECIMAL
// column) is an error naming the column and the row.
Result<parquet::Value> decode_field(const ParquetColumn& column, pg::BinaryField field, std::uint64_t row,
                                    std::string& scratch);

}  // namespace pg2s3::engine::detail

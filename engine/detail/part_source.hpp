// Where an export's object bytes come from: the dataset's COPY, turned into CSV or Parquet part by part.
#pragma once

#include "engine/buffer_pool.hpp"
#include "engine/error.hpp"
#include "engine/detail/failure.hpp"
#include "engine/job.hpp"
#include "pg/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pg2s3::engine::detail {

// The one thing the CSV and the Parquet export do differently: how the bytes of the next part are made.
class PartSource {
 public:
  virtual ~PartSource() = default;
  // Appends the object's next bytes to `part` until it holds `size` bytes or the data ends; true while
  // more may follow.
  virtual boost::asio::awaitable<Result<bool>> fill(std::string& part, std::size_t size) = 0;
  // Rows of data read so far.
  virtual std::int64_t rows() const = 0;
  // How far fill() may take a part past `size`: a buffer leased with this much room never grows.
  virtual std::size_t overshoot() const = 0;
};

// How a CSV source cuts its output.
struct CsvLayout {
  bool header = true;  // the COPY's header line first
  // Each fill() holds whole rows (a row longer than the size alone) and, compressed, is a gzip member or
  // zstd frame of its own: what lets files be cut between fills.
  bool whole_rows = false;
};

// `COPY (query) TO STDOUT WITH (FORMAT csv[, HEADER])`, through gzip or zstd when asked: a compressed
// stream of its own, which may follow another in one file.
boost::asio::awaitable<Result<std::unique_ptr<PartSource>>> start_csv(pg::Connection& connection, const std::string& query,
                                                                      Compression compression, CsvLayout layout);

// How a Parquet source lays out its file.
struct ParquetLayout {
  std::size_t row_group_bytes = 0;  // a row group ends near this
  bool delta_integers = false;      // parquet::WriterOptions::delta_integers
};

// The query's columns described and mapped, then its binary COPY into a Parquet writer. The writer's
// memory is reserved from `pool` for as long as the source lives.
boost::asio::awaitable<Result<std::unique_ptr<PartSource>>> start_parquet(pg::Connection& connection,
                                                                          const std::string& query,
                                                                          Compression codec, ParquetLayout layout,
                                                                          BufferPool& pool);

}  // namespace pg2s3::engine::detail

#include "engine/detail/parquet_columns.hpp"
#include "engine/detail/part_source.hpp"
#include "parquet/writer.hpp"
#include "pg/copy_binary.hpp"

#include <algorithm>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {

// Binary COPY read at a time: the work done on the loop between two waits.
constexpr std::size_t chunk_size = 256 * 1024;

parquet::Codec page_codec(Compression compression) {
  switch (compression) {
    case Compression::none: return parquet::Codec::none;
    case Compression::snappy: return parquet::Codec::snappy;
    case Compression::gzip: return parquet::Codec::gzip;
    case Compression::zstd: return parquet::Codec::zstd;
  }
  return parquet::Codec::zstd;
}

// Row groups of about a part. A wide result gets smaller pages and dictionaries, so that its columns'
// open pages and dictionaries together take about a quarter of the budget at most (the defaults, 256 KiB
// pages and 1 MiB dictionaries, would make a hundred columns alone outgrow the default budget).
parquet::WriterOptions writer_options(std::size_t columns, Compression codec, const ParquetLayout& layout,
                                      std::size_t budget) {
  parquet::WriterOptions options;
  options.codec = page_codec(codec);
  options.row_group_bytes = layout.row_group_bytes;
  options.delta_integers = layout.delta_integers;
  const std::size_t per_column = budget / 4 / columns;
  if (per_column < 2 * options.page_bytes + options.dictionary_bytes) {
    options.page_bytes = std::max<std::size_t>(per_column / 6, 16 * 1024);  // in the defaults' ratio, 1 to 4
    options.dictionary_bytes = 4 * options.page_bytes;
  }
  return options;
}

std::vector<parquet::Column> schema_of(const std::vector<ParquetColumn>& columns) {
  std::vector<parquet::Column> schema;
  for (const auto& column : columns) schema.push_back(column.column);
  return schema;
}

// Rows come from the binary COPY chunk by chunk and go into the writer, whose file bytes fill the parts.
// The next chunk is read only once the writer's output is all taken, so the writer holds at most one row
// group (with what one chunk adds) whatever the pace of the uploads.
class ParquetPartSource final : public PartSource {
 public:
  ParquetPartSource(std::vector<ParquetColumn> columns, parquet::WriterOptions options, pg::CopyOutStream stream,
                    BufferPool::Admission share, BufferPool::Lease reservation)
      : columns_(std::move(columns)),
        writer_(schema_of(columns_), std::move(options)),
        parser_(columns_.size()),
        stream_(std::move(stream)),
        share_(std::move(share)),
        reservation_(std::move(reservation)) {}

  asio::awaitable<Result<bool>> fill(std::string& part, std::size_t size) override {
    while (part.size() < size) {
      if (writer_.pending_bytes() > 0) {
        writer_.take_output(part, size - part.size());
        continue;
      }
      if (ended_) co_return false;
      if (auto read = co_await read_chunk(); !read) co_return read.error();
    }
    co_return !(ended_ && writer_.pending_bytes() == 0);
  }

  std::int64_t rows() const override { return static_cast<std::int64_t>(parser_.rows()); }

  std::size_t overshoot() const override { return 0; }  // take_output stops at the part's size

 private:
  // Reads one chunk of the COPY into the writer; at the end of the data, finishes the file.
  asio::awaitable<Result<void>> read_chunk() {
    chunk_.clear();
    auto more = co_await stream_.read(chunk_, chunk_size);
    if (!more) co_return failure("reading rows", more.error());
    parser_.feed(chunk_);
    if (auto written = write_rows(); !written) co_return written;
    if (*more) co_return Result<void>{};
    if (auto finished = parser_.finish(); !finished) co_return failure("reading rows", finished.error());
    writer_.finish();
    ended_ = true;
    co_return Result<void>{};
  }

  Result<void> write_rows() {
    for (;;) {
      auto row = parser_.next_row();
      if (!row) return failure("reading rows", row.error());
      if (!*row) return {};
      for (std::size_t i = 0; i < columns_.size(); ++i) {
        auto value = decode_field(columns_[i], (**row)[i], parser_.rows(), scratch_);
        if (!value) return value.error();
        writer_.write(*value);
      }
      writer_.end_row();
    }
  }

  std::vector<ParquetColumn> columns_;
  parquet::FileWriter writer_;
  pg::BinaryCopyParser parser_;
  pg::CopyOutStream stream_;
  BufferPool::Admission share_;    // of the budget, while it runs
  BufferPool::Lease reservation_;  // the writer's memory, counted in the shared budget
  std::string chunk_;
  std::string scratch_;
  bool ended_ = false;
};

// The columns of the query's result, as the snapshot sees them, mapped to Parquet's.
asio::awaitable<Result<std::vector<ParquetColumn>>> describe(pg::Connection& connection, const std::string& query) {
  auto described = co_await connection.query(describe_statement(query));
  if (!described) co_return failure("describing the columns", described.error());
  co_return parquet_columns(result_columns(*described));
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<PartSource>>> start_parquet(pg::Connection& connection, const std::string& query,
                                                                   Compression codec, ParquetLayout layout,
                                                                   BufferPool& pool) {
  // Parquet's strings are UTF-8, and text fields of a binary COPY come in the client's encoding.
  if (auto set = co_await connection.execute("SET client_encoding = 'UTF8'"); !set)
    co_return failure("setting the client encoding", set.error());
  auto columns = co_await describe(connection, query);
  if (!columns) co_return columns.error();
  auto options = writer_options(columns->size(), codec, layout, pool.budget());
  // The writer holds its reservation while it waits for a part (row_group_bytes is the part size): it runs
  // once both fit beside the shares of the other exports that hold memory while they wait
  // (BufferPool::admit), and beside the reservation stays room for one part.
  const std::size_t writer_memory = parquet::FileWriter::memory_bound(columns->size(), options) + chunk_size;
  auto share = co_await pool.admit(writer_memory + layout.row_group_bytes);
  if (!share) co_return share.error();
  auto reservation = co_await pool.reserve(writer_memory, layout.row_group_bytes);
  if (!reservation) co_return reservation.error();
  auto stream = co_await connection.copy_out(binary_copy_statement(query, *columns));
  if (!stream) co_return failure("starting the COPY", stream.error());
  co_return std::unique_ptr<PartSource>(std::make_unique<ParquetPartSource>(
      std::move(*columns), std::move(options), std::move(*stream), std::move(*share), std::move(*reservation)));
}

}  // namespace pg2s3::engine::detail

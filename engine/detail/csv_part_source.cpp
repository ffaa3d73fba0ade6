#include "engine/compressor.hpp"
#include "engine/detail/part_source.hpp"

#include <algorithm>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {

constexpr std::size_t staging_size = 256 * 1024;  // CSV read at a time before compressing

class CsvPartSource final : public PartSource {
 public:
  CsvPartSource(pg::CopyOutStream stream, Compression compression, CsvLayout layout)
      : stream_(std::move(stream)), compression_(compression), layout_(layout) {}

  asio::awaitable<Result<bool>> fill(std::string& part, std::size_t size) override {
    auto more = co_await read(part, size);
    if (more) ended_ = !*more;
    co_return more;
  }

  // While the COPY runs, the stream's rows begun include the CSV header line; once it has ended, its
  // count is the server's, which does not. Pieces of whole rows count only the rows they hold.
  std::int64_t rows() const override {
    if (layout_.whole_rows) return static_cast<std::int64_t>(stream_.rows_delivered());
    const auto rows = static_cast<std::int64_t>(stream_.rows());
    return ended_ || !layout_.header ? rows : std::max<std::int64_t>(rows - 1, 0);
  }

  // A piece of its own frame also ends it, which may flush what the codec held back.
  std::size_t overshoot() const override {
    return compression_ != Compression::none ? (layout_.whole_rows ? 2 : 1) * Compressor::max_overshoot : 0;
  }

 private:
  asio::awaitable<Result<bool>> read_some(std::string& buffer, std::size_t size) {
    pg::Result<bool> more = false;
    if (layout_.whole_rows) more = co_await stream_.read_rows(buffer, size);
    else more = co_await stream_.read(buffer, size);
    if (!more) co_return failure("reading rows", more.error());
    co_return *more;
  }

  asio::awaitable<Result<bool>> read(std::string& part, std::size_t size) {
    if (compression_ == Compression::none) co_return co_await read_some(part, size);
    if (!compressor_ || layout_.whole_rows) {  // each piece of whole rows a stream of its own
      auto created = Compressor::create(compression_);
      if (!created) co_return created.error();
      compressor_ = std::move(*created);
    }
    while (part.size() < size) {
      staging_.clear();
      auto more = co_await read_some(staging_, staging_size);
      if (!more) co_return more;
      if (auto written = compressor_->write(staging_, part, !*more); !written) co_return written.error();
      if (!*more) co_return false;
    }
    if (layout_.whole_rows) {
      if (auto ended = compressor_->write({}, part, true); !ended) co_return ended.error();
    }
    co_return true;
  }

  pg::CopyOutStream stream_;
  Compression compression_;
  CsvLayout layout_;
  std::unique_ptr<Compressor> compressor_;
  std::string staging_;
  bool ended_ = false;
};

}  // namespace

asio::awaitable<Result<std::unique_ptr<PartSource>>> start_csv(pg::Connection& connection, const std::string& query,
                                                               Compression compression, CsvLayout layout) {
  const std::string copy = "COPY (" + query + ") TO STDOUT WITH (FORMAT csv" + (layout.header ? ", HEADER)" : ")");
  auto stream = co_await connection.copy_out(copy);
  if (!stream) co_return failure("starting the COPY", stream.error());
  co_return std::unique_ptr<PartSource>(std::make_unique<CsvPartSource>(std::move(*stream), compression, layout));
}

}  // namespace pg2s3::engine::detail

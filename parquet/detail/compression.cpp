#include "parquet/detail/compression.hpp"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <stdexcept>

namespace pg2s3::parquet::detail {

namespace {

// Level 1, as for CSV: the export keeps pace with PostgreSQL rather than squeezing the last bytes.
constexpr int zstd_level = 1;

void compress_zstd(std::string_view input, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + ZSTD_compressBound(input.size()));
  const std::size_t size = ZSTD_compress(out.data() + start, out.size() - start, input.data(), input.size(), zstd_level);
  if (ZSTD_isError(size)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(size));
  out.resize(start + size);
}

void compress_snappy(std::string_view input, std::string& out) {
  const std::size_t start = out.size();
  std::size_t size = snappy_max_compressed_length(input.size());
  out.resize(start + size);
  if (snappy_compress(input.data(), input.size(), out.data() + start, &size) != SNAPPY_OK)
    throw std::runtime_error("snappy: compression failed");
  out.resize(start + size);
}

// A whole gzip member (header and trailer), as Parquet's GZIP codec expects.
void compress_gzip(std::string_view input, std::string& out) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  const std::size_t start = out.size();
  out.resize(start + deflateBound(&stream, input.size()));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  stream.avail_out = static_cast<uInt>(out.size() - start);
  const int status = deflate(&stream, Z_FINISH);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("gzip: deflate did not finish");
  out.resize(start + stream.total_out);
}

}  // namespace

void compress(Codec codec, std::string_view input, std::string& out) {
  switch (codec) {
    case Codec::none: out.append(input); return;
    case Codec::snappy: compress_snappy(input, out); return;
    case Codec::gzip: compress_gzip(input, out); return;
    case Codec::zstd: compress_zstd(input, out); return;
  }
}

int thrift_codec(Codec codec) {
  switch (codec) {
    case Codec::none: return 0;
    case Codec::snappy: return 1;
    case Codec::gzip: return 2;
    case Codec::zstd: return 6;
  }
  return 0;
}

}  // namespace pg2s3::parquet::detail

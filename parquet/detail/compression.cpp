#include "parquet/detail/compression.hpp"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <stdexcept>

namespace pg2s3::parquet::detail {

namespace {

// Level 1, as for CSV: the export keeps pace with PostgreSQL rather than squeezing the last bytes.
constexpr int zstd_level = 1;

}  // namespace

// The codec's state, made on the first page that needs it.
struct PageCompressor::Codecs {
  ZSTD_CCtx* zstd = nullptr;
  z_stream deflate{};
  bool deflate_ready = false;

  ~Codecs() {
    ZSTD_freeCCtx(zstd);
    if (deflate_ready) deflateEnd(&deflate);
  }
};

PageCompressor::PageCompressor(const WriterOptions& options)
    : codec_(options.codec),
      kept_bytes_(2 * std::max(options.page_bytes, options.dictionary ? options.dictionary_bytes : 0)),
      codecs_(std::make_unique<Codecs>()) {}

PageCompressor::~PageCompressor() = default;

void PageCompressor::release_if_outsized(std::string& buffer) const {
  if (buffer.capacity() > kept_bytes_) std::string().swap(buffer);
}

std::string& PageCompressor::page_buffer() {
  release_if_outsized(page_);
  page_.clear();
  return page_;
}

std::string_view PageCompressor::compress(std::string_view input) {
  release_if_outsized(compressed_);
  // The output buffer only grows, and keeps its size: resizing it down and up again would zero it each time.
  const auto room = [&](std::size_t bound) {
    if (compressed_.size() < bound) compressed_.resize(bound);
    return compressed_.data();
  };
  switch (codec_) {
    case Codec::none: return input;
    case Codec::zstd: {
      if (!codecs_->zstd && !(codecs_->zstd = ZSTD_createCCtx())) throw std::bad_alloc();
      const std::size_t bound = ZSTD_compressBound(input.size());
      const std::size_t size = ZSTD_compressCCtx(codecs_->zstd, room(bound), bound, input.data(), input.size(), zstd_level);
      if (ZSTD_isError(size)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(size));
      return {compressed_.data(), size};
    }
    case Codec::snappy: {
      std::size_t size = snappy_max_compressed_length(input.size());
      if (snappy_compress(input.data(), input.size(), room(size), &size) != SNAPPY_OK)
        throw std::runtime_error("snappy: compression failed");
      return {compressed_.data(), size};
    }
    case Codec::gzip: {
      // A whole gzip member (header and trailer) per page, as Parquet's GZIP codec expects.
      z_stream& stream = codecs_->deflate;
      if (!codecs_->deflate_ready) {
        if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
          throw std::runtime_error("gzip: deflateInit2 failed");
        codecs_->deflate_ready = true;
      } else if (deflateReset(&stream) != Z_OK) {
        throw std::runtime_error("gzip: deflateReset failed");
      }
      const std::size_t bound = deflateBound(&stream, input.size());
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
      stream.avail_in = static_cast<uInt>(input.size());
      stream.next_out = reinterpret_cast<Bytef*>(room(bound));
      stream.avail_out = static_cast<uInt>(bound);
      if (deflate(&stream, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("gzip: deflate did not finish");
      return {compressed_.data(), stream.total_out};
    }
  }
  return input;
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

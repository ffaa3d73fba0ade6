// Page compression with the codecs of Debian's libraries: zstd, snappy, gzip.
#pragma once

#include "parquet/writer.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace pg2s3::parquet::detail {

// Compresses a file's pages one at a time, keeping the codec's state and its buffers from page to page:
// a zstd or deflate context is large (about 570 KiB and 270 KiB), and building one per page, with
// buffers freshly allocated and faulted in, cost more than compressing the page.
class PageCompressor {
 public:
  // The most memory its codec's state holds (zstd at level 1 holds the most).
  static constexpr std::size_t context_bytes = 1024 * 1024;

  // For options.codec; its buffers keep up to twice the larger of a page and a dictionary between pages
  // (an outsized value's page is compressed, then its buffers are let go).
  explicit PageCompressor(const WriterOptions& options);
  PageCompressor(const PageCompressor&) = delete;
  PageCompressor& operator=(const PageCompressor&) = delete;
  ~PageCompressor();

  // A buffer, cleared, in which a caller may build the page it then compresses.
  std::string& page_buffer();
  // The compressed form of `input` (itself for Codec::none), valid until the next call.
  std::string_view compress(std::string_view input);

 private:
  struct Codecs;

  void release_if_outsized(std::string& buffer) const;

  Codec codec_;
  std::size_t kept_bytes_;
  std::unique_ptr<Codecs> codecs_;
  std::string page_;
  std::string compressed_;
};

// The codec's number in the footer (parquet.thrift's CompressionCodec).
int thrift_codec(Codec codec);

}  // namespace pg2s3::parquet::detail

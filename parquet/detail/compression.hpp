// Page compression with the codecs of Debian's libraries: zstd, snappy, gzip.
#pragma once

#include "parquet/writer.hpp"

#include <string>
#include <string_view>

namespace pg2s3::parquet::detail {

// Appends the compressed form of `input` to `out` (a copy for Codec::none).
void compress(Codec codec, std::string_view input, std::string& out);

// The codec's number in the footer (parquet.thrift's CompressionCodec).
int thrift_codec(Codec codec);

}  // namespace pg2s3::parquet::detail

// Streams CSV bytes through gzip or zstd into part buffers; `none` passes them through untouched.
#pragma once

#include "engine/job.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace pg2s3::engine {

class Compressor {
 public:
  static std::unique_ptr<Compressor> create(Compression compression);
  virtual ~Compressor() = default;

  // Appends the compressed form of `input` to `output`; `finish` ends the stream (with its trailer).
  virtual void write(std::string_view input, std::string& output, bool finish) = 0;
};

}  // namespace pg2s3::engine

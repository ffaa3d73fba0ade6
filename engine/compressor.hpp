// Streams CSV bytes through gzip or zstd into part buffers; `none` passes them through untouched.
#pragma once

#include "engine/error.hpp"
#include "engine/job.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace pg2s3::engine {

class Compressor {
 public:
  // Fails (errc::internal_error) only when the codec cannot set itself up: memory exhausted.
  static Result<std::unique_ptr<Compressor>> create(Compression compression);
  virtual ~Compressor() = default;

  // Appends the compressed form of `input` to `output`; `finish` ends the stream (with its trailer). A codec
  // failure is an error naming the codec, for the export it belongs to alone.
  virtual Result<void> write(std::string_view input, std::string& output, bool finish) = 0;

  // How far one write() of at most 256 KiB may take `output` past the size it had (what the codec held
  // back, its worst-case expansion, and one output step), so that a buffer reserved with this much room
  // beyond a part's size never grows.
  static constexpr std::size_t max_overshoot = 512 * 1024;
};

}  // namespace pg2s3::engine

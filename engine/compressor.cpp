#include "engine/compressor.hpp"

#include <zlib.h>
#include <zstd.h>


namespace pg2s3::engine {
namespace {

// Level 1 of each: the exports run at PostgreSQL's speed, and higher levels would become the limit.
constexpr int gzip_level = 1;
constexpr int zstd_level = 1;
constexpr std::size_t output_step = 64 * 1024;

Error codec_failure(std::string what) { return {errc::internal_error, std::move(what)}; }

class Passthrough final : public Compressor {
 public:
  Result<void> write(std::string_view input, std::string& output, bool) override {
    output.append(input);
    return {};
  }
};

class Gzip final : public Compressor {
 public:
  // deflateEnd is safe on a stream whose deflateInit2 failed: it sees no state and returns.
  bool started() { return deflateInit2(&stream_, gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~Gzip() override { deflateEnd(&stream_); }

  Result<void> write(std::string_view input, std::string& output, bool finish) override {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    const int flush = finish ? Z_FINISH : Z_NO_FLUSH;
    for (;;) {
      const std::size_t before = output.size();
      output.resize(before + output_step);
      stream_.next_out = reinterpret_cast<Bytef*>(output.data() + before);
      stream_.avail_out = static_cast<uInt>(output_step);
      const int status = deflate(&stream_, flush);
      output.resize(before + output_step - stream_.avail_out);
      if (status == Z_STREAM_END || (stream_.avail_in == 0 && stream_.avail_out != 0 && !finish)) return {};
      if (status != Z_OK && status != Z_BUF_ERROR) return codec_failure("gzip: deflate failed (" + std::to_string(status) + ")");
    }
  }

 private:
  z_stream stream_{};
};

class Zstd final : public Compressor {
 public:
  Zstd() : context_(ZSTD_createCCtx()) {
    if (context_) ZSTD_CCtx_setParameter(context_, ZSTD_c_compressionLevel, zstd_level);
  }
  ~Zstd() override { ZSTD_freeCCtx(context_); }
  bool started() const { return context_ != nullptr; }

  Result<void> write(std::string_view input, std::string& output, bool finish) override {
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    const auto mode = finish ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
      const std::size_t before = output.size();
      output.resize(before + output_step);
      ZSTD_outBuffer out{output.data() + before, output_step, 0};
      const std::size_t remaining = ZSTD_compressStream2(context_, &out, &in, mode);
      output.resize(before + out.pos);
      if (ZSTD_isError(remaining)) return codec_failure(std::string("zstd: ") + ZSTD_getErrorName(remaining));
      if (finish ? remaining == 0 : in.pos == in.size) return {};
    }
  }

 private:
  ZSTD_CCtx* context_;
};

}  // namespace

namespace {

template <class Codec>
Result<std::unique_ptr<Compressor>> started(std::string_view name) {
  auto codec = std::make_unique<Codec>();
  if (!codec->started()) return codec_failure(std::string(name) + ": the codec could not start (out of memory)");
  return std::unique_ptr<Compressor>(std::move(codec));
}

}  // namespace

Result<std::unique_ptr<Compressor>> Compressor::create(Compression compression) {
  switch (compression) {
    case Compression::gzip: return started<Gzip>("gzip");
    case Compression::zstd: return started<Zstd>("zstd");
    default: return std::unique_ptr<Compressor>(std::make_unique<Passthrough>());
  }
}

}  // namespace pg2s3::engine

// Where an export's finished parts go: an S3 multipart upload, or a local file or stdout.
#pragma once

#include "engine/error.hpp"
#include "s3/multipart_upload.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace pg2s3::engine::detail {

class PartWriter {
 public:
  virtual ~PartWriter() = default;
  virtual boost::asio::awaitable<Result<void>> write(std::string_view part) = 0;
  // Whether several write()s may be under way at once, each part keeping the place of its call.
  virtual bool writes_in_parallel() const = 0;
  // Makes the whole output appear at once.
  virtual boost::asio::awaitable<Result<void>> complete() = 0;
  // Leaves nothing behind: no object, no open upload, no partial file; or says why it could not.
  virtual boost::asio::awaitable<Result<void>> abort() = 0;
  // The S3 upload being filled, by which a later sweep can abort it; empty for a local file.
  virtual std::string_view upload_id() const { return {}; }
};

class S3PartWriter final : public PartWriter {
 public:
  explicit S3PartWriter(s3::MultipartUpload upload) : upload_(std::move(upload)) {}
  boost::asio::awaitable<Result<void>> write(std::string_view part) override;
  bool writes_in_parallel() const override { return true; }  // parts are numbered when their upload starts
  boost::asio::awaitable<Result<void>> complete() override;
  boost::asio::awaitable<Result<void>> abort() override;
  std::string_view upload_id() const override { return upload_.upload_id(); }

 private:
  s3::MultipartUpload upload_;
};

// "-" is stdout. A regular file (or a path that does not exist yet) is written as "<path>.partial" and
// renamed into place when complete; anything else that exists (a device such as /dev/null, a FIFO) is
// written in place, never replaced. Pipes and terminals are written asynchronously; files directly
// (into the page cache).
class FilePartWriter final : public PartWriter {
 public:
  static Result<std::unique_ptr<FilePartWriter>> open(boost::asio::any_io_executor executor, std::string path);
  ~FilePartWriter() override;
  boost::asio::awaitable<Result<void>> write(std::string_view part) override;
  bool writes_in_parallel() const override { return false; }
  boost::asio::awaitable<Result<void>> complete() override;
  boost::asio::awaitable<Result<void>> abort() override;

 private:
  struct Descriptor;
  FilePartWriter(std::string path, int fd, bool in_place, std::unique_ptr<Descriptor> descriptor);
  std::string path_;
  int fd_;
  bool in_place_;  // written where it is: no partial file, no rename
  std::unique_ptr<Descriptor> async_;  // set when the fd can be watched (a pipe, a socket, a terminal)
};

}  // namespace pg2s3::engine::detail

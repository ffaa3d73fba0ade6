#include "engine/detail/part_writer.hpp"

#include "engine/detail/failure.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {
Error file_failure(std::string_view what, const std::string& path, int error_number) {
  boost::system::error_code ec(error_number, boost::system::system_category());
  return {ec, std::string(what) + " " + path + ": " + ec.message()};
}
}  // namespace

asio::awaitable<Result<void>> S3PartWriter::write(std::string_view part) {
  auto sent = co_await upload_.upload_part(part);
  if (!sent) co_return failure(sent.error());
  co_return Result<void>{};
}

asio::awaitable<Result<void>> S3PartWriter::complete() {
  auto completed = co_await upload_.complete();
  if (!completed) co_return failure(completed.error());
  co_return Result<void>{};
}

asio::awaitable<Result<void>> S3PartWriter::abort() {
  auto aborted = co_await upload_.abort();
  if (!aborted) co_return failure(aborted.error());
  co_return Result<void>{};
}

// Watching a descriptor makes it non-blocking, and that flag belongs to the file description, which a
// dup of stdout shares with the shell and whatever runs after pg2s3: the flags are put back when done.
struct FilePartWriter::Descriptor {
  asio::posix::stream_descriptor stream;
  int original_flags;
};

Result<std::unique_ptr<FilePartWriter>> FilePartWriter::open(asio::any_io_executor executor, std::string path) {
  const bool to_stdout = path == "-";
  struct stat existing {};
  const bool in_place = to_stdout || (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode));
  const int fd = to_stdout  ? ::dup(STDOUT_FILENO)
                 : in_place ? ::open(path.c_str(), O_WRONLY | O_CLOEXEC)
                            : ::open((path + ".partial").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return file_failure("cannot open", path, errno);
  auto descriptor = std::make_unique<Descriptor>(Descriptor{asio::posix::stream_descriptor(executor), ::fcntl(fd, F_GETFL)});
  boost::system::error_code not_pollable;  // a regular file cannot be watched by epoll
  descriptor->stream.assign(fd, not_pollable);
  if (not_pollable) descriptor.reset();
  return std::unique_ptr<FilePartWriter>(new FilePartWriter(std::move(path), fd, in_place, std::move(descriptor)));
}

FilePartWriter::FilePartWriter(std::string path, int fd, bool in_place, std::unique_ptr<Descriptor> descriptor)
    : path_(std::move(path)), fd_(fd), in_place_(in_place), async_(std::move(descriptor)) {}

FilePartWriter::~FilePartWriter() {
  if (async_) {
    async_->stream.release();
    ::fcntl(fd_, F_SETFL, async_->original_flags);
  }
  if (fd_ >= 0) ::close(fd_);
}

asio::awaitable<Result<void>> FilePartWriter::write(std::string_view part) {
  if (async_) {
    auto [ec, written] = co_await asio::async_write(async_->stream, asio::buffer(part.data(), part.size()),
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Error{ec, "writing " + path_ + ": " + ec.message()};
    co_return Result<void>{};
  }
  while (!part.empty()) {
    const ssize_t written = ::write(fd_, part.data(), part.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) co_return file_failure("writing", path_, errno);
    part.remove_prefix(static_cast<std::size_t>(written));
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> FilePartWriter::complete() {
  if (in_place_) co_return Result<void>{};
  if (::fsync(fd_) != 0) co_return file_failure("syncing", path_, errno);
  if (std::rename((path_ + ".partial").c_str(), path_.c_str()) != 0) co_return file_failure("renaming", path_, errno);
  co_return Result<void>{};
}

asio::awaitable<Result<void>> FilePartWriter::abort() {
  if (!in_place_ && ::unlink((path_ + ".partial").c_str()) != 0 && errno != ENOENT)
    co_return file_failure("removing", path_ + ".partial", errno);
  co_return Result<void>{};
}

}  // namespace pg2s3::engine::detail

// The rows of one COPY ... TO STDOUT, read on demand: while nobody reads, nothing is buffered beyond the socket.
#pragma once

#include "pg/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

namespace pg2s3::pg {

namespace detail {
struct ConnectionState;
}

class CopyOutStream {
 public:
  CopyOutStream(CopyOutStream&&) noexcept;
  CopyOutStream& operator=(CopyOutStream&&) noexcept;
  // Abandoning an unfinished COPY closes its connection.
  ~CopyOutStream();

  // Appends to `buffer` until it holds `limit` bytes or the data ends, draining all that libpq already
  // holds after each wakeup and yielding to the loop every few hundred KiB. Never past `limit`, so a
  // buffer reserved to that size is never reallocated: a row that does not fit is split, its rest
  // coming first at the next read. True while more may follow; after false, rows() is the server's count.
  boost::asio::awaitable<Result<bool>> read(std::string& buffer, std::size_t limit);
  // As read(), but whole rows only: a row that would take `buffer` past `limit` is kept for the next
  // read, unless `buffer` is empty, which then takes it whole, past `limit`.
  boost::asio::awaitable<Result<bool>> read_rows(std::string& buffer, std::size_t limit);

  std::uint64_t rows() const { return rows_; }  // rows begun so far
  // Rows read whole into buffers so far: with read_rows(), what the buffers hold.
  std::uint64_t rows_delivered() const { return rows_ - (rest_.empty() ? 0 : 1); }

 private:
  friend class Connection;
  explicit CopyOutStream(detail::ConnectionState* state) : state_(state) {}
  boost::asio::awaitable<Result<bool>> read(std::string& buffer, std::size_t limit, bool whole_rows);
  boost::asio::awaitable<Result<bool>> finish();
  // Appends what fits of `bytes` (all of them or none, for whole rows), keeping the rest for the next
  // read; true when `buffer` is full.
  bool take(std::string& buffer, std::size_t limit, std::string_view bytes, bool whole_rows);

  detail::ConnectionState* state_;  // the connection's, which must outlive the stream
  std::uint64_t rows_ = 0;
  bool finished_ = false;
  std::string rest_;  // of the last row, which did not fit in the last read's buffer
};

}  // namespace pg2s3::pg

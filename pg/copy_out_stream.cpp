#include "pg/copy_out_stream.hpp"

#include "async/cancellation.hpp"
#include "pg/detail/connection_state.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace pg2s3::pg {

namespace {
constexpr std::string_view operation = "COPY";
// Bytes drained without waiting before the reader lets other work on the loop run.
constexpr std::size_t yield_every = 256 * 1024;
}  // namespace

CopyOutStream::CopyOutStream(CopyOutStream&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)),
      rows_(other.rows_),
      finished_(other.finished_),
      rest_(std::move(other.rest_)) {}

CopyOutStream& CopyOutStream::operator=(CopyOutStream&& other) noexcept {
  if (this != &other) {
    if (state_ && !finished_) state_->close();
    state_ = std::exchange(other.state_, nullptr);
    rows_ = other.rows_;
    finished_ = other.finished_;
    rest_ = std::move(other.rest_);
  }
  return *this;
}

CopyOutStream::~CopyOutStream() {
  if (state_ && !finished_) state_->close();
}

boost::asio::awaitable<Result<bool>> CopyOutStream::read(std::string& buffer, std::size_t limit) {
  return read(buffer, limit, false);
}

boost::asio::awaitable<Result<bool>> CopyOutStream::read_rows(std::string& buffer, std::size_t limit) {
  return read(buffer, limit, true);
}

boost::asio::awaitable<Result<bool>> CopyOutStream::read(std::string& buffer, std::size_t limit, bool whole_rows) {
  if (finished_) co_return false;
  if (!state_ || !state_->conn) co_return Error{errc::closed, std::string(operation), {}, {}, {}, {}};
  co_await boost::asio::this_coro::throw_if_cancelled(false);  // cancellation is reported as a value
  if (!rest_.empty()) {
    const std::string rest = std::exchange(rest_, {});
    if (take(buffer, limit, rest, whole_rows)) co_return true;
  }
  std::size_t drained = 0;
  for (;;) {
    char* row = nullptr;
    const int length = PQgetCopyData(state_->conn, &row, 1);
    if (length > 0) {
      const bool full = take(buffer, limit, {row, static_cast<std::size_t>(length)}, whole_rows);
      PQfreemem(row);
      ++rows_;
      if (full) co_return true;
      if ((drained += static_cast<std::size_t>(length)) >= yield_every) {
        drained = 0;
        co_await boost::asio::post(state_->executor, boost::asio::use_awaitable);
        if (!state_->conn) co_return Error{errc::closed, std::string(operation), {}, {}, {}, {}};
        const bool cancelled = co_await async::is_cancelled();
        if (cancelled)
          co_return state_->interrupted(operation, boost::asio::error::operation_aborted);
      }
    } else if (length == 0) {  // no whole row buffered: wait for the server
      if (auto ec = co_await state_->wait_readable()) co_return state_->interrupted(operation, ec);
      if (!PQconsumeInput(state_->conn)) co_return state_->libpq_error(operation, errc::connection_lost);
    } else if (length == -1) {
      co_return co_await finish();
    } else {
      auto error = state_->libpq_error(operation, errc::connection_lost);
      state_->close();
      co_return error;
    }
  }
}

bool CopyOutStream::take(std::string& buffer, std::size_t limit, std::string_view bytes, bool whole_rows) {
  if (whole_rows && !buffer.empty() && buffer.size() + bytes.size() > limit) {
    rest_.assign(bytes);
    return true;
  }
  const std::size_t room = whole_rows ? bytes.size() : limit > buffer.size() ? limit - buffer.size() : 0;
  buffer.append(bytes.substr(0, room));
  if (bytes.size() > room) rest_.assign(bytes.substr(room));
  return buffer.size() >= limit;
}

boost::asio::awaitable<Result<bool>> CopyOutStream::finish() {
  auto outcome = co_await state_->collect_results(operation);
  finished_ = true;
  state_->busy = false;
  if (!outcome) co_return outcome.error();
  rows_ = outcome->affected_rows();
  co_return false;
}

}  // namespace pg2s3::pg

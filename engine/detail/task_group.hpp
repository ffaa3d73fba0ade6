// The uploads of one export's parts under way at once, each a coroutine of its own.
#pragma once

#include "engine/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <list>
#include <optional>

namespace pg2s3::engine::detail {

// The first failure is kept and cancels the others. Whoever starts uploads must await all_ended() before
// this is destroyed: the uploads refer to it until they end.
class PartUploads {
 public:
  explicit PartUploads(boost::asio::any_io_executor executor);
  PartUploads(const PartUploads&) = delete;
  PartUploads& operator=(const PartUploads&) = delete;

  void start(boost::asio::awaitable<Result<void>> upload);
  // Waits until fewer than `limit` run, or one failed, or the waiting coroutine is cancelled.
  boost::asio::awaitable<void> wait_below(std::size_t limit);
  // Waits, uninterrupted by cancellation, until none runs.
  boost::asio::awaitable<void> all_ended();
  void cancel();

  std::size_t running() const { return running_; }
  const std::optional<Error>& failure() const { return failure_; }

 private:
  struct Upload {
    boost::asio::cancellation_signal cancel;
    bool running = true;
  };
  // Ended uploads are forgotten at the next start, never in their own completion: their signal is still
  // in use until that completion has returned.
  void forget_ended();

  boost::asio::any_io_executor executor_;
  std::list<Upload> uploads_;
  std::size_t running_ = 0;
  std::optional<Error> failure_;
  boost::asio::steady_timer changed_;  // woken whenever an upload ends
};

}  // namespace pg2s3::engine::detail

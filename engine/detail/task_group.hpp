// Coroutines under way at once as one piece of work: an export's part uploads, a parallel export's readers.
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

// The first failure is kept and cancels the others. Whoever starts tasks must await all_ended() before
// this is destroyed: the tasks refer to it until they end.
class TaskGroup {
 public:
  explicit TaskGroup(boost::asio::any_io_executor executor);
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void start(boost::asio::awaitable<Result<void>> task);
  // Waits until fewer than `limit` run, or one failed, or the waiting coroutine is cancelled.
  boost::asio::awaitable<void> wait_below(std::size_t limit);
  // Waits, uninterrupted by cancellation, until none runs.
  boost::asio::awaitable<void> all_ended();
  void cancel();

  std::size_t running() const { return running_; }
  const std::optional<Error>& failure() const { return failure_; }

 private:
  struct Task {
    boost::asio::cancellation_signal cancel;
    bool running = true;
  };
  // Ended tasks are forgotten at the next start, never in their own completion: their signal is still
  // in use until that completion has returned.
  void forget_ended();

  boost::asio::any_io_executor executor_;
  std::list<Task> tasks_;
  std::size_t running_ = 0;
  std::optional<Error> failure_;
  boost::asio::steady_timer changed_;  // woken whenever a task ends
};

}  // namespace pg2s3::engine::detail

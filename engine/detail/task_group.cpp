#include "engine/detail/task_group.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;
using async::use_tuple;

TaskGroup::TaskGroup(asio::any_io_executor executor)
    : executor_(executor), changed_(executor, asio::steady_timer::time_point::max()) {}

void TaskGroup::start(asio::awaitable<Result<void>> task) {
  forget_ended();
  auto& started = tasks_.emplace_back();
  ++running_;
  auto ended = [this, &started](std::exception_ptr thrown, Result<void> outcome) {
    started.running = false;
    --running_;
    // An exception fails the group as an error would: it ends this one piece of work, never the process.
    if (thrown) outcome = internal_error(thrown);
    if (!outcome && !failure_) {
      failure_ = outcome.error();
      cancel();
    }
    changed_.cancel();
  };
  asio::co_spawn(executor_, std::move(task), asio::bind_cancellation_slot(started.cancel.slot(), std::move(ended)));
}

void TaskGroup::forget_ended() {
  tasks_.remove_if([](const Task& task) { return !task.running; });
}

asio::awaitable<void> TaskGroup::wait_below(std::size_t limit) {
  while (running_ >= limit && !failure_) {
    changed_.expires_at(asio::steady_timer::time_point::max());
    co_await changed_.async_wait(use_tuple);
    const bool cancelled = co_await async::is_cancelled();
    if (cancelled) co_return;
  }
}

asio::awaitable<void> TaskGroup::all_ended() {
  co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
  while (running_ > 0) {
    changed_.expires_at(asio::steady_timer::time_point::max());
    co_await changed_.async_wait(use_tuple);
  }
  forget_ended();
  co_await asio::this_coro::reset_cancellation_state(asio::enable_terminal_cancellation());
}

void TaskGroup::cancel() {
  for (auto& task : tasks_)
    if (task.running) task.cancel.emit(asio::cancellation_type::terminal);
}

}  // namespace pg2s3::engine::detail

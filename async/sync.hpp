// Waiting primitives for coroutines on one thread: an Event to wait for, a Doorbell to wake a loop, a Turn to
// take one at a time, and a step that cancellation does not cut short.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <deque>
#include <optional>

namespace pg2s3::async {

// Happens once: set() wakes every waiter, and every later wait returns at once.
class Event {
 public:
  explicit Event(boost::asio::any_io_executor executor);

  void set();
  bool is_set() const { return set_; }
  // Returns once set, or as soon as the waiting coroutine is cancelled (then is_set() says which).
  boost::asio::awaitable<void> wait();

 private:
  boost::asio::steady_timer timer_;
  bool set_ = false;
};

// Wakes one waiting loop early: wait_for() returns when its timeout passes or ring() is called; a ring
// while nobody waits is kept for the next wait.
class Doorbell {
 public:
  explicit Doorbell(boost::asio::any_io_executor executor);

  void ring();
  boost::asio::awaitable<void> wait_for(std::chrono::steady_clock::duration timeout);

 private:
  boost::asio::steady_timer timer_;
  bool rung_ = false;
};

// One holder at a time, first come first served. A waiter cancelled before its turn came leaves the
// queue without taking it, so it can never run alongside the holder or end someone else's turn.
class Turn {
 public:
  // Holds the turn until destroyed, then hands it to the next waiter.
  class Holder {
   public:
    Holder(Holder&& other) noexcept;
    Holder& operator=(Holder&&) = delete;
    ~Holder();

   private:
    friend class Turn;
    explicit Holder(Turn* turn) : turn_(turn) {}
    Turn* turn_;
  };

  explicit Turn(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // Nothing when the waiting coroutine was cancelled before its turn came.
  boost::asio::awaitable<std::optional<Holder>> take();
  bool taken() const { return taken_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    boost::asio::steady_timer wakeup;
    bool handed = false;
  };
  void pass_on();

  boost::asio::any_io_executor executor_;
  bool taken_ = false;
  std::deque<Waiter*> waiters_;
};

// Runs `step` to its end even when the awaiting coroutine is cancelled meanwhile, then takes terminal
// cancellation again (as co_spawn gives it), so the caller's later waits can still be cancelled. The
// cancellation state belongs to the whole coroutine stack: a step that only disabled it would leave it
// disabled for every caller above it.
template <class T>
boost::asio::awaitable<T> uninterrupted(boost::asio::awaitable<T> step) {
  namespace this_coro = boost::asio::this_coro;
  co_await this_coro::reset_cancellation_state(boost::asio::disable_cancellation());
  auto outcome = co_await std::move(step);
  co_await this_coro::reset_cancellation_state(boost::asio::enable_terminal_cancellation());
  co_return outcome;
}

}  // namespace pg2s3::async

// Waiting primitives for coroutines on one thread: an Event to wait for, a Turn to take one at a time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <optional>

namespace pg2s3::engine {

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

}  // namespace pg2s3::engine

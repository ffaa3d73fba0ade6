// Part buffers drawn from one memory budget shared by every export: acquiring waits while it is spent,
// and buffers are reused rather than reallocated.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::engine {

class BufferPool {
 public:
  // A buffer on loan: it goes back to the pool when the lease ends.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    std::string& bytes() { return bytes_; }

   private:
    friend class BufferPool;
    Lease(BufferPool* pool, std::string bytes) : pool_(pool), bytes_(std::move(bytes)) {}
    BufferPool* pool_;
    std::string bytes_;
  };

  // At least one buffer is lent even when the budget is smaller than a buffer.
  BufferPool(boost::asio::any_io_executor executor, std::size_t budget, std::size_t buffer_size);

  // Waits, first come first served, until a buffer is free; nothing when the wait was cancelled.
  boost::asio::awaitable<std::optional<Lease>> acquire();

  std::size_t bytes_in_use() const { return leased_ * buffer_size_; }
  std::size_t budget() const { return budget_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    boost::asio::steady_timer wakeup;
    std::optional<std::string> handed;
  };

  void give_back(std::string bytes);

  boost::asio::any_io_executor executor_;
  std::size_t budget_;
  std::size_t buffer_size_;
  std::size_t allocated_ = 0;  // buffers that exist, leased or free
  std::size_t leased_ = 0;
  std::vector<std::string> free_;
  std::deque<Waiter*> waiters_;
};

}  // namespace pg2s3::engine

// Part buffers drawn from one memory budget shared by every export: a lease waits while the budget is
// spent, the budget counts the bytes buffers really hold, and buffers of the usual size are reused.
// Memory an export allocates itself (a Parquet writer's row group) is reserved from the same budget.
#pragma once

#include "engine/error.hpp"

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
  // A buffer on loan, or a reservation (no buffer): it goes back to the pool when the lease ends.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    std::string& bytes() { return bytes_; }

   private:
    friend class BufferPool;
    Lease(BufferPool* pool, std::string bytes, std::size_t counted);
    BufferPool* pool_;
    std::string bytes_;
    std::size_t counted_;  // the capacity the budget counts for it
  };

  // A share of the budget an export holds for its whole run: as much as it may hold while it waits for a
  // buffer (a parallel export's pieces, beside the part its writer needs to take them). Shares granted never
  // add up past the budget, so whatever those exports hold, each can get what it waits for once uploads,
  // which need nothing from the pool, give their parts back: no export waits on another's pieces forever.
  // A share lends nothing itself; leases are taken as before.
  class Admission {
   public:
    Admission(Admission&& other) noexcept;
    Admission& operator=(Admission&&) = delete;
    ~Admission();

   private:
    friend class BufferPool;
    Admission(BufferPool* pool, std::size_t bytes) : pool_(pool), bytes_(bytes) {}
    BufferPool* pool_;
    std::size_t bytes_;
  };

  // Returned buffers of up to `reusable_size` are kept for the next lease; larger ones are freed.
  BufferPool(boost::asio::any_io_executor executor, std::size_t budget, std::size_t reusable_size);

  // A share of `bytes`. Waits, first come first served, while the shares granted leave too little; fails at
  // once when `bytes` alone is over the budget, and when the wait is cancelled.
  boost::asio::awaitable<Result<Admission>> admit(std::size_t bytes);

  // A buffer that holds `size` bytes without growing. Waits, first come first served, while the budget is
  // spent; fails at once when `size` alone is over the budget, and when the wait is cancelled.
  boost::asio::awaitable<Result<Lease>> acquire(std::size_t size);

  // `size` bytes of the budget for memory the caller allocates itself, without a buffer. Granted only
  // while `room` more bytes stay free beside it, so that reservations never take the last part buffer
  // their holders wait for. Waits and fails as acquire() does.
  boost::asio::awaitable<Result<Lease>> reserve(std::size_t size, std::size_t room);

  // How many buffers of `size` could be lent now without making anyone wait.
  std::size_t room_for(std::size_t size) const {
    return waiters_.empty() && in_use_ < budget_ && size > 0 ? (budget_ - in_use_) / size : 0;
  }

  std::size_t bytes_in_use() const { return in_use_; }    // lent out
  std::size_t bytes_held() const { return held_; }        // lent out or kept for reuse
  std::size_t peak_bytes_held() const { return peak_; }
  std::size_t leases_overgrown() const { return overgrown_; }  // returned larger than lent: a bug
  std::size_t budget() const { return budget_; }
  std::size_t waiting() const { return waiters_.size(); }
  std::size_t bytes_admitted() const { return admitted_; }
  std::size_t waiting_for_admission() const { return admission_waiters_.size(); }

 private:
  struct Request {
    std::size_t size;
    std::size_t room = 0;       // to stay free beside it
    bool reservation = false;  // no buffer
  };
  struct Waiter {
    boost::asio::steady_timer wakeup;
    Request request;
    std::optional<Lease> handed;
  };

  struct AdmissionWaiter {
    boost::asio::steady_timer wakeup;
    std::size_t bytes;
    bool granted = false;
  };

  boost::asio::awaitable<Result<Lease>> lease(Request request);
  void end_admission(std::size_t bytes);
  std::optional<Lease> try_lease(Request request);
  void give_back(std::string bytes, std::size_t counted);
  void count_held(std::size_t capacity);

  boost::asio::any_io_executor executor_;
  std::size_t budget_;
  std::size_t reusable_size_;
  std::size_t held_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;
  std::size_t overgrown_ = 0;
  std::vector<std::string> free_;
  std::deque<Waiter*> waiters_;
  std::size_t admitted_ = 0;
  std::deque<AdmissionWaiter*> admission_waiters_;
};

}  // namespace pg2s3::engine

#include "engine/buffer_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace pg2s3::engine {

BufferPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), bytes_(std::move(other.bytes_)) {}

BufferPool::Lease& BufferPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (pool_) pool_->give_back(std::move(bytes_));
    pool_ = std::exchange(other.pool_, nullptr);
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

BufferPool::Lease::~Lease() {
  if (pool_) pool_->give_back(std::move(bytes_));
}

BufferPool::BufferPool(boost::asio::any_io_executor executor, std::size_t budget, std::size_t buffer_size)
    : executor_(std::move(executor)), budget_(budget), buffer_size_(buffer_size) {}

boost::asio::awaitable<std::optional<BufferPool::Lease>> BufferPool::acquire() {
  if (!free_.empty()) {
    ++leased_;
    std::string bytes = std::move(free_.back());
    free_.pop_back();
    co_return Lease(this, std::move(bytes));
  }
  if (allocated_ == 0 || (allocated_ + 1) * buffer_size_ <= budget_) {
    ++allocated_;
    ++leased_;
    std::string bytes;
    bytes.reserve(buffer_size_);
    co_return Lease(this, std::move(bytes));
  }
  Waiter waiter{boost::asio::steady_timer(executor_, boost::asio::steady_timer::time_point::max()), std::nullopt};
  waiters_.push_back(&waiter);
  co_await waiter.wakeup.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (waiter.handed) co_return Lease(this, std::move(*waiter.handed));  // leased_ was counted when handed
  waiters_.erase(std::ranges::find(waiters_, &waiter));
  co_return std::nullopt;
}

void BufferPool::give_back(std::string bytes) {
  bytes.clear();
  if (!waiters_.empty()) {
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->handed = std::move(bytes);
    next->wakeup.cancel();
    return;
  }
  --leased_;
  free_.push_back(std::move(bytes));
}

}  // namespace pg2s3::engine

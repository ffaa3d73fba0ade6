#include "engine/buffer_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

namespace pg2s3::engine {

namespace {
std::string in_mib(std::size_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }
}  // namespace

BufferPool::Lease::Lease(BufferPool* pool, std::string bytes, std::size_t counted)
    : pool_(pool), bytes_(std::move(bytes)), counted_(counted) {}

BufferPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), bytes_(std::move(other.bytes_)), counted_(other.counted_) {}

BufferPool::Lease& BufferPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (pool_) pool_->give_back(std::move(bytes_), counted_);
    pool_ = std::exchange(other.pool_, nullptr);
    bytes_ = std::move(other.bytes_);
    counted_ = other.counted_;
  }
  return *this;
}

BufferPool::Lease::~Lease() {
  if (pool_) pool_->give_back(std::move(bytes_), counted_);
}

BufferPool::Admission::Admission(Admission&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), bytes_(other.bytes_) {}

BufferPool::Admission::~Admission() {
  if (pool_) pool_->end_admission(bytes_);
}

BufferPool::BufferPool(boost::asio::any_io_executor executor, std::size_t budget, std::size_t reusable_size)
    : executor_(std::move(executor)), budget_(budget), reusable_size_(reusable_size) {}

boost::asio::awaitable<Result<BufferPool::Lease>> BufferPool::acquire(std::size_t size) {
  if (size > budget_)
    co_return Error{errc::over_budget, "a part buffer of " + in_mib(size) + " does not fit the buffer budget of " +
                                           in_mib(budget_) + ": raise [export] buffer_budget_mib"};
  co_return co_await lease({size});
}

boost::asio::awaitable<Result<BufferPool::Lease>> BufferPool::reserve(std::size_t size, std::size_t room) {
  if (size + room > budget_)
    co_return Error{errc::over_budget, in_mib(size) + " for the Parquet writer beside a part buffer of " + in_mib(room) +
                                           " do not fit the buffer budget of " + in_mib(budget_) +
                                           ": raise [export] buffer_budget_mib"};
  co_return co_await lease({size, room, true});
}

boost::asio::awaitable<Result<BufferPool::Admission>> BufferPool::admit(std::size_t bytes) {
  if (bytes > budget_)
    co_return Error{errc::over_budget, "an export that may hold " + in_mib(bytes) + " does not fit the buffer budget of " +
                                           in_mib(budget_) + ": raise [export] buffer_budget_mib"};
  if (admission_waiters_.empty() && admitted_ + bytes <= budget_) {
    admitted_ += bytes;
    co_return Admission(this, bytes);
  }
  AdmissionWaiter waiter{boost::asio::steady_timer(executor_, boost::asio::steady_timer::time_point::max()), bytes};
  admission_waiters_.push_back(&waiter);
  co_await waiter.wakeup.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (waiter.granted) co_return Admission(this, bytes);
  admission_waiters_.erase(std::ranges::find(admission_waiters_, &waiter));
  end_admission(0);  // those behind it may fit now
  co_return Error{boost::asio::error::operation_aborted, "waiting for room in the buffer budget: cancelled"};
}

void BufferPool::end_admission(std::size_t bytes) {
  admitted_ -= bytes;
  while (!admission_waiters_.empty() && admitted_ + admission_waiters_.front()->bytes <= budget_) {
    AdmissionWaiter* next = admission_waiters_.front();
    admission_waiters_.pop_front();
    admitted_ += next->bytes;
    next->granted = true;
    next->wakeup.cancel();
  }
}

boost::asio::awaitable<Result<BufferPool::Lease>> BufferPool::lease(Request request) {
  if (waiters_.empty()) {
    if (auto lease = try_lease(request)) co_return std::move(*lease);
  }
  Waiter waiter{boost::asio::steady_timer(executor_, boost::asio::steady_timer::time_point::max()), request, std::nullopt};
  waiters_.push_back(&waiter);
  co_await waiter.wakeup.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (waiter.handed) co_return std::move(*waiter.handed);
  waiters_.erase(std::ranges::find(waiters_, &waiter));
  co_return Error{boost::asio::error::operation_aborted, "waiting for a part buffer: cancelled"};
}

// A kept buffer large enough, or a new one (or a reservation) when the budget has room, after freeing
// kept buffers if need be.
std::optional<BufferPool::Lease> BufferPool::try_lease(Request request) {
  const auto fits = std::ranges::find_if(free_, [&](const std::string& bytes) { return bytes.capacity() >= request.size; });
  if (!request.reservation && fits != free_.end()) {
    std::string bytes = std::move(*fits);
    free_.erase(fits);
    in_use_ += bytes.capacity();
    const std::size_t counted = bytes.capacity();
    return Lease(this, std::move(bytes), counted);
  }
  const std::size_t needed = request.size + request.room;
  while (held_ + needed > budget_ && !free_.empty()) {
    held_ -= free_.back().capacity();
    free_.pop_back();
  }
  if (held_ + needed > budget_) return std::nullopt;
  std::string bytes;
  if (!request.reservation) bytes.reserve(request.size);
  const std::size_t counted = request.reservation ? request.size : bytes.capacity();
  count_held(counted);
  in_use_ += counted;
  return Lease(this, std::move(bytes), counted);
}

void BufferPool::give_back(std::string bytes, std::size_t counted) {
  in_use_ -= counted;
  held_ -= counted;
  if (bytes.capacity() > counted) ++overgrown_;
  bytes.clear();
  // Kept only when still as large as counted: a reservation has no buffer.
  if (bytes.capacity() >= counted && bytes.capacity() <= reusable_size_) {
    count_held(bytes.capacity());
    free_.push_back(std::move(bytes));
  }
  while (!waiters_.empty()) {
    auto lease = try_lease(waiters_.front()->request);
    if (!lease) break;
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->handed.emplace(std::move(*lease));
    next->wakeup.cancel();
  }
}

void BufferPool::count_held(std::size_t capacity) {
  held_ += capacity;
  peak_ = std::max(peak_, held_);
}

}  // namespace pg2s3::engine

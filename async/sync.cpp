#include "async/sync.hpp"

#include "async/cancellation.hpp"

#include <algorithm>
#include <utility>

namespace pg2s3::async {

namespace asio = boost::asio;

Event::Event(asio::any_io_executor executor) : timer_(std::move(executor), asio::steady_timer::time_point::max()) {}

void Event::set() {
  set_ = true;
  timer_.cancel();
}

asio::awaitable<void> Event::wait() {
  if (set_) co_return;
  co_await timer_.async_wait(use_tuple);
}

Doorbell::Doorbell(asio::any_io_executor executor) : timer_(std::move(executor)) {}

void Doorbell::ring() {
  rung_ = true;
  timer_.cancel();
}

asio::awaitable<void> Doorbell::wait_for(std::chrono::steady_clock::duration timeout) {
  if (!rung_) {
    timer_.expires_after(timeout);
    co_await timer_.async_wait(use_tuple);
  }
  rung_ = false;
}

Turn::Holder::Holder(Holder&& other) noexcept : turn_(std::exchange(other.turn_, nullptr)) {}

Turn::Holder::~Holder() {
  if (turn_) turn_->pass_on();
}

asio::awaitable<std::optional<Turn::Holder>> Turn::take() {
  if (!taken_ && waiters_.empty()) {
    taken_ = true;
    co_return Holder(this);
  }
  Waiter waiter{asio::steady_timer(executor_, asio::steady_timer::time_point::max())};
  waiters_.push_back(&waiter);
  co_await waiter.wakeup.async_wait(use_tuple);
  // Handed over before any cancel could land: the turn is ours, whatever came after.
  if (waiter.handed) co_return Holder(this);
  waiters_.erase(std::ranges::find(waiters_, &waiter));
  co_return std::nullopt;
}

void Turn::pass_on() {
  if (waiters_.empty()) {
    taken_ = false;
    return;
  }
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->handed = true;
  next->wakeup.cancel();
}

}  // namespace pg2s3::async

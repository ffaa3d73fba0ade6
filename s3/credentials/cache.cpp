#include "s3/credentials/cache.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

namespace pg2s3::s3 {

namespace asio = boost::asio;
using namespace std::chrono_literals;

Clock::time_point refresh_time(Clock::time_point fetched, Clock::time_point expiration, double jitter) {
  const auto life = expiration - fetched;
  const auto lead = std::chrono::duration_cast<Clock::duration>(5min + jitter * 1min);
  return expiration - std::min<Clock::duration>(lead, life / 2);
}

Clock::time_point usable_until(Clock::time_point fetched, Clock::time_point expiration) {
  return expiration - std::min<Clock::duration>(10s, (expiration - fetched) / 10);
}

std::optional<Clock::time_point> retry_time(Clock::time_point now, Clock::time_point usable_until) {
  const auto left = usable_until - now;
  if (left < 1s) return std::nullopt;
  return now + std::clamp<Clock::duration>(left / 4, 500ms, 1min);
}

CredentialsCache::CredentialsCache(asio::any_io_executor executor, std::unique_ptr<CredentialsProvider> provider,
                                   Log log)
    : executor_(executor),
      provider_(std::move(provider)),
      log_(std::move(log)),
      fetch_done_(executor, asio::steady_timer::time_point::max()),
      refresh_timer_(executor) {}

std::optional<TimedCredentials> CredentialsCache::current() const {
  if (!held_ || (held_->expiration && Clock::now() >= usable_until_)) return std::nullopt;
  return held_;
}

asio::awaitable<Result<TimedCredentials>> CredentialsCache::get() {
  if (auto credentials = current()) co_return *credentials;
  co_await fetch();
  if (auto credentials = current()) co_return *credentials;
  if (last_error_) co_return *last_error_;
  co_return credentials_error(errc::credentials_failed, "S3 credentials", "they expired as they arrived");
}

void CredentialsCache::warm_up() {
  asio::co_spawn(
      executor_,
      [self = shared_from_this()]() -> asio::awaitable<void> {
        auto credentials = co_await self->get();
        if (!credentials && !self->stopped_) self->log_(credentials.error().message());
      },
      asio::detached);
}

void CredentialsCache::stop() {
  stopped_ = true;
  refresh_timer_.cancel();
  fetch_done_.cancel();
}

asio::awaitable<void> CredentialsCache::fetch() {
  if (fetching_) {  // join the fetch under way
    co_await fetch_done_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return;
  }
  fetching_ = true;
  auto self = shared_from_this();  // the provider's answer may come after the client is gone
  auto outcome = co_await provider_->fetch();
  fetching_ = false;
  fetch_done_.cancel();
  if (stopped_) co_return;

  const auto now = Clock::now();
  if (!outcome) {
    last_error_ = outcome.error();
    if (auto held = current()) {
      log_("refreshing S3 credentials failed (" + outcome.error().message() + "); those from " + held->source +
           " stay in use while they are valid");
      if (auto again = retry_time(now, usable_until_)) schedule(*again);
    }
    co_return;
  }
  const bool first = !held_ || held_->source != outcome->source;
  held_ = std::move(*outcome);
  last_error_.reset();
  if (first && held_->source != "configuration") log_("S3 credentials from " + held_->source);
  if (!held_->expiration) co_return;
  usable_until_ = usable_until(now, *held_->expiration);
  thread_local std::minstd_rand random{std::random_device{}()};
  schedule(refresh_time(now, *held_->expiration, std::uniform_real_distribution<>(0.0, 1.0)(random)));
}

void CredentialsCache::schedule(Clock::time_point when) {
  refresh_timer_.expires_after(when - Clock::now());
  if (refreshing_ || stopped_) return;  // the running loop waits on the timer just set
  refreshing_ = true;
  asio::co_spawn(executor_, [self = shared_from_this()] { return self->refresh_in_background(); }, asio::detached);
}

asio::awaitable<void> CredentialsCache::refresh_in_background() {
  for (;;) {
    auto [ec] = co_await refresh_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_) break;
    if (ec) continue;  // re-armed by a fetch on a request's path
    const auto before = refresh_timer_.expiry();
    co_await fetch();
    if (stopped_ || refresh_timer_.expiry() == before) break;  // nothing more scheduled: expired, or never expire
  }
  refreshing_ = false;
}

}  // namespace pg2s3::s3

// Holds the current credentials and refreshes them in the background before they expire.
#pragma once

#include "s3/credentials/provider.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace pg2s3::s3 {

using Clock = std::chrono::system_clock;

// When credentials fetched at `fetched` that expire at `expiration` are refreshed: five minutes before they
// expire, less up to a minute of jitter (`jitter` in [0, 1)), or halfway through their life when that is sooner.
Clock::time_point refresh_time(Clock::time_point fetched, Clock::time_point expiration, double jitter);

// Until when they may sign a request: their expiration less ten seconds, or a tenth of their life when shorter.
Clock::time_point usable_until(Clock::time_point fetched, Clock::time_point expiration);

// After a failed refresh at `now`: when to try again, or nothing when they expire before it is worth it.
std::optional<Clock::time_point> retry_time(Clock::time_point now, Clock::time_point usable_until);

// Requests ask get(): valid credentials come from memory; a fetch happens on a request's path only when
// there are none (at first, or after they expired). A failed refresh keeps the old ones while usable, and
// is logged. Fetches never overlap: callers that come meanwhile wait for the one under way.
class CredentialsCache : public std::enable_shared_from_this<CredentialsCache> {
 public:
  using Log = std::function<void(std::string_view)>;

  CredentialsCache(boost::asio::any_io_executor executor, std::unique_ptr<CredentialsProvider> provider, Log log);

  boost::asio::awaitable<Result<TimedCredentials>> get();
  // Fetches the first credentials in the background, so that they are at hand before the first request
  // (and for presigning); logs where none were found.
  void warm_up();
  // The credentials usable now, without I/O (presigning is synchronous).
  std::optional<TimedCredentials> current() const;
  // Ends the background refresh, so that the cache can go.
  void stop();

 private:
  boost::asio::awaitable<void> fetch();
  boost::asio::awaitable<void> refresh_in_background();
  void schedule(Clock::time_point when);

  boost::asio::any_io_executor executor_;
  std::unique_ptr<CredentialsProvider> provider_;
  Log log_;
  std::optional<TimedCredentials> held_;
  Clock::time_point usable_until_;
  std::optional<Error> last_error_;
  bool fetching_ = false;
  boost::asio::steady_timer fetch_done_;  // never expires: cancelled to wake those waiting for a fetch
  boost::asio::steady_timer refresh_timer_;
  bool refreshing_ = false;  // refresh_in_background() is running
  bool stopped_ = false;
};

}  // namespace pg2s3::s3

#include "s3/retry.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <algorithm>

namespace pg2s3::s3 {

bool is_retryable(const Error& error) {
  if (error.http_status != 0) {
    const unsigned status = error.http_status;
    return status == 500 || status == 502 || status == 504 || is_throttling(error) ||
           error.s3_code == "InternalError" || error.s3_code == "RequestTimeout";
  }
  if (error.code.category() == s3_category()) return false;
  if (error.code == boost::asio::error::operation_aborted) return false;
  // TLS failures (an untrusted certificate) do not heal by trying again.
  if (error.code.category() == boost::asio::error::get_ssl_category() ||
      error.code.category() == boost::asio::ssl::error::get_stream_category())
    return error.code == boost::asio::ssl::error::stream_truncated;
  return true;
}

bool is_throttling(const Error& error) {
  return error.http_status == 429 || error.http_status == 503 || error.s3_code == "SlowDown";
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, const Error& failure, int attempt,
                                        double random_fraction) {
  const auto base = is_throttling(failure) ? policy.throttling_base_delay : policy.base_delay;
  const int doublings = std::clamp(attempt - 1, 0, 30);
  const double ceiling = std::min<double>(static_cast<double>(policy.max_delay.count()),
                                          static_cast<double>(base.count()) * (1u << doublings));
  return std::chrono::milliseconds(static_cast<long long>(ceiling * std::clamp(random_fraction, 0.0, 1.0)));
}

std::string RetryNotice::describe() const {
  std::string text = operation;
  if (part_number > 0) text += " " + std::to_string(part_number);
  return text + ": " + reason + ", attempt " + std::to_string(next_attempt) + " of " + std::to_string(max_attempts);
}

std::string retry_reason(const Error& error) {
  std::string reason = error.http_status != 0 ? "HTTP " + std::to_string(error.http_status) : error.code.message();
  if (error.http_status != 0 && !error.s3_code.empty()) reason += " " + error.s3_code;
  if (!error.detail.empty()) reason += ": " + error.detail;
  return reason;
}

}  // namespace pg2s3::s3

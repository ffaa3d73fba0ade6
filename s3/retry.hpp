// Which failed S3 requests to retry, and how long to wait first: bounded attempts, backoff with full jitter.
#pragma once

#include "s3/error.hpp"

#include <chrono>

namespace pg2s3::s3 {

struct RetryPolicy {
  int max_attempts = 8;  // the first try included
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{10'000};
};

// 500, 503, SlowDown, InternalError, RequestTimeout, and connections that failed, dropped or timed out.
// Never other 4xx, certificate failures, or cancellation.
bool is_retryable(const Error& error);

// Full jitter: `random_fraction` (in [0, 1)) of min(max_delay, base_delay * 2^(attempt - 1)),
// where `attempt` is the number of the attempt that just failed, from 1.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double random_fraction);

}  // namespace pg2s3::s3

// Which failed S3 requests to retry, and how long to wait first: bounded attempts, backoff with full jitter.
#pragma once

#include "s3/error.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace pg2s3::s3 {

// The delays are those of the AWS SDKs' standard retry mode: from 100 ms, or 1 s after throttling, doubling
// to at most 20 s.
struct RetryPolicy {
  int max_attempts = 8;  // the first try included
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{20'000};
  // Throttling is the service shedding load it has from all its clients: coming back as soon as after a
  // dropped connection would add to that load, so these retries back off from ten times further.
  std::chrono::milliseconds throttling_base_delay{1'000};
};

// 500, 502, 503, 504, 429, SlowDown, InternalError, RequestTimeout (whatever the body: a load balancer in
// front of S3 sends HTML or nothing), and connections that failed, dropped or timed out. Never other 4xx,
// certificate failures, or cancellation.
bool is_retryable(const Error& error);

// 429, 503 and SlowDown: S3, or what stands in front of it, asks for fewer requests.
bool is_throttling(const Error& error);

// Full jitter: `random_fraction` (in [0, 1)) of min(max_delay, base * 2^(attempt - 1)), where `attempt` is
// the number of the attempt that just failed, from 1, and base is throttling_base_delay after throttling,
// base_delay after any other failure.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, const Error& failure, int attempt,
                                        double random_fraction);

// A request about to be tried again, and why.
struct RetryNotice {
  std::string operation;  // "UploadPart"
  std::string bucket;
  std::string key;
  int part_number = 0;  // of an UploadPart; 0 otherwise
  int next_attempt = 0;  // from 2
  int max_attempts = 0;
  std::string reason;  // what the failed attempt met: "HTTP 503 SlowDown", "Connection refused"

  // "UploadPart 3: HTTP 503 SlowDown, attempt 4 of 8"
  std::string describe() const;
};

using RetryObserver = std::function<void(const RetryNotice&)>;

// What a failed attempt met, without the operation and object that a RetryNotice names already.
std::string retry_reason(const Error& error);

}  // namespace pg2s3::s3

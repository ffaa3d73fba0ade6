// Which S3 failures are retried, and the backoff between attempts.
#include "s3/retry.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <catch2/catch.hpp>

using namespace pg2s3::s3;
using namespace std::chrono_literals;

namespace {
Error http_error(unsigned status, std::string code) {
  Error error;
  error.code = errc::service_error;
  error.http_status = status;
  error.s3_code = std::move(code);
  return error;
}
Error transport_error(boost::system::error_code code) {
  Error error;
  error.code = code;
  return error;
}
}  // namespace

TEST_CASE("server errors and throttling are retried", "[retry]") {
  CHECK(is_retryable(http_error(500, "InternalError")));
  CHECK(is_retryable(http_error(503, "SlowDown")));
  CHECK(is_retryable(http_error(503, "")));
  CHECK(is_retryable(http_error(400, "RequestTimeout")));
  CHECK(is_retryable(http_error(200, "InternalError")));  // CompleteMultipartUpload's 200 with an <Error>
}

TEST_CASE("a load balancer's 502, 504 and 429 are retried, whatever their body", "[retry]") {
  // A load balancer or proxy in front of S3 answers these itself, with an HTML page or nothing: no <Code>.
  CHECK(is_retryable(http_error(502, "")));
  CHECK(is_retryable(http_error(504, "")));
  CHECK(is_retryable(http_error(429, "")));
  CHECK_FALSE(is_retryable(http_error(501, "")));
  CHECK_FALSE(is_retryable(http_error(505, "")));
}

TEST_CASE("throttling is 429, 503 and SlowDown; other failures are not", "[retry]") {
  CHECK(is_throttling(http_error(429, "")));
  CHECK(is_throttling(http_error(503, "")));
  CHECK(is_throttling(http_error(503, "SlowDown")));
  CHECK(is_throttling(http_error(400, "SlowDown")));
  for (auto status : {500u, 502u, 504u}) CHECK_FALSE(is_throttling(http_error(status, "")));
  CHECK_FALSE(is_throttling(http_error(500, "InternalError")));
  CHECK_FALSE(is_throttling(http_error(400, "RequestTimeout")));
  CHECK_FALSE(is_throttling(transport_error(boost::asio::error::connection_reset)));
}

TEST_CASE("other client errors are final", "[retry]") {
  for (auto [status, code] : {std::pair{400u, "EntityTooSmall"}, {403u, "SignatureDoesNotMatch"},
                              {403u, "AccessDenied"}, {404u, "NoSuchUpload"}, {400u, "InvalidPart"}})
    CHECK_FALSE(is_retryable(http_error(status, code)));
}

TEST_CASE("dropped and refused connections are retried but not cancellation or TLS trust", "[retry]") {
  CHECK(is_retryable(transport_error(boost::asio::error::connection_refused)));
  CHECK(is_retryable(transport_error(boost::asio::error::connection_reset)));
  CHECK(is_retryable(transport_error(boost::asio::error::eof)));
  CHECK(is_retryable(transport_error(boost::asio::error::timed_out)));
  CHECK_FALSE(is_retryable(transport_error(boost::asio::error::operation_aborted)));
  CHECK_FALSE(is_retryable(transport_error(
      boost::system::error_code(0x0A000086, boost::asio::error::get_ssl_category()))));  // certificate verify failed
  CHECK_FALSE(is_retryable(transport_error(errc::malformed_response)));
}

TEST_CASE("backoff is full jitter under an exponential ceiling", "[retry]") {
  const RetryPolicy policy{8, 100ms, 1000ms, 400ms};
  const Error failure = http_error(500, "InternalError");
  CHECK(backoff_delay(policy, failure, 1, 0.0) == 0ms);
  CHECK(backoff_delay(policy, failure, 1, 0.999) == 99ms);
  CHECK(backoff_delay(policy, failure, 2, 0.5) == 100ms);
  CHECK(backoff_delay(policy, failure, 3, 0.5) == 200ms);
  CHECK(backoff_delay(policy, failure, 4, 0.999) == 799ms);
  CHECK(backoff_delay(policy, failure, 5, 0.999) == 999ms);   // capped at max_delay
  CHECK(backoff_delay(policy, failure, 40, 0.999) == 999ms);  // no overflow however many attempts
}

TEST_CASE("throttling backs off from its own, longer base delay under the same ceiling", "[retry]") {
  const RetryPolicy policy{8, 100ms, 10'000ms, 1000ms};
  for (const auto& throttled : {http_error(429, ""), http_error(503, "SlowDown")}) {
    CHECK(backoff_delay(policy, throttled, 1, 0.5) == 500ms);
    CHECK(backoff_delay(policy, throttled, 3, 0.5) == 2000ms);
    CHECK(backoff_delay(policy, throttled, 5, 0.999) == 9990ms);  // capped at max_delay
  }
  for (const auto& transient : {http_error(502, ""), http_error(504, ""), transport_error(boost::asio::error::eof)})
    CHECK(backoff_delay(policy, transient, 1, 0.5) == 50ms);
}

TEST_CASE("a retry is described as a job's status shows it", "[retry]") {
  RetryNotice notice{"UploadPart", "bucket", "exports/a.csv", 3, 4, 8, ""};
  Error timed_out;
  timed_out.code = boost::asio::error::timed_out;
  notice.reason = retry_reason(timed_out);
  CHECK(notice.describe() == "UploadPart 3: " + timed_out.code.message() + ", attempt 4 of 8");
  Error slow_down;
  slow_down.http_status = 503;
  slow_down.s3_code = "SlowDown";
  CHECK(retry_reason(slow_down) == "HTTP 503 SlowDown");
  notice = {"CompleteMultipartUpload", "bucket", "exports/a.csv", 0, 2, 8, "HTTP 500 InternalError"};
  CHECK(notice.describe() == "CompleteMultipartUpload: HTTP 500 InternalError, attempt 2 of 8");
}

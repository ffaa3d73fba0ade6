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
  const RetryPolicy policy{8, 100ms, 1000ms};
  CHECK(backoff_delay(policy, 1, 0.0) == 0ms);
  CHECK(backoff_delay(policy, 1, 0.999) == 99ms);
  CHECK(backoff_delay(policy, 2, 0.5) == 100ms);
  CHECK(backoff_delay(policy, 3, 0.5) == 200ms);
  CHECK(backoff_delay(policy, 4, 0.999) == 799ms);
  CHECK(backoff_delay(policy, 5, 0.999) == 999ms);   // capped at max_delay
  CHECK(backoff_delay(policy, 40, 0.999) == 999ms);  // no overflow however many attempts
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

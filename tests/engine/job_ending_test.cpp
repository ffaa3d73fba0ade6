// How an attempt ends, decided without I/O: which failures give the job another attempt, and which end it.
#include "engine/detail/job_ending.hpp"
#include "engine/detail/failure.hpp"

#include <boost/asio/error.hpp>
#include <catch2/catch.hpp>

using namespace pg2s3;
using namespace pg2s3::engine;
using detail::AttemptFacts;
using detail::Ending;
using detail::Stop;

namespace {

const Result<void> transient = Error{boost::asio::error::connection_reset, "UploadPart: connection reset", true};
const Result<void> permanent = Error{errc::invalid_request, "query: SQLSTATE 42601: syntax error"};

AttemptFacts queued(int attempt, int max_attempts = 3) { return {Stop::none, false, true, attempt, max_attempts}; }

}  // namespace

TEST_CASE("a transient failure gives a queued job another attempt while it has attempts left", "[ending]") {
  CHECK(detail::ending_of(transient, queued(1)) == Ending::retry_later);
  CHECK(detail::ending_of(transient, queued(2)) == Ending::retry_later);
  CHECK(detail::ending_of(transient, queued(3)) == Ending::failed);  // the last one spent
  CHECK(detail::ending_of(permanent, queued(1)) == Ending::failed);  // another attempt would fail alike
}

TEST_CASE("a job held for its process fails at once: no other process can run it", "[ending]") {
  AttemptFacts held = queued(1);
  held.from_queue = false;
  CHECK(detail::ending_of(transient, held) == Ending::failed);
}

TEST_CASE("stops decide before the failure they caused", "[ending]") {
  AttemptFacts facts = queued(1);
  facts.stop = Stop::lease_lost;
  CHECK(detail::ending_of(transient, facts) == Ending::walk_away);
  facts.stop = Stop::hand_back;
  CHECK(detail::ending_of(permanent, facts) == Ending::hand_back);
  facts.stop = Stop::cancel;
  facts.cancel_requested = true;
  CHECK(detail::ending_of(transient, facts) == Ending::cancelled);
  CHECK(detail::ending_of(Result<void>{}, facts) == Ending::completed);  // the object was there first
}

TEST_CASE("PostgreSQL's and S3's failures say whether another attempt may succeed", "[ending]") {
  auto pg_error = [](pg::errc code, std::string sqlstate = {}) {
    return pg::Error{code, "COPY", std::move(sqlstate), "", "", ""};
  };
  CHECK(detail::failure("reading rows", pg_error(pg::errc::connection_lost)).transient);
  CHECK(detail::failure("connecting", pg_error(pg::errc::connection_failed)).transient);
  CHECK(detail::failure("reading rows", pg_error(pg::errc::server_error, "57P01")).transient);  // terminated
  CHECK(detail::failure("reading rows", pg_error(pg::errc::server_error, "08006")).transient);
  CHECK(detail::failure("reading rows", pg_error(pg::errc::server_error, "53300")).transient);  // too many clients
  CHECK_FALSE(detail::failure("query", pg_error(pg::errc::server_error, "42601")).transient);   // syntax
  CHECK_FALSE(detail::failure("query", pg_error(pg::errc::server_error, "42501")).transient);   // permission

  s3::Error s3_error;
  s3_error.code = s3::errc::service_error;
  s3_error.http_status = 503;
  s3_error.s3_code = "SlowDown";
  CHECK(detail::failure(s3_error).transient);
  s3_error.http_status = 403;
  s3_error.s3_code = "AccessDenied";
  CHECK_FALSE(detail::failure(s3_error).transient);
}

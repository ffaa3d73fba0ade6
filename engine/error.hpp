// Errors of the engine as values: a code and a message fit for a job's errorMessage.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <exception>
#include <string>
#include <type_traits>

namespace pg2s3::engine {

// What the engine refuses on its own account; failures of PostgreSQL and S3 keep their own codes.
enum class errc {
  unknown_dataset = 1,
  invalid_request,  // a key or compression that cannot be used
  unknown_job,
  shutting_down,
  output_too_large,  // past what S3 holds in one object
  over_budget,       // a part buffer larger than the whole buffer budget
  conflict,          // an idempotency key already used by another request
  lease_lost,        // another process holds the job now: its runner stops without writing to it
  at_capacity,       // max_pending jobs are PENDING already: nothing was recorded
  internal_error,    // an exception inside pg2s3 (a bug, or memory exhausted): the job it hit fails alone
};

const boost::system::error_category& engine_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

struct Error {
  boost::system::error_code code;
  std::string message;  // names the step and carries the server's own words; never a secret
  // Another attempt may well succeed (S3 or PostgreSQL away, a connection lost, a lease renewed late): a job
  // of the fleet goes back PENDING while it has attempts left, rather than FAILED.
  bool transient = false;
};

template <class T>
using Result = boost::system::result<T, Error>;

// An exception that escaped a job's work, as the failure of that job alone: "internal error: <what()>".
Error internal_error(std::exception_ptr thrown);

[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& location);

}  // namespace pg2s3::engine

template <>
struct boost::system::is_error_code_enum<pg2s3::engine::errc> : std::true_type {};

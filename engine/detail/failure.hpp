// PostgreSQL's and S3's failures as the engine reports them: their own codes, and their own words.
#pragma once

#include "engine/error.hpp"
#include "pg/error.hpp"
#include "s3/error.hpp"
#include "s3/retry.hpp"

#include <string>
#include <string_view>

namespace pg2s3::engine::detail {

// The step, then the server's words.
inline Error failure(std::string_view step, const pg::Error& error) {
  return {error.code, std::string(step) + ": " + error.message(), pg::is_transient(error)};
}

// An S3 error names its operation and object already. One the client retries is transient: when it reaches
// here, the client's own attempts were spent on it, and a later attempt of the job may find S3 back.
inline Error failure(const s3::Error& error) { return {error.code, error.message(), s3::is_retryable(error)}; }

}  // namespace pg2s3::engine::detail

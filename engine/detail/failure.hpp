// PostgreSQL's and S3's failures as the engine reports them: their own codes, and their own words.
#pragma once

#include "engine/error.hpp"
#include "pg/error.hpp"
#include "s3/error.hpp"

#include <string>
#include <string_view>

namespace pg2s3::engine::detail {

// The step, then the server's words.
inline Error failure(std::string_view step, const pg::Error& error) {
  return {error.code, std::string(step) + ": " + error.message()};
}

// An S3 error names its operation and object already.
inline Error failure(const s3::Error& error) { return {error.code, error.message()}; }

}  // namespace pg2s3::engine::detail

// GET /exports's query string as plain functions: its parameters, UTC times, and the opaque page cursor.
#pragma once

#include "engine/job_query.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace pg2s3::http {

// Why a listing's query string cannot be used: "bad_request", or "bad_cursor" for a cursor this server
// did not hand out.
struct QueryProblem {
  std::string code;
  std::string message;
};

// limit (1..1000, default 20), status, dataset, since and until (ISO-8601 UTC), cursor; each at most once,
// percent-encoded or not, nothing else.
std::variant<engine::JobQuery, QueryProblem> parse_list_query(std::string_view query);

// "2026-01-13T10:00:00Z", with up to six digits of a fraction of a second before the Z; years 1900..2200.
std::optional<engine::TimePoint> parse_utc_time(std::string_view text);

// base64url of the position with a check value, so that an edited cursor is refused rather than used.
std::string encode_cursor(const engine::JobPosition& position);
std::optional<engine::JobPosition> decode_cursor(std::string_view cursor);

}  // namespace pg2s3::http

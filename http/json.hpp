// The control API's JSON: job statuses and errors written with Boost.JSON, request bodies read with simdjson.
#pragma once

#include "engine/job.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pg2s3::http {

// {"id","dataset","status","totalRecords","processedRecords","progressPercent","bytesUploaded","s3Key",
//  "errorMessage","retrying","createdAt","startedAt","finishedAt"}; null where not known.
std::string job_status_json(const engine::JobRecord& job);

// {"jobs": [status...]}
std::string job_list_json(const std::vector<engine::JobRecord>& jobs);

// {"error": code, "message": message}
std::string error_json(std::string_view code, std::string_view message);

// The optional body of POST /exports/{dataset}: {"key": "...", "compression": "none|gzip|zstd"}.
struct ExportOptions {
  std::string key;
  engine::Compression compression = engine::Compression::none;
};

// The options, or why the body cannot be used (malformed JSON, a wrong type, an unknown field value).
std::variant<ExportOptions, std::string> parse_export_options(std::string_view body);

}  // namespace pg2s3::http

// The control API's JSON: job statuses and errors written with Boost.JSON, request bodies read with simdjson.
#pragma once

#include "engine/config.hpp"
#include "engine/dataset_params.hpp"
#include "engine/job.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pg2s3::http {

// {"id","dataset","status","format","totalRecords","processedRecords","progressPercent","bytesUploaded",
//  "s3Key","errorMessage","retrying","createdAt","startedAt","finishedAt"}; null where not known.
std::string job_status_json(const engine::JobRecord& job);

// {"jobs": [status...], "next": cursor or null}
std::string job_list_json(const std::vector<engine::JobRecord>& jobs, const std::optional<std::string>& next);

// {"name", "description", "params": [{"name", "type", "required", "default"}], "defaults": {"format", "compression"}}
std::string dataset_json(const engine::Dataset& dataset);

// {"datasets": [dataset...]}
std::string dataset_list_json(const std::vector<engine::Dataset>& datasets);

// {"error": code, "message": message}
std::string error_json(std::string_view code, std::string_view message);

// The optional body of POST /exports/{dataset}:
// {"key": "...", "format": "csv|parquet", "compression": "none|snappy|gzip|zstd", "params": {...}}; what it leaves out, the
// engine chooses (the dataset's format, the format's compression).
struct ExportOptions {
  std::string key;
  std::optional<engine::Compression> compression;
  std::optional<engine::Format> format;
  std::optional<int> parallelism;
  std::optional<std::uint64_t> max_file_size;
  engine::ParamArguments params;  // "params": {"name": string, number or boolean, ...}
};

// The options, or why the body cannot be used (malformed JSON, a wrong type, an unknown field value).
std::variant<ExportOptions, std::string> parse_export_options(std::string_view body);

}  // namespace pg2s3::http

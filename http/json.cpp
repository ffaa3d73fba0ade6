#include "http/json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <simdjson.h>

#include <algorithm>
#include <utility>

namespace pg2s3::http {

namespace json = boost::json;

namespace {

// Text as valid UTF-8, which JSON must be: a byte that does not start a well-formed sequence becomes U+FFFD.
// (A request target, a server's message or a key may carry any bytes.)
std::string valid_utf8(std::string_view text) {
  if (simdjson::validate_utf8(text.data(), text.size())) return std::string(text);
  std::string valid;
  while (!text.empty()) {
    // The sequence at the front is the shortest prefix that is valid UTF-8, of at most 4 bytes.
    const std::size_t longest = std::min<std::size_t>(4, text.size());
    std::size_t length = 1;
    while (length <= longest && !simdjson::validate_utf8(text.data(), length)) ++length;
    if (length > longest) {
      valid += "\xEF\xBF\xBD";
      length = 1;
    } else {
      valid.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return valid;
}

json::value time_or_null(const std::optional<engine::TimePoint>& time) {
  if (!time) return nullptr;
  return json::value(engine::iso8601(*time));
}

json::object status_object(const engine::JobRecord& job) {
  json::object status;
  status["id"] = job.id;
  status["dataset"] = valid_utf8(job.dataset);
  status["status"] = engine::to_string(job.status);
  status["format"] = engine::to_string(job.format);
  status["totalRecords"] = job.total_records ? json::value(*job.total_records) : json::value(nullptr);
  status["processedRecords"] = job.processed_records;
  status["progressPercent"] = engine::progress_percent(job);
  status["bytesUploaded"] = job.bytes_uploaded;
  status["s3Key"] = valid_utf8(job.s3_key);
  status["errorMessage"] = job.error_message.empty() ? json::value(nullptr) : json::value(valid_utf8(job.error_message));
  status["retrying"] = job.retrying.empty() ? json::value(nullptr) : json::value(valid_utf8(job.retrying));
  status["stalledSeconds"] = job.stalled_seconds ? json::value(*job.stalled_seconds) : json::value(nullptr);
  status["attempt"] = job.attempt;
  status["maxAttempts"] = job.max_attempts;
  status["runner"] = job.runner.empty() ? json::value(nullptr) : json::value(valid_utf8(job.runner));
  json::array errors;
  for (const auto& error : job.errors) errors.push_back(json::value(valid_utf8(error)));
  status["errors"] = std::move(errors);
  status["files"] = job.files ? json::value(*job.files) : json::value(nullptr);
  status["manifestKey"] = job.manifest_key.empty() ? json::value(nullptr) : json::value(valid_utf8(job.manifest_key));
  json::object params;
  for (const auto& [name, value] : job.params)
    params[valid_utf8(name)] = value ? json::value(valid_utf8(*value)) : json::value(nullptr);
  status["params"] = std::move(params);
  status["createdAt"] = engine::iso8601(job.created_at);
  status["startedAt"] = time_or_null(job.started_at);
  status["finishedAt"] = time_or_null(job.finished_at);
  return status;
}

json::object dataset_object(const engine::Dataset& dataset) {
  json::array params;
  for (const auto& param : dataset.params)
    params.push_back(json::object{{"name", param.name},
                                  {"type", param.type},
                                  {"required", param.required},
                                  {"default", param.default_value ? json::value(valid_utf8(*param.default_value))
                                                                  : json::value(nullptr)}});
  return {{"name", valid_utf8(dataset.name)},
          {"description", dataset.description.empty() ? json::value(nullptr) : json::value(valid_utf8(dataset.description))},
          {"params", std::move(params)},
          {"defaults", json::object{{"format", engine::to_string(dataset.format)},
                                    {"compression", engine::to_string(engine::default_compression(dataset.format))}}}};
}

// A request's parameter values as text: strings as they are, numbers as written, booleans as true/false.
std::optional<std::string> read_params(simdjson::dom::element value, engine::ParamArguments& params) {
  simdjson::dom::object object;
  if (value.get(object)) return "\"params\" must be an object of the dataset's parameters";
  for (auto [name, element] : object) {
    const std::string field(name);
    std::string text;
    std::string_view string;
    bool flag = false;
    if (!element.get(string)) text = string;
    else if (!element.get(flag)) text = flag ? "true" : "false";
    else if (element.is_number()) text = simdjson::minify(element);
    else return "params." + valid_utf8(field.substr(0, 64)) + " must be a string, a number or a boolean";
    if (!params.emplace(field, std::move(text)).second) return "params." + valid_utf8(field.substr(0, 64)) + " is given twice";
  }
  return std::nullopt;
}

}  // namespace

std::string dataset_json(const engine::Dataset& dataset) { return json::serialize(dataset_object(dataset)); }

std::string dataset_list_json(const std::vector<engine::Dataset>& datasets) {
  json::array all;
  for (const auto& dataset : datasets) all.push_back(dataset_object(dataset));
  return json::serialize(json::object{{"datasets", std::move(all)}});
}

std::string job_status_json(const engine::JobRecord& job) { return json::serialize(status_object(job)); }

std::string job_list_json(const std::vector<engine::JobRecord>& jobs, const std::optional<std::string>& next) {
  json::array statuses;
  for (const auto& job : jobs) statuses.push_back(status_object(job));
  return json::serialize(json::object{{"jobs", std::move(statuses)},
                                      {"next", next ? json::value(*next) : json::value(nullptr)}});
}

std::string error_json(std::string_view code, std::string_view message) {
  return json::serialize(json::object{{"error", code}, {"message", valid_utf8(message)}});
}

std::variant<ExportOptions, std::string> parse_export_options(std::string_view body) {
  ExportOptions options;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return options;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object)) return std::string("the body is not a JSON object");
  // A field given twice is ambiguous: refused.
  bool key_seen = false, compression_seen = false, format_seen = false, parallelism_seen = false, size_seen = false;
  bool params_seen = false;
  for (auto [field, value] : object) {
    std::string_view text;
    if (field == "key") {
      if (std::exchange(key_seen, true)) return std::string("\"key\" is given twice");
      if (value.get(text)) return std::string("\"key\" must be a string");
      options.key = text;
    } else if (field == "compression") {
      if (std::exchange(compression_seen, true)) return std::string("\"compression\" is given twice");
      if (value.get(text)) return std::string("\"compression\" must be a string");
      auto compression = engine::parse_compression(text);
      if (!compression) return "\"compression\" must be none, snappy, gzip or zstd, not \"" + std::string(text) + "\"";
      options.compression = *compression;
    } else if (field == "format") {
      if (std::exchange(format_seen, true)) return std::string("\"format\" is given twice");
      if (value.get(text)) return std::string("\"format\" must be a string");
      auto format = engine::parse_format(text);
      if (!format) return "\"format\" must be csv or parquet, not \"" + std::string(text) + "\"";
      options.format = *format;
    } else if (field == "parallelism") {
      if (std::exchange(parallelism_seen, true)) return std::string("\"parallelism\" is given twice");
      std::int64_t number = 0;
      if (value.get(number) || number < 1 || number > 64) return std::string("\"parallelism\" must be a whole number from 1 to 64");
      options.parallelism = static_cast<int>(number);
    } else if (field == "maxFileSize") {
      if (std::exchange(size_seen, true)) return std::string("\"maxFileSize\" is given twice");
      std::uint64_t bytes = 0;
      if (!value.get(text)) {
        auto parsed = engine::parse_byte_size(text);
        if (!parsed) return "\"maxFileSize\" must be a size such as \"256MiB\" or a number of bytes, not \"" + std::string(text) + "\"";
        bytes = *parsed;
      } else if (value.get(bytes)) {
        return std::string("\"maxFileSize\" must be a size such as \"256MiB\" or a number of bytes");
      }
      options.max_file_size = bytes;
    } else if (field == "params") {
      if (std::exchange(params_seen, true)) return std::string("\"params\" is given twice");
      if (auto problem = read_params(value, options.params)) return *problem;
    } else {
      return "unknown field \"" + std::string(field) + "\"";
    }
  }
  return options;
}

}  // namespace pg2s3::http

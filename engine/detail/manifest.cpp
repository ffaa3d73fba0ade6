#include "engine/detail/manifest.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>

namespace pg2s3::engine::detail {

namespace json = boost::json;

namespace {

std::optional<std::int64_t> whole_number(const json::value* value) {
  if (value && value->is_int64() && value->as_int64() >= 0) return value->as_int64();
  if (value && value->is_uint64() && value->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(value->as_uint64());
  return std::nullopt;
}

std::string url_of(std::string_view key, std::string_view bucket) {
  if (bucket.empty()) return std::string(key);
  return "s3://" + std::string(bucket) + "/" + std::string(key);
}

}  // namespace

std::string manifest_json(const Manifest& manifest, std::string_view bucket) {
  json::array columns;
  for (const auto& column : manifest.columns) columns.push_back(json::object{{"name", column.name}, {"type", column.type}});
  json::array entries;
  std::int64_t records = 0;
  std::uint64_t bytes = 0;
  for (const auto& file : manifest.files) {
    records += file.records;
    bytes += file.bytes;
    entries.push_back(json::object{
        {"url", url_of(file.key, bucket)},
        {"mandatory", true},
        {"meta", json::object{{"content_length", file.bytes}, {"record_count", file.records}}}});
  }
  return json::serialize(json::object{{"version", 1},
                                      {"jobId", manifest.job_id},
                                      {"dataset", manifest.dataset},
                                      {"format", manifest.format},
                                      {"compression", manifest.compression},
                                      {"columns", std::move(columns)},
                                      {"snapshot", manifest.snapshot},
                                      {"totalRecords", records},
                                      {"totalBytes", bytes},
                                      {"entries", std::move(entries)}});
}

std::optional<std::vector<ManifestFile>> manifest_files(std::string_view text, std::string_view bucket) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  const auto* entries = ec || !parsed.is_object() ? nullptr : parsed.as_object().if_contains("entries");
  if (!entries || !entries->is_array()) return std::nullopt;
  const std::string prefix = url_of("", bucket);
  std::vector<ManifestFile> files;
  for (const auto& entry : entries->as_array()) {
    const auto* object = entry.if_object();
    const auto* url = object ? object->if_contains("url") : nullptr;
    const auto* meta = object ? object->if_contains("meta") : nullptr;
    if (!url || !url->is_string() || !meta || !meta->is_object()) return std::nullopt;
    const std::string_view location = url->as_string();
    if (!location.starts_with(prefix)) return std::nullopt;
    const auto length = whole_number(meta->as_object().if_contains("content_length"));
    const auto count = whole_number(meta->as_object().if_contains("record_count"));
    if (!length || !count) return std::nullopt;
    files.push_back({std::string(location.substr(prefix.size())), static_cast<std::uint64_t>(*length), *count});
  }
  return files;
}

}  // namespace pg2s3::engine::detail

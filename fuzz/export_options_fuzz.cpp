// libFuzzer target: any bytes as the body of POST /exports/{dataset}; what is accepted must match the
// JSON: a key that comes back is exactly the body's "key" string, and a format or compression is set
// exactly when the body names one, to the value it names.
#include "http/json.hpp"

#include <simdjson.h>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto options = pg2s3::http::parse_export_options(body);
  const auto* accepted = std::get_if<pg2s3::http::ExportOptions>(&options);
  if (!accepted) {
    if (std::get<std::string>(options).empty()) std::abort();  // a refusal always says why
    return 0;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return 0;  // no body: nothing chosen
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object) != simdjson::SUCCESS) std::abort();
  std::string_view key, format, compression;
  if (!accepted->key.empty() && (object.at_key("key").get(key) != simdjson::SUCCESS || key != accepted->key)) std::abort();
  const bool has_format = object.at_key("format").get(format) == simdjson::SUCCESS;
  if (has_format != accepted->format.has_value()) std::abort();
  if (has_format && pg2s3::engine::to_string(*accepted->format) != format) std::abort();
  const bool has_compression = object.at_key("compression").get(compression) == simdjson::SUCCESS;
  if (has_compression != accepted->compression.has_value()) std::abort();
  if (has_compression && pg2s3::engine::to_string(*accepted->compression) != compression) std::abort();
  return 0;
}

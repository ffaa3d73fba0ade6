// libFuzzer target: any bytes as the body of POST /exports/{dataset}; what is accepted must be one of the
// known compressions, and a key that comes back must be exactly the "key" string of the body.
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
  if (accepted->key.empty()) return 0;
  simdjson::dom::parser parser;
  std::string_view key;
  if (parser.parse(body.data(), body.size()).at_key("key").get(key) != simdjson::SUCCESS || key != accepted->key)
    std::abort();
  return 0;
}

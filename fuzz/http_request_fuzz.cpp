// libFuzzer target: bytes from a client, parsed as the control API's server parses them (same limits), then
// routed and authorized; every refusal must be a JSON error that a JSON parser reads back.
#include "http/json.hpp"
#include "http/routes.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <simdjson.h>

#include <cstdlib>
#include <string_view>

namespace {

namespace bhttp = boost::beast::http;

void check_error_json(const pg2s3::http::Refusal& refusal) {
  const std::string json = pg2s3::http::error_json(refusal.code, refusal.message);
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(json).get(document) != simdjson::SUCCESS) std::abort();
  std::string_view message;
  if (document["message"].get(message) != simdjson::SUCCESS) std::abort();
  const bool readable = simdjson::validate_utf8(refusal.message.data(), refusal.message.size());
  if (readable && message != refusal.message) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Requests one after another on a keep-alive connection, as the server reads them.
  while (!input.empty()) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 * 1024);
    parser.header_limit(16 * 1024);
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
    if (ec || !parser.is_done()) return 0;  // refused (431, 413, 400) or waiting for more
    input.remove_prefix(used);

    const auto& request = parser.get();
    const auto chosen = pg2s3::http::route(request.method_string(), request.target());
    if (const auto* refusal = std::get_if<pg2s3::http::Refusal>(&chosen)) check_error_json(*refusal);
    (void)pg2s3::http::authorized(request[bhttp::field::authorization], "distinctive-api-token");
    if (std::holds_alternative<pg2s3::http::StartExport>(chosen)) (void)pg2s3::http::parse_export_options(request.body());
    if (used == 0) return 0;
  }
  return 0;
}

// libFuzzer target: any bytes as GET /exports's query string and as a cursor. Nothing crashes; a cursor
// that decodes is exactly the encoding of what it decodes to (so an edited one never passes for another);
// an accepted query string keeps limit within 1..1000.
#include "http/list_query.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto position = pg2s3::http::decode_cursor(text)) {
    if (pg2s3::http::encode_cursor(*position) != text) std::abort();
    if (pg2s3::http::decode_cursor(pg2s3::http::encode_cursor(*position)) != position) std::abort();
  }
  const auto parsed = pg2s3::http::parse_list_query(text);
  if (const auto* query = std::get_if<pg2s3::engine::JobQuery>(&parsed)) {
    if (query->limit < 1 || query->limit > 1000) std::abort();
  } else {
    const auto& problem = std::get<pg2s3::http::QueryProblem>(parsed);
    if (problem.message.empty() || (problem.code != "bad_request" && problem.code != "bad_cursor")) std::abort();
  }
  pg2s3::http::parse_utc_time(text);
  return 0;
}

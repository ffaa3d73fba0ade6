// GET /exports's query string, UTC times and cursors as plain functions.
#include "http/list_query.hpp"
#include "http/routes.hpp"

#include <catch2/catch.hpp>

using namespace pg2s3;
using namespace pg2s3::http;

namespace {

engine::JobQuery accepted(std::string_view query) {
  auto parsed = parse_list_query(query);
  INFO(query);
  REQUIRE(std::holds_alternative<engine::JobQuery>(parsed));
  return std::get<engine::JobQuery>(parsed);
}

std::string refused(std::string_view query) {
  auto parsed = parse_list_query(query);
  INFO(query);
  REQUIRE(std::holds_alternative<QueryProblem>(parsed));
  CHECK_FALSE(std::get<QueryProblem>(parsed).message.empty());
  return std::get<QueryProblem>(parsed).code;
}

const engine::JobPosition some_position{1'764'115'200'123'456, "7d444840-9dc0-41d1-b245-5ffdce74fad2"};

}  // namespace

TEST_CASE("a listing's query string: every parameter, percent-encoded or not", "[list_query]") {
  const auto none = accepted("");
  CHECK(none.limit == 20);
  CHECK_FALSE(none.status);
  CHECK_FALSE(none.dataset);
  CHECK_FALSE(none.after);

  const auto all = accepted("limit=1000&status=FAILED&dataset=or%64ers&since=2026-01-13T10%3A00%3A00Z"
                            "&until=2026-01-14T00:00:00.5Z&cursor=" + encode_cursor(some_position));
  CHECK(all.limit == 1000);
  CHECK(all.status == engine::JobStatus::failed);
  CHECK(all.dataset == "orders");
  CHECK(engine::iso8601(*all.since) == "2026-01-13T10:00:00Z");
  CHECK(*all.until - *parse_utc_time("2026-01-14T00:00:00Z") == std::chrono::milliseconds(500));
  CHECK(all.after == some_position);
}

TEST_CASE("a listing's bad query string is a 400 that says why", "[list_query]") {
  for (auto query : {"limit=0", "limit=1001", "limit=", "limit=5x", "limit=-1", "status=pending", "status=DONE",
                     "since=yesterday", "since=2026-01-13T10:00:00", "until=2026-02-30T00:00:00Z",
                     "since=2026-01-13T24:00:00Z", "since=2026-01-13T10:00:00.1234567Z", "since=2026-01-13 10:00:00Z",
                     "since=2026-01-13T10:00:00+01:00", "offset=20", "limit=1&limit=2", "dataset=%zz", "dataset=%4"})
    CHECK(refused(query) == "bad_request");
  const auto routed = route("GET", "/exports?status=nope");
  REQUIRE(std::holds_alternative<Refusal>(routed));
  CHECK(std::get<Refusal>(routed).status == 400);
}

TEST_CASE("UTC times: whole seconds and fractions down to the microsecond", "[list_query]") {
  CHECK(engine::iso8601(*parse_utc_time("1999-12-31T23:59:59Z")) == "1999-12-31T23:59:59Z");
  CHECK(engine::iso8601(*parse_utc_time("2024-02-29T00:00:00Z")) == "2024-02-29T00:00:00Z");
  CHECK_FALSE(parse_utc_time("2023-02-29T00:00:00Z"));
  CHECK(*parse_utc_time("2026-01-01T00:00:00.000001Z") - *parse_utc_time("2026-01-01T00:00:00Z") ==
        std::chrono::microseconds(1));
  CHECK_FALSE(parse_utc_time("2026-01-01T00:00:00.Z"));
  CHECK_FALSE(parse_utc_time("2026-13-01T00:00:00Z"));
  CHECK_FALSE(parse_utc_time("6719-01-14T00:00:00.5Z"));  // past what a TimePoint holds
  CHECK_FALSE(parse_utc_time("0000-01-01T00:00:00Z"));
}

TEST_CASE("a cursor decodes to the position it encodes; an edited one is refused", "[list_query]") {
  const auto cursor = encode_cursor(some_position);
  CHECK(cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  CHECK(decode_cursor(cursor) == some_position);
  const engine::JobPosition early{-5, "00000000-0000-4000-8000-000000000000"};
  CHECK(decode_cursor(encode_cursor(early)) == early);

  for (std::size_t i = 0; i < cursor.size(); ++i) {  // every one-character edit
    for (char replacement : {'A', 'B', 'z', '-', '_'}) {
      std::string edited = cursor;
      if (edited[i] == replacement) continue;
      edited[i] = replacement;
      INFO(edited);
      CHECK_FALSE(decode_cursor(edited));
    }
  }
  for (auto bad : {std::string(), cursor.substr(1), cursor + "A", cursor + "=", std::string("'; DROP TABLE export_jobs; --"),
                   std::string(cursor.size(), 'A'), cursor.substr(0, 20) + "%00" + cursor.substr(20)})
    CHECK_FALSE(decode_cursor(bad));
  CHECK(refused("cursor=" + cursor.substr(2)) == "bad_cursor");
  CHECK(refused("cursor=") == "bad_cursor");
}

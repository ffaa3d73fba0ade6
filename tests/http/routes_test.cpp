// Routing as a plain function: a method and a target in, the operation or a refusal out.
#include "http/routes.hpp"

#include <catch2/catch.hpp>

using namespace pg2s3::http;

TEST_CASE("job ids are taken in either case and handed on in lower case", "[routes]") {
  const std::string upper = "7D444840-9DC0-11D1-B245-5FFDCE74FAD2";
  const std::string lower = "7d444840-9dc0-11d1-b245-5ffdce74fad2";
  auto cancel = route("DELETE", "/exports/" + upper);
  REQUIRE(std::holds_alternative<CancelJob>(cancel));
  CHECK(std::get<CancelJob>(cancel).id == lower);
  auto get = route("GET", "/exports/" + upper);
  REQUIRE(std::holds_alternative<GetJob>(get));
  CHECK(std::get<GetJob>(get).id == lower);
  auto url = route("GET", "/exports/" + upper + "/download-url");
  REQUIRE(std::holds_alternative<GetDownloadUrl>(url));
  CHECK(std::get<GetDownloadUrl>(url).id == lower);
  auto bad = route("GET", "/exports/7D444840-9DC0-11D1-B245-5FFDCE74FADX");
  REQUIRE(std::holds_alternative<Refusal>(bad));
  CHECK(std::get<Refusal>(bad).status == 400);
}

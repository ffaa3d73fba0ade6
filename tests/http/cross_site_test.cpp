// The Origin and Host checks that keep web pages from driving the API, as plain functions.
#include "http/cross_site.hpp"

#include <catch2/catch.hpp>

using namespace pg2s3::http;
namespace ip = boost::asio::ip;

namespace {

SiteRules listening_on(const char* address, std::vector<std::string> hostnames = {}) {
  return {{"https://console.example", "http://localhost:3000"}, ip::make_address(address), std::move(hostnames)};
}

// Each of `ours` passes; each of `foreign` is a 421.
void check_hosts(const SiteRules& rules, std::initializer_list<const char*> ours,
                 std::initializer_list<const char*> foreign) {
  for (const char* host : ours) {
    INFO(host);
    CHECK_FALSE(refuse_host(host, rules));
  }
  for (const char* host : foreign) {
    INFO(host);
    const auto refusal = refuse_host(host, rules);
    REQUIRE(refusal);
    CHECK(refusal->status == 421);
    CHECK(refusal->code == "misdirected_request");
  }
}

}  // namespace

TEST_CASE("an Origin header must be one of allowed_origins, exactly; none at all is curl", "[cross_site]") {
  const auto rules = listening_on("127.0.0.1");
  CHECK_FALSE(refuse_origin(std::nullopt, rules));
  CHECK_FALSE(refuse_origin("https://console.example", rules));
  CHECK_FALSE(refuse_origin("http://localhost:3000", rules));
  for (const char* foreign : {"http://evil.example", "null", "", "https://console.example:443", "http://console.example",
                              "https://console.example/", "http://localhost:3001", "https://CONSOLE.example"}) {
    INFO(foreign);
    const auto refusal = refuse_origin(std::string(foreign), rules);
    REQUIRE(refusal);
    CHECK(refusal->status == 403);
    CHECK(refusal->code == "forbidden");
  }
  CHECK(refuse_origin("https://console.example", SiteRules{{}, ip::make_address("127.0.0.1"), {}}));
}

TEST_CASE("on loopback, Host must be localhost, a loopback address or a configured name, any port", "[cross_site]") {
  check_hosts(listening_on("127.0.0.1", {"pg2s3.internal"}),
              {"localhost", "localhost:8080", "LocalHost:9000", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:8080",
               "pg2s3.internal", "PG2S3.internal:443", ""},
              {"evil.example", "evil.example:8080", "localhost.evil.example", "10.0.0.5:8080",
               "pg2s3.internal.evil.example", "localhost:80x", "[::1", "::1", "[::1]x", "127.0.0.1:8080:1"});
}

TEST_CASE("on a given address, Host must be that address, localhost or a configured name", "[cross_site]") {
  check_hosts(listening_on("10.0.0.5"), {"10.0.0.5:8080", "localhost"}, {"10.0.0.6:8080", "127.0.0.1", "evil.example"});
}

TEST_CASE("on 0.0.0.0 or [::], any IP literal passes (a load balancer's probe), but no other name", "[cross_site]") {
  for (const char* wildcard : {"0.0.0.0", "::"}) {
    INFO(wildcard);
    check_hosts(listening_on(wildcard, {"exports.corp.example"}),
                {"10.1.2.3:8080", "[fd00::7]:8080", "exports.corp.example", "localhost:8080"},
                {"evil.example:8080", "10.1.2.3.evil.example", "[10.1.2.3]"});
  }
}

TEST_CASE("an allowed origin is written as browsers send it, a hostname without port", "[cross_site]") {
  for (const char* origin : {"https://console.example", "http://localhost:3000", "http://[::1]:8080"})
    CHECK(is_origin(origin));
  for (const char* not_origin : {"console.example", "https://console.example/", "https://Console.example",
                                 "HTTPS://console.example", "https://", "://x", "https://a b", "https://x/path", "*"}) {
    INFO(not_origin);
    CHECK_FALSE(is_origin(not_origin));
  }
  CHECK(is_hostname("exports.corp.example"));
  for (const char* not_hostname : {"", "exports.corp.example:8080", "https://exports.corp.example", "a b"})
    CHECK_FALSE(is_hostname(not_hostname));
}

// SigV4 against the five S3 examples of the AWS documentation, and canonical request edge cases.
#include "s3/detail/crypto.hpp"
#include "s3/sigv4.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <map>

using namespace pg2s3::s3;
using namespace std::chrono;

namespace {

struct Vectors {
  Credentials credentials;
  SigningScope scope;
  std::string host;
  std::string signing_key_hex;
  struct Case {
    std::string canonical_request, signature, body, url;
    std::int64_t expires = 0;
  };
  std::map<std::string, Case> cases;
};

Vectors load_vectors() {
  simdjson::dom::parser parser;
  simdjson::dom::element json = parser.load(TEST_DATA_DIR "/sigv4-s3-examples.json");
  Vectors vectors;
  vectors.credentials = {std::string(json["credentials"]["accessKeyId"]),
                         std::string(json["credentials"]["secretAccessKey"]), ""};
  vectors.scope = {std::string(json["region"]), std::string(json["service"])};
  vectors.host = std::string(json["host"]);
  vectors.signing_key_hex = std::string(json["signingKeyHex"]);
  for (simdjson::dom::object c : json["cases"]) {
    Vectors::Case entry{std::string(c["canonicalRequest"]), std::string(c["signature"]), {}, {}};
    if (auto body = c["body"]; !body.error()) entry.body = std::string(body.get_string().value());
    if (auto url = c["url"]; !url.error()) entry.url = std::string(url.get_string().value());
    if (auto expires = c["expiresSeconds"]; !expires.error()) entry.expires = expires.get_int64().value();
    vectors.cases[std::string(c["name"])] = entry;
  }
  return vectors;
}

const system_clock::time_point example_time = sys_days{year{2013} / 5 / 24};

// The requests the examples describe, before x-amz-date, x-amz-content-sha256 and Authorization.
std::map<std::string, SignableRequest> example_requests(const Vectors& v) {
  const std::string empty_hash(empty_payload_sha256);
  return {
      {"get-object-range", {"GET", "/test.txt", {}, {{"Host", v.host}, {"Range", "bytes=0-9"}}, empty_hash}},
      {"put-object",
       {"PUT", "/test$file.text", {},
        {{"Host", v.host}, {"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
        pg2s3::s3::detail::hex(pg2s3::s3::detail::sha256(v.cases.at("put-object").body))}},
      {"get-bucket-lifecycle", {"GET", "/", {{"lifecycle", ""}}, {{"Host", v.host}}, empty_hash}},
      {"list-objects", {"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", v.host}}, empty_hash}},
  };
}

std::string header(const SignableRequest& request, std::string_view name) {
  for (const auto& [n, value] : request.headers)
    if (n == name) return value;
  return {};
}

}  // namespace

TEST_CASE("the signing key of the S3 examples", "[sigv4]") {
  const auto v = load_vectors();
  CHECK(pg2s3::s3::detail::hex(signing_key(v.credentials.secret_access_key, example_time, v.scope)) ==
        v.signing_key_hex);
}

TEST_CASE("header signing reproduces the S3 examples", "[sigv4]") {
  const auto v = load_vectors();
  for (auto [name, request] : example_requests(v)) {
    const auto& expected = v.cases.at(name);
    SECTION(name) {
      SignableRequest with_amz_headers = request;
      with_amz_headers.headers.emplace_back("x-amz-date", amz_date(example_time));
      with_amz_headers.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
      CHECK(canonical_request(with_amz_headers) == expected.canonical_request);

      sign_request(request, v.credentials, v.scope, example_time);
      const std::string authorization = header(request, "Authorization");
      CHECK_THAT(authorization, Catch::StartsWith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                                                  "us-east-1/s3/aws4_request, SignedHeaders="));
      CHECK_THAT(authorization, Catch::EndsWith(", Signature=" + expected.signature));
    }
  }
}

TEST_CASE("a presigned URL reproduces the S3 example", "[sigv4]") {
  const auto v = load_vectors();
  const auto& expected = v.cases.at("presigned-get");
  SignableRequest request{"GET", "/test.txt", {}, {{"host", v.host}}, {}};
  CHECK(presign_url(request, "https://" + v.host, v.credentials, v.scope, example_time, seconds(expected.expires)) ==
        expected.url);
}

TEST_CASE("a session token is signed as x-amz-security-token", "[sigv4]") {
  const Credentials temporary{"AKID", "secret", "token/with+chars="};
  SignableRequest request{"GET", "/b/k", {}, {{"host", "h"}}, std::string(empty_payload_sha256)};
  sign_request(request, temporary, {}, example_time);
  CHECK(header(request, "x-amz-security-token") == "token/with+chars=");
  CHECK_THAT(header(request, "Authorization"),
             Catch::Contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"));

  const auto url = presign_url({"GET", "/b/k", {}, {{"host", "h"}}, {}}, "http://h", temporary, {}, example_time,
                               seconds(60));
  CHECK_THAT(url, Catch::Contains("X-Amz-Security-Token=token%2Fwith%2Bchars%3D"));
}

TEST_CASE("URI encoding keeps only RFC 3986's unreserved characters", "[sigv4]") {
  CHECK(uri_encode("a b+c~d_e-f.g", true) == "a%20b%2Bc~d_e-f.g");
  CHECK(uri_encode("dir/file", true) == "dir/file");
  CHECK(uri_encode("dir/file", false) == "dir%2Ffile");
  CHECK(uri_encode("Zoë", true) == "Zo%C3%AB");
  CHECK(uri_encode("*!'()=&%", false) == "%2A%21%27%28%29%3D%26%25");
}

TEST_CASE("canonical requests follow S3's rules", "[sigv4]") {
  SECTION("the path is not normalised") {
    SignableRequest request{"GET", "/bucket/a/./b//c/../d", {}, {}, "h"};
    CHECK_THAT(canonical_request(request), Catch::StartsWith("GET\n/bucket/a/./b//c/../d\n"));
  }
  SECTION("query parameters: encoded, sorted by name then value, empty values kept") {
    CHECK(canonical_query_string({{"b", "2"}, {"a", "1"}, {"a", ""}, {"x y", "p+q~"}, {"uploads", ""}}) ==
          "a=&a=1&b=2&uploads=&x%20y=p%2Bq~");
  }
  SECTION("header names lower-cased and sorted, values trimmed and spaces folded, repeats joined") {
    SignableRequest request{"PUT", "/", {},
                            {{"X-Amz-Meta-B", "  two   words  "}, {"Host", "h"}, {"x-amz-meta-a", "1"},
                             {"X-Amz-Meta-A", "2"}},
                            "h"};
    CHECK(canonical_request(request) ==
          "PUT\n/\n\nhost:h\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n\nhost;x-amz-meta-a;x-amz-meta-b\nh");
  }
  SECTION("an empty path is the root") {
    CHECK_THAT(canonical_request({"GET", "", {}, {}, "h"}), Catch::StartsWith("GET\n/\n"));
  }
}

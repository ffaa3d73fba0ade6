// AWS Signature Version 4 for S3: canonical requests, header signing and presigned URLs, as pure functions.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pg2s3::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

// Where a signature is valid: the region and service of the credential scope.
struct SigningScope {
  std::string region = "us-east-1";
  std::string service = "s3";
};

using QueryParameters = std::vector<std::pair<std::string, std::string>>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A request as SigV4 sees it. Path, query names and values are raw (not yet percent-encoded);
// every header listed here is signed.
struct SignableRequest {
  std::string method;
  std::string path = "/";
  QueryParameters query;
  HeaderList headers;
  std::string payload_hash;  // hex SHA-256 of the body, or unsigned_payload
};

inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Percent-encodes all but RFC 3986's unreserved characters; '/' too unless keep_slash.
std::string uri_encode(std::string_view text, bool keep_slash);

// The query string as S3 signs it: names and values encoded, sorted, joined by '&'.
std::string canonical_query_string(const QueryParameters& query);

// S3's canonical request: no path normalisation, each segment encoded once.
std::string canonical_request(const SignableRequest& request);

std::string string_to_sign(std::chrono::system_clock::time_point time, const SigningScope& scope,
                           std::string_view canonical_request);

std::array<unsigned char, 32> signing_key(std::string_view secret_access_key,
                                          std::chrono::system_clock::time_point time,
                                          const SigningScope& scope);

// "20130524T000000Z"
std::string amz_date(std::chrono::system_clock::time_point time);

// Adds x-amz-date, x-amz-content-sha256, x-amz-security-token (with a session token) and
// Authorization to the request's headers. Call it when the request is sent, not when it is built.
void sign_request(SignableRequest& request, const Credentials& credentials, const SigningScope& scope,
                  std::chrono::system_clock::time_point now);

// A URL that performs the request without credentials until `expires` has passed.
// `origin` is the scheme and authority the URL starts with ("https://bucket.s3.amazonaws.com");
// the request must carry the matching host header.
std::string presign_url(SignableRequest request, std::string_view origin, const Credentials& credentials,
                        const SigningScope& scope, std::chrono::system_clock::time_point now,
                        std::chrono::seconds expires);

}  // namespace pg2s3::s3

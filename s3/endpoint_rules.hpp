// Where S3 requests go: region, endpoint and bucket addressing, by the AWS SDKs' rules, as pure functions.
#pragma once

#include "s3/credentials/provider.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pg2s3::s3 {

// virtual_hosted: https://bucket.s3.<region>.amazonaws.com/key; path: https://s3.<region>.amazonaws.com/bucket/key.
enum class Addressing { automatic, virtual_hosted, path };

std::optional<Addressing> parse_addressing(std::string_view text);  // "auto", "virtual", "path"

// A name that can be a DNS label of its own under TLS: 3-63 lowercase letters, digits and hyphens, starting
// and ending with a letter or digit. Dotted names are valid buckets, but a wildcard certificate covers one
// label only, so they go path style.
bool virtual_host_compatible(std::string_view bucket);

// Automatic: virtual-hosted on AWS's own endpoint for compatible names, path style otherwise and for
// custom endpoints (S3-compatible stores mostly lack wildcard DNS).
bool use_virtual_host(Addressing addressing, bool aws_endpoint, std::string_view bucket);

// "https://s3.<region>.amazonaws.com"
std::string aws_s3_endpoint(std::string_view region);

// The signing region: PG2S3_S3_REGION, AWS_REGION, AWS_DEFAULT_REGION, then `configured` (the config file),
// the profile's region, else us-east-1.
std::string choose_region(const EnvironmentLookup& environment, std::string_view configured,
                          const std::optional<std::string>& profile_region);

// The endpoint: PG2S3_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then `configured`, the profile's
// endpoint_url; empty: AWS's own for the region.
std::string choose_endpoint(const EnvironmentLookup& environment, std::string_view configured,
                            const std::optional<std::string>& profile_endpoint);

// The bucket's region when S3 answered that the request went to the wrong one (301 PermanentRedirect,
// 400 AuthorizationHeaderMalformed): from x-amz-bucket-region, else the <Region> of the body.
std::optional<std::string> region_of_redirect(unsigned http_status, std::string_view s3_code,
                                              std::string_view bucket_region_header, std::string_view body);

}  // namespace pg2s3::s3

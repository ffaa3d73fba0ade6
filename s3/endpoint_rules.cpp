#include "s3/endpoint_rules.hpp"

#include "s3/detail/xml.hpp"

#include <algorithm>

namespace pg2s3::s3 {

std::optional<Addressing> parse_addressing(std::string_view text) {
  if (text == "auto") return Addressing::automatic;
  if (text == "virtual") return Addressing::virtual_hosted;
  if (text == "path") return Addressing::path;
  return std::nullopt;
}

bool virtual_host_compatible(std::string_view bucket) {
  auto alphanumeric = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return bucket.size() >= 3 && bucket.size() <= 63 && alphanumeric(bucket.front()) && alphanumeric(bucket.back()) &&
         std::ranges::all_of(bucket, [&](char c) { return alphanumeric(c) || c == '-'; });
}

bool use_virtual_host(Addressing addressing, bool aws_endpoint, std::string_view bucket) {
  switch (addressing) {
    case Addressing::virtual_hosted: return true;
    case Addressing::path: return false;
    case Addressing::automatic: return aws_endpoint && virtual_host_compatible(bucket);
  }
  return false;
}

std::string aws_s3_endpoint(std::string_view region) { return "https://s3." + std::string(region) + ".amazonaws.com"; }

std::string choose_region(const EnvironmentLookup& environment, std::string_view configured,
                          const std::optional<std::string>& profile_region) {
  if (auto region = first_set(environment, {"PG2S3_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"})) return *region;
  if (!configured.empty()) return std::string(configured);
  if (profile_region && !profile_region->empty()) return *profile_region;
  return "us-east-1";
}

std::string choose_endpoint(const EnvironmentLookup& environment, std::string_view configured,
                            const std::optional<std::string>& profile_endpoint) {
  if (auto endpoint = first_set(environment, {"PG2S3_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}))
    return *endpoint;
  if (!configured.empty()) return std::string(configured);
  return profile_endpoint.value_or("");
}

std::optional<std::string> region_of_redirect(unsigned http_status, std::string_view s3_code,
                                              std::string_view bucket_region_header, std::string_view body) {
  const bool wrong_region = (http_status == 301 && (s3_code == "PermanentRedirect" || s3_code == "NotFound" ||
                                                    s3_code.empty())) ||
                            (http_status == 400 && s3_code == "AuthorizationHeaderMalformed");
  if (!wrong_region) return std::nullopt;
  if (!bucket_region_header.empty()) return std::string(bucket_region_header);
  auto region = detail::xml_text(body, "Region");
  if (!region || region->empty()) return std::nullopt;
  return region;
}

}  // namespace pg2s3::s3

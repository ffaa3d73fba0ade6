#include "s3/sigv4.hpp"

#include "s3/detail/crypto.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace pg2s3::s3 {
namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Header values are signed trimmed, with runs of spaces folded into one.
std::string fold_spaces(std::string_view value) {
  std::string out;
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

std::string format_utc(std::chrono::system_clock::time_point time, const char* format) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, format, &tm));
}

std::string date_stamp(std::chrono::system_clock::time_point time) { return format_utc(time, "%Y%m%d"); }

std::string credential_scope(std::chrono::system_clock::time_point time, const SigningScope& scope) {
  return date_stamp(time) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

// Lower-cased names, sorted; repeated names joined with ','.
HeaderList canonical_headers(const HeaderList& headers) {
  HeaderList sorted;
  for (const auto& [name, value] : headers) sorted.emplace_back(lower(name), fold_spaces(value));
  std::ranges::stable_sort(sorted, {}, &HeaderList::value_type::first);
  HeaderList merged;
  for (auto& header : sorted) {
    if (!merged.empty() && merged.back().first == header.first)
      merged.back().second += "," + header.second;
    else
      merged.push_back(std::move(header));
  }
  return merged;
}

std::string signed_header_names(const HeaderList& canonical) {
  std::string names;
  for (const auto& [name, value] : canonical) {
    if (!names.empty()) names.push_back(';');
    names += name;
  }
  return names;
}

std::string signature(const Credentials& credentials, const SigningScope& scope,
                      std::chrono::system_clock::time_point time, std::string_view canonical) {
  auto key = signing_key(credentials.secret_access_key, time, scope);
  return detail::hex(detail::hmac_sha256(key, string_to_sign(time, scope, canonical)));
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xF]);
    }
  }
  return out;
}

std::string canonical_query_string(const QueryParameters& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : query) encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  std::ranges::sort(encoded);
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

std::string canonical_request(const SignableRequest& request) {
  HeaderList headers = canonical_headers(request.headers);
  std::string out = request.method + "\n";
  out += uri_encode(request.path.empty() ? "/" : request.path, true) + "\n";
  out += canonical_query_string(request.query) + "\n";
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  out += "\n" + signed_header_names(headers) + "\n";
  out += request.payload_hash;
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point time) { return format_utc(time, "%Y%m%dT%H%M%SZ"); }

std::string string_to_sign(std::chrono::system_clock::time_point time, const SigningScope& scope,
                           std::string_view canonical_request) {
  return std::string(algorithm) + "\n" + amz_date(time) + "\n" + credential_scope(time, scope) + "\n" +
         detail::hex(detail::sha256(canonical_request));
}

std::array<unsigned char, 32> signing_key(std::string_view secret_access_key,
                                          std::chrono::system_clock::time_point time,
                                          const SigningScope& scope) {
  std::string secret = "AWS4" + std::string(secret_access_key);
  auto as_key = [](std::string_view s) {
    return std::span(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  auto date_key = detail::hmac_sha256(as_key(secret), date_stamp(time));
  auto region_key = detail::hmac_sha256(date_key, scope.region);
  auto service_key = detail::hmac_sha256(region_key, scope.service);
  return detail::hmac_sha256(service_key, "aws4_request");
}

void sign_request(SignableRequest& request, const Credentials& credentials, const SigningScope& scope,
                  std::chrono::system_clock::time_point now) {
  request.headers.emplace_back("x-amz-date", amz_date(now));
  request.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  if (!credentials.session_token.empty())
    request.headers.emplace_back("x-amz-security-token", credentials.session_token);

  std::string canonical = canonical_request(request);
  std::string authorization = std::string(algorithm) + " Credential=" + credentials.access_key_id + "/" +
                              credential_scope(now, scope) +
                              ", SignedHeaders=" + signed_header_names(canonical_headers(request.headers)) +
                              ", Signature=" + signature(credentials, scope, now, canonical);
  request.headers.emplace_back("Authorization", std::move(authorization));
}

std::string presign_url(SignableRequest request, std::string_view origin, const Credentials& credentials,
                        const SigningScope& scope, std::chrono::system_clock::time_point now,
                        std::chrono::seconds expires) {
  HeaderList headers = canonical_headers(request.headers);
  request.payload_hash = unsigned_payload;
  request.query.emplace_back("X-Amz-Algorithm", std::string(algorithm));
  request.query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + credential_scope(now, scope));
  request.query.emplace_back("X-Amz-Date", amz_date(now));
  request.query.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
  if (!credentials.session_token.empty())
    request.query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  request.query.emplace_back("X-Amz-SignedHeaders", signed_header_names(headers));

  std::string sig = signature(credentials, scope, now, canonical_request(request));
  return std::string(origin) + uri_encode(request.path, true) + "?" + canonical_query_string(request.query) +
         "&X-Amz-Signature=" + sig;
}

}  // namespace pg2s3::s3

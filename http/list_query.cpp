#include "http/list_query.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

namespace pg2s3::http {
namespace {

constexpr int max_limit = 1000;

// Percent-decoded, or none for a '%' not followed by two hex digits.
std::optional<std::string> percent_decoded(std::string_view text) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc{} || end != text.data() + i + 3) return std::nullopt;
    decoded += static_cast<char>(value);
    i += 2;
  }
  return decoded;
}

std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

QueryProblem bad_request(std::string message) { return {"bad_request", std::move(message)}; }

// The part of a cursor covered by its check value: created_us (8 bytes, big-endian) and the id's 16 bytes.
constexpr std::size_t position_size = 24;
constexpr std::size_t check_size = 8;
constexpr std::string_view cursor_domain = "pg2s3 export listing cursor v1";

std::array<unsigned char, check_size> check_value(const unsigned char* position) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  EVP_DigestUpdate(context, cursor_domain.data(), cursor_domain.size());
  EVP_DigestUpdate(context, position, position_size);
  EVP_DigestFinal_ex(context, digest.data(), &length);
  EVP_MD_CTX_free(context);
  std::array<unsigned char, check_size> check{};
  std::memcpy(check.data(), digest.data(), check_size);
  return check;
}

constexpr std::string_view base64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(const unsigned char* bytes, std::size_t size) {
  std::string text;
  std::uint32_t bits = 0;
  int held = 0;
  for (std::size_t i = 0; i < size; ++i) {
    bits = (bits << 8) | bytes[i];
    held += 8;
    while (held >= 6) {
      held -= 6;
      text += base64url_alphabet[(bits >> held) & 0x3F];
    }
  }
  if (held > 0) text += base64url_alphabet[(bits << (6 - held)) & 0x3F];
  return text;
}

// Unpadded base64url; none for another character or leftover bits that are not zero.
std::optional<std::string> from_base64url(std::string_view text) {
  std::string bytes;
  std::uint32_t bits = 0;
  int held = 0;
  for (char c : text) {
    const auto value = base64url_alphabet.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    held += 6;
    if (held >= 8) {
      held -= 8;
      bytes += static_cast<char>((bits >> held) & 0xFF);
    }
  }
  if (held >= 6 || (bits & ((1u << held) - 1)) != 0) return std::nullopt;
  return bytes;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One parameter of the query string into `query`; the reason it cannot be used, if it cannot.
std::optional<QueryProblem> apply(engine::JobQuery& query, std::string_view name, const std::string& value) {
  if (name == "limit") {
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), query.limit);
    if (ec != std::errc{} || end != value.data() + value.size() || query.limit < 1 || query.limit > max_limit)
      return bad_request("limit must be a whole number from 1 to 1000");
  } else if (name == "status") {
    query.status = engine::parse_job_status(value);
    if (!query.status) return bad_request("status must be PENDING, RUNNING, COMPLETED, FAILED or CANCELLED");
  } else if (name == "dataset") {
    query.dataset = value;
  } else if (name == "since" || name == "until") {
    auto time = parse_utc_time(value);
    if (!time) return bad_request(std::string(name) + " must be a UTC time such as 2026-01-13T10:00:00Z");
    (name == "since" ? query.since : query.until) = *time;
  } else if (name == "cursor") {
    query.after = decode_cursor(value);
    if (!query.after) return QueryProblem{"bad_cursor", "the cursor is not a well-formed 'next' of a listing"};
  } else {
    return bad_request("unknown query parameter (limit, status, dataset, since, until, cursor)");
  }
  return std::nullopt;
}

}  // namespace

std::variant<engine::JobQuery, QueryProblem> parse_list_query(std::string_view text) {
  engine::JobQuery query;
  std::vector<std::string> seen;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    auto name = percent_decoded(pair.substr(0, equals));
    auto value = percent_decoded(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!name || !value) return bad_request("the query string has a malformed percent-encoding");
    if (std::ranges::find(seen, *name) != seen.end()) return bad_request("a query parameter is given twice");
    if (auto problem = apply(query, *name, *value)) return *problem;
    seen.push_back(std::move(*name));
  }
  return query;
}

std::optional<engine::TimePoint> parse_utc_time(std::string_view text) {
  if (text.size() < 20 || text.back() != 'Z' || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':')
    return std::nullopt;
  const auto year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  // Years a TimePoint (nanoseconds since 1970 in 64 bits) holds with room to spare.
  if (!year || !month || !day || !hour || !minute || !second || *year < 1900 || *year > 2200 || *hour > 23 ||
      *minute > 59 || *second > 59)
    return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  std::int64_t micros = 0;
  const std::string_view fraction = text.substr(19, text.size() - 20);
  if (!fraction.empty()) {
    if (fraction.size() < 2 || fraction.size() > 7 || fraction[0] != '.') return std::nullopt;
    auto value = digits(fraction, 1, fraction.size() - 1);
    if (!value) return std::nullopt;
    micros = *value;
    for (std::size_t scale = fraction.size() - 1; scale < 6; ++scale) micros *= 10;
  }
  return engine::TimePoint(std::chrono::sys_days(date)) + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
         std::chrono::seconds(*second) + std::chrono::microseconds(micros);
}

std::string encode_cursor(const engine::JobPosition& position) {
  std::array<unsigned char, position_size + check_size> bytes{};
  const auto created = static_cast<std::uint64_t>(position.created_us);
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(created >> (56 - 8 * i));
  std::size_t at = 8;
  for (std::size_t i = 0; i + 1 < position.id.size() && at < position_size; ++i) {
    if (position.id[i] == '-') continue;
    bytes[at++] = static_cast<unsigned char>(hex_value(position.id[i]) * 16 + hex_value(position.id[i + 1]));
    ++i;
  }
  const auto check = check_value(bytes.data());
  std::memcpy(bytes.data() + position_size, check.data(), check_size);
  return base64url(bytes.data(), bytes.size());
}

std::optional<engine::JobPosition> decode_cursor(std::string_view cursor) {
  auto bytes = from_base64url(cursor);
  if (!bytes || bytes->size() != position_size + check_size) return std::nullopt;
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes->data());
  const auto check = check_value(raw);
  if (!std::equal(check.begin(), check.end(), raw + position_size)) return std::nullopt;
  std::uint64_t created = 0;
  for (std::size_t i = 0; i < 8; ++i) created = (created << 8) | raw[i];
  engine::JobPosition position{static_cast<std::int64_t>(created), {}};
  constexpr std::string_view hex = "0123456789abcdef";
  for (std::size_t i = 8; i < position_size; ++i) {
    if (i == 12 || i == 14 || i == 16 || i == 18) position.id += '-';
    position.id += hex[raw[i] >> 4];
    position.id += hex[raw[i] & 0xF];
  }
  return position;
}

}  // namespace pg2s3::http

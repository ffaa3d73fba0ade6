#include "s3/credentials/provider.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pg2s3::s3 {

EnvironmentLookup process_environment_lookup() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

std::optional<std::string> first_set(const EnvironmentLookup& environment, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto value = environment(name); value && !value->empty()) return value;
  return std::nullopt;
}

std::optional<std::string> read_local_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string without_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Error credentials_error(errc code, std::string_view source, std::string detail) {
  Error error;
  error.code = code;
  error.operation = source;
  error.detail = std::move(detail);
  return error;
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  auto number = [&](std::size_t at, std::size_t width, int& out) {
    if (text.size() < at + width) return false;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + width, out);
    return ec == std::errc{} && end == text.data() + at + width;
  };
  if (!number(0, 4, year) || text[4] != '-' || !number(5, 2, month) || text[7] != '-' || !number(8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !number(11, 2, hour) || text[13] != ':' ||
      !number(14, 2, minute) || text[16] != ':' || !number(17, 2, second))
    return std::nullopt;
  std::string_view zone = text.substr(19);
  if (zone.starts_with('.')) {  // fractions of a second: dropped
    zone.remove_prefix(1);
    while (!zone.empty() && zone.front() >= '0' && zone.front() <= '9') zone.remove_prefix(1);
  }
  if (zone != "Z" && zone != "z" && zone != "+00:00") return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second);
}

Result<TimedCredentials> credentials_from_json(std::string_view json, std::string_view token_field,
                                               std::string_view source) {
  auto failed = [&](std::string detail) { return credentials_error(errc::credentials_failed, source, std::move(detail)); };
  boost::system::error_code ec;
  const boost::json::value document = boost::json::parse(json, ec);
  const auto* object = ec ? nullptr : document.if_object();
  if (!object) return failed("the answer is not a JSON object");
  auto text = [&](std::string_view field) -> std::optional<std::string> {
    const auto* value = object->if_contains(field);
    if (!value || !value->is_string()) return std::nullopt;
    return std::string(value->get_string());
  };
  TimedCredentials timed;
  timed.source = source;
  auto key = text("AccessKeyId");
  auto secret = text("SecretAccessKey");
  if (!key || key->empty() || !secret || secret->empty())
    return failed("the answer lacks AccessKeyId or SecretAccessKey");
  timed.credentials = {std::move(*key), std::move(*secret), text(token_field).value_or("")};
  if (const auto* expiration = object->if_contains("Expiration"); expiration && !expiration->is_null()) {
    auto when = expiration->is_string() ? parse_iso8601(std::string(expiration->get_string())) : std::nullopt;
    if (!when) return failed("Expiration is not an ISO-8601 UTC time");
    timed.expiration = *when;
  }
  return timed;
}

}  // namespace pg2s3::s3

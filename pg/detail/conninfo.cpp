#include "pg/detail/conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace pg2s3::pg::detail {

namespace {

constexpr std::chrono::seconds default_connect_timeout{10};

// What is wrong with a connection string libpq refused, by the fixed words its message starts with.
struct ConninfoProblem {
  std::string_view libpq_words;
  std::string_view description;
};
constexpr ConninfoProblem conninfo_problems[] = {
    {"invalid percent-encoded token", "a '%' in the URL starts no %XX escape (a '%' in the password is written %25)"},
    {"forbidden value %00", "the URL holds %00, which no value may contain"},
    {"missing \"=\" after", "a word is not keyword=value (a value with spaces is quoted: password='a b')"},
    {"unterminated quoted string", "a quoted value has no closing quote"},
    {"invalid connection option", "it names a keyword libpq does not know"},
    {"end of string reached when looking for matching \"]\"", "an IPv6 host in the URL has no closing ']'"},
    {"IPv6 host address may not be empty", "an IPv6 host in the URL is empty"},
    {"unexpected character", "the URL has an unexpected character after a host (expected ':' or '/')"},
    {"extra key/value separator", "a parameter after '?' in the URL is not keyword=value"},
    {"missing key/value separator", "a parameter after '?' in the URL is not keyword=value"},
    {"invalid URI query parameter", "a parameter after '?' in the URL names a keyword libpq does not know"},
};

// libpq's parse errors quote the part of the string where they stopped, and that part may be the password:
// a URL's password with a '%' that starts no escape, an unquoted password with a space. Taking the password
// out of the message cannot be done reliably, since the string did not parse: which part is the password is
// just what is unknown (a parser of our own would disagree with libpq's exactly on such strings). So the
// message is replaced by a fixed text naming what is wrong, and no part of the string is ever repeated
// (a libpq that speaks another language gets the general one).
std::string conninfo_problem(std::string_view libpq_message) {
  for (const auto& problem : conninfo_problems)
    if (libpq_message.starts_with(problem.libpq_words))
      return std::string(problem.description) + "; the string is not shown: it may hold the password";
  return "libpq cannot read it; the string is not shown: it may hold the password";
}

}  // namespace

Result<ConnectionParameters> parse_conninfo(std::string_view conninfo) {
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(conninfo).c_str(), &message);
  if (!options) {
    Error error{errc::invalid_conninfo, "connect", {}, message ? conninfo_problem(message) : "out of memory", {}, {}};
    PQfreemem(message);
    return error;
  }
  ConnectionParameters parameters;
  for (auto* option = options; option->keyword; ++option)
    if (option->val) parameters.emplace_back(option->keyword, option->val);
  PQconninfoFree(options);
  return parameters;
}

std::string parameter(const ConnectionParameters& parameters, std::string_view keyword, const char* environment) {
  for (const auto& [name, value] : parameters)
    if (name == keyword) return value;
  const char* fallback = environment ? std::getenv(environment) : nullptr;
  return fallback ? fallback : "";
}

void set_parameter(ConnectionParameters& parameters, std::string keyword, std::string value) {
  for (auto& [name, existing] : parameters) {
    if (name == keyword) {
      existing = std::move(value);
      return;
    }
  }
  parameters.emplace_back(std::move(keyword), std::move(value));
}

std::string describe_target(const ConnectionParameters& parameters) {
  std::string host = parameter(parameters, "host", "PGHOST");
  std::string port = parameter(parameters, "port", "PGPORT");
  std::string dbname = parameter(parameters, "dbname", "PGDATABASE");
  return "connect to " + (host.empty() ? std::string("the default socket") : host) +
         (port.empty() ? "" : ":" + port) + (dbname.empty() ? "" : "/" + dbname);
}

std::chrono::steady_clock::duration connect_timeout(const ConnectionParameters& parameters) {
  const std::string text = parameter(parameters, "connect_timeout", "PGCONNECT_TIMEOUT");
  int seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc{} || seconds <= 0) return default_connect_timeout;
  return std::chrono::seconds(std::max(seconds, 2));  // libpq's own minimum
}

void add_dead_peer_detection(ConnectionParameters& parameters) {
  constexpr std::pair<std::string_view, std::string_view> defaults[] = {
      {"keepalives", "1"},
      {"keepalives_idle", "15"},       // seconds of silence before the first probe
      {"keepalives_interval", "5"},    // between probes
      {"keepalives_count", "3"},       // unanswered probes that end the connection
      {"tcp_user_timeout", "30000"},   // milliseconds sent data may stay unacknowledged
  };
  for (const auto& [keyword, value] : defaults)
    if (parameter(parameters, keyword, nullptr).empty()) set_parameter(parameters, std::string(keyword), std::string(value));
}

}  // namespace pg2s3::pg::detail

#include "http/cross_site.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cctype>

namespace pg2s3::http {
namespace {

namespace beast = boost::beast;

bool all_digits(std::string_view text) {
  return std::ranges::all_of(text, [](unsigned char c) { return std::isdigit(c); });
}

// The name of "name[:port]" or "[v6 address][:port]"; nothing when the port is not digits or the
// brackets do not close.
std::optional<std::string_view> host_name(std::string_view host) {
  std::string_view rest;
  std::string_view name;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = host.substr(1, close - 1);
    rest = host.substr(close + 1);
  } else {
    const auto colon = host.find(':');
    name = host.substr(0, colon);
    rest = colon == std::string_view::npos ? "" : host.substr(colon);
  }
  if (!rest.empty() && (rest.front() != ':' || !all_digits(rest.substr(1)))) return std::nullopt;
  return name;
}

bool accepted_address(std::string_view name, bool bracketed, const boost::asio::ip::address& listening) {
  boost::system::error_code not_an_address;
  const auto address = bracketed ? boost::asio::ip::address(boost::asio::ip::make_address_v6(name, not_an_address))
                                 : boost::asio::ip::address(boost::asio::ip::make_address_v4(name, not_an_address));
  if (not_an_address) return false;
  return listening.is_unspecified() || address == listening || (listening.is_loopback() && address.is_loopback());
}

// Whether a Host header's name is one by which only this server is reached. Names are compared ignoring case.
bool names_this_server(std::string_view name, bool bracketed, const SiteRules& rules) {
  const bool configured =
      std::ranges::any_of(rules.hostnames, [&](const std::string& hostname) { return beast::iequals(hostname, name); });
  return beast::iequals(name, "localhost") || configured || accepted_address(name, bracketed, rules.listen_address);
}

}  // namespace

std::optional<Refusal> refuse_origin(const std::optional<std::string>& origin, const SiteRules& rules) {
  if (!origin || std::ranges::find(rules.allowed_origins, *origin) != rules.allowed_origins.end()) return std::nullopt;
  return Refusal{403, "forbidden",
                 "requests from web pages are refused unless their origin is in [server] allowed_origins; "
                 "this one came from '" + origin->substr(0, 200) + "'"};
}

std::optional<Refusal> refuse_host(std::string_view host, const SiteRules& rules) {
  if (host.empty()) return std::nullopt;
  const auto name = host_name(host);
  if (name && names_this_server(*name, host.starts_with('['), rules)) return std::nullopt;
  return Refusal{421, "misdirected_request",
                 "this server does not answer for the host '" + std::string(host.substr(0, 200)) +
                     "': add it to [server] hostnames if it should"};
}

bool is_origin(std::string_view text) {
  const auto separator = text.find("://");
  if (separator == std::string_view::npos || separator == 0) return false;
  const auto scheme = text.substr(0, separator), authority = text.substr(separator + 3);
  const bool lower_scheme = std::ranges::all_of(scheme, [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '+' || c == '-' || c == '.';
  });
  const bool plain_authority = !authority.empty() && std::ranges::none_of(authority, [](unsigned char c) {
    return std::isupper(c) || std::isspace(c) || c == '/' || c == '?' || c == '#';
  });
  return lower_scheme && plain_authority;
}

bool is_hostname(std::string_view text) {
  return !text.empty() &&
         std::ranges::none_of(text, [](unsigned char c) { return std::isspace(c) || c == ':' || c == '/'; });
}

}  // namespace pg2s3::http

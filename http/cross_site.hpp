// What keeps web pages from driving the API through a visitor's browser: a foreign Origin header (a
// cross-site POST, which needs no preflight) and a foreign Host header (DNS rebinding, where the page's own
// name is made to point at this server) are refused before any routing.
#pragma once

#include "http/routes.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::http {

struct SiteRules {
  std::vector<std::string> allowed_origins;  // exact "scheme://host[:port]", as browsers send them
  boost::asio::ip::address listen_address;    // the address the server is bound to
  std::vector<std::string> hostnames;         // further names the Host header may carry
};

// A request with an Origin header came from a web page: 403 unless that origin is allowed. "null"
// (sandboxed frames, file: pages) is foreign too. Without the header it came from curl or a script.
std::optional<Refusal> refuse_origin(const std::optional<std::string>& origin, const SiteRules& rules);

// 421 unless the Host header names this server: "localhost", a configured hostname, the listen address, any
// loopback address when listening on loopback, and any IP literal when listening on 0.0.0.0 or [::] (which
// addresses reach the server is not known then). A rebinding page's requests carry its own name, which the
// attacker owns: only names nobody else can point here pass. The port is not compared: no attacker gains
// by it, and behind a port forward (docker -p 9000:8080) it differs from the one listened on.
// No Host header at all (HTTP/1.0) passes: browsers always send one, so it cannot be a rebinding page.
std::optional<Refusal> refuse_host(std::string_view host, const SiteRules& rules);

// Whether `text` is an origin as browsers send it: lower-case "scheme://host[:port]", no path.
bool is_origin(std::string_view text);

// Whether `text` can be a name of the Host header once its port is taken off: no scheme, port or spaces.
bool is_hostname(std::string_view text);

}  // namespace pg2s3::http

// One API request in, one response out: the bearer check, routing, and the engine's answer as JSON.
#pragma once

#include "engine/engine.hpp"
#include "http/cross_site.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pg2s3::http {

struct ApiRequest {
  std::string method;
  std::string target;
  std::string authorization;
  std::string body;
  std::string idempotency_key;  // the Idempotency-Key header, when given
  std::optional<std::string> origin;  // the Origin header: a browser sent the request
  std::string host;                   // the Host header; empty when not given
};

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::optional<unsigned> retry_after = std::nullopt;  // seconds, sent as Retry-After
};

// A request whose Host or Origin `site` refuses is answered 421 or 403 before anything else. With a
// non-empty `api_token`, every request but GET /healthz needs "Authorization: Bearer <token>".
boost::asio::awaitable<ApiResponse> handle_request(engine::Engine& engine, const ApiRequest& request,
                                                   std::string_view api_token, const SiteRules& site);

ApiResponse error_response(unsigned status, std::string_view code, std::string_view message);

}  // namespace pg2s3::http

// One small HTTP request on a fresh connection, for the credential sources (STS, container endpoint, IMDS).
#pragma once

#include "s3/client.hpp"
#include "s3/credentials/provider.hpp"

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace pg2s3::s3 {

struct HttpAnswer {
  unsigned status = 0;
  std::string body;
};

struct HttpCall {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  Endpoint endpoint;
  std::string target = "/";
  HeaderList headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};  // for resolving, connecting, sending and reading together
};

// The answer of any status; a transport failure is an Error of errc::credentials_failed naming `source`.
boost::asio::awaitable<Result<HttpAnswer>> http_call(boost::asio::any_io_executor executor, HttpCall call,
                                                     std::string source);

}  // namespace pg2s3::s3

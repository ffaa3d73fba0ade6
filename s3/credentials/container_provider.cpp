#include "s3/credentials/container_provider.hpp"

#include "s3/credentials/http_call.hpp"

#include <boost/asio/ip/address.hpp>


namespace pg2s3::s3 {
namespace {

constexpr std::string_view source = "container credentials";

Error failed(std::string detail) { return credentials_error(errc::credentials_failed, source, std::move(detail)); }

}  // namespace

bool container_endpoint_allowed(const Endpoint& endpoint) {
  if (endpoint.tls) return true;
  if (endpoint.host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(endpoint.host, ec);
  if (ec) return false;
  if (address.is_loopback()) return true;
  return endpoint.host == "169.254.170.2" || endpoint.host == "169.254.170.23" ||
         address == boost::asio::ip::make_address("fd00:ec2::23");
}

boost::asio::awaitable<Result<TimedCredentials>> ContainerProvider::fetch() {
  const auto relative = environment_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").value_or("");
  const auto full = environment_("AWS_CONTAINER_CREDENTIALS_FULL_URI").value_or("");
  if (relative.empty() && full.empty())
    co_return credentials_error(errc::no_credentials, source, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are unset");

  // The URI: an origin and a target (a full URI's path and query).
  std::string url = relative.empty() ? full : "http://169.254.170.2" + relative;
  const auto path_start = url.find('/', url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string target = path_start == std::string::npos ? "/" : url.substr(path_start);
  auto endpoint = parse_endpoint(origin);
  if (!endpoint) co_return failed("'" + origin + "' is not http(s)://host[:port]");
  if (!container_endpoint_allowed(*endpoint))
    co_return failed("AWS_CONTAINER_CREDENTIALS_FULL_URI may use plain http only to loopback or the container hosts, not " +
                     endpoint->host);

  HttpCall call{boost::beast::http::verb::get, *endpoint, target, {{"accept", "application/json"}}, {},
                std::chrono::seconds(5)};
  std::string token;
  if (auto token_file = environment_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); token_file && !token_file->empty()) {
    auto text = read_local_file(*token_file);
    if (!text) co_return failed("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *token_file);
    token = without_trailing_newlines(std::move(*text));
  } else {
    token = environment_("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or("");
  }
  if (token.find_first_of("\r\n") != std::string::npos) co_return failed("the authorization token holds a line break");
  if (!token.empty()) call.headers.emplace_back("authorization", token);

  auto answer = co_await http_call(executor_, std::move(call), std::string(source));
  if (!answer) co_return answer.error();
  if (answer->status != 200)
    co_return failed("the endpoint " + endpoint->origin() + " answered HTTP " + std::to_string(answer->status));
  co_return credentials_from_json(answer->body, "Token", source);
}

}  // namespace pg2s3::s3

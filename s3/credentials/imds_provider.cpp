#include "s3/credentials/imds_provider.hpp"

#include "s3/client.hpp"
#include "s3/credentials/http_call.hpp"

#include <algorithm>

namespace pg2s3::s3 {
namespace {

constexpr std::string_view source = "EC2 instance metadata";
constexpr std::string_view credentials_path = "/latest/meta-data/iam/security-credentials/";

Error failed(std::string detail) { return credentials_error(errc::credentials_failed, source, std::move(detail)); }

bool is_true(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text == "true";
}

}  // namespace

boost::asio::awaitable<Result<TimedCredentials>> ImdsProvider::fetch() {
  using boost::beast::http::verb;
  if (is_true(environment_("AWS_EC2_METADATA_DISABLED").value_or("")))
    co_return credentials_error(errc::no_credentials, source, "AWS_EC2_METADATA_DISABLED is true");
  const std::string url = first_set(environment_, {"AWS_EC2_METADATA_SERVICE_ENDPOINT"}).value_or("http://169.254.169.254");
  auto endpoint = parse_endpoint(url);
  if (!endpoint) co_return failed("AWS_EC2_METADATA_SERVICE_ENDPOINT '" + url + "' is not http(s)://host[:port]");
  const std::string name(source);

  // Named before co_await: GCC 12 mishandles braced temporaries in a co_await expression.
  HttpCall token_call{verb::put, *endpoint, "/latest/api/token", {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}},
                      {}, timeout_};
  auto token = co_await http_call(executor_, std::move(token_call), name);
  if (!token)  // no metadata service on this machine
    co_return credentials_error(errc::no_credentials, source, token.error().detail);
  if (token->status != 200) co_return failed("the session token request answered HTTP " + std::to_string(token->status));

  const HeaderList with_token{{"x-aws-ec2-metadata-token", token->body}};
  HttpCall roles_call{verb::get, *endpoint, std::string(credentials_path), with_token, {}, timeout_};
  auto roles = co_await http_call(executor_, std::move(roles_call), name);
  if (!roles) co_return roles.error();
  if (roles->status == 404)
    co_return credentials_error(errc::no_credentials, source, "the instance has no instance profile (role)");
  if (roles->status != 200) co_return failed("listing the instance's role answered HTTP " + std::to_string(roles->status));
  const std::string role = roles->body.substr(0, roles->body.find_first_of("\r\n"));
  if (role.empty()) co_return credentials_error(errc::no_credentials, source, "the instance has no instance profile (role)");

  HttpCall credentials_call{verb::get, *endpoint, std::string(credentials_path) + uri_encode(role, false), with_token,
                            {}, timeout_};
  auto answer = co_await http_call(executor_, std::move(credentials_call), name);
  if (!answer) co_return answer.error();
  if (answer->status != 200)
    co_return failed("the credentials of role " + role + " answered HTTP " + std::to_string(answer->status));
  co_return credentials_from_json(answer->body, "Token", source);
}

}  // namespace pg2s3::s3

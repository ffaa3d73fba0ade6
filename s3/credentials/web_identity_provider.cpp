#include "s3/credentials/web_identity_provider.hpp"

#include "s3/credentials/http_call.hpp"
#include "s3/detail/xml.hpp"


namespace pg2s3::s3 {
namespace {

constexpr std::string_view source = "web identity";

Error failed(std::string detail) { return credentials_error(errc::credentials_failed, source, std::move(detail)); }

}  // namespace

std::string assume_role_with_web_identity_form(std::string_view role_arn, std::string_view session_name,
                                               std::string_view token) {
  return "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + uri_encode(role_arn, false) +
         "&RoleSessionName=" + uri_encode(session_name, false) + "&WebIdentityToken=" + uri_encode(token, false);
}

Result<TimedCredentials> parse_assume_role_answer(unsigned http_status, std::string_view xml) {
  if (http_status != 200 || detail::xml_root_name(xml) == "ErrorResponse") {
    const std::string code = detail::xml_text(xml, "Code").value_or("");
    const std::string message = detail::xml_text(xml, "Message").value_or("");
    return failed("STS AssumeRoleWithWebIdentity answered HTTP " + std::to_string(http_status) +
                  (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message));
  }
  const auto credentials = detail::xml_elements(xml, "Credentials");
  if (credentials.empty()) return failed("STS's answer has no <Credentials>");
  TimedCredentials timed;
  timed.source = source;
  timed.credentials = {detail::xml_text(credentials[0], "AccessKeyId").value_or(""),
                       detail::xml_text(credentials[0], "SecretAccessKey").value_or(""),
                       detail::xml_text(credentials[0], "SessionToken").value_or("")};
  if (timed.credentials.access_key_id.empty() || timed.credentials.secret_access_key.empty())
    return failed("STS's answer lacks AccessKeyId or SecretAccessKey");
  const auto expiration = parse_iso8601(detail::xml_text(credentials[0], "Expiration").value_or(""));
  if (!expiration) return failed("STS's answer has no valid Expiration");
  timed.expiration = expiration;
  return timed;
}

boost::asio::awaitable<Result<TimedCredentials>> WebIdentityProvider::fetch() {
  const auto token_file = environment_("AWS_WEB_IDENTITY_TOKEN_FILE").value_or("");
  const auto role_arn = environment_("AWS_ROLE_ARN").value_or("");
  if (token_file.empty() && role_arn.empty())
    co_return credentials_error(errc::no_credentials, source, "AWS_WEB_IDENTITY_TOKEN_FILE is unset");
  if (token_file.empty()) co_return failed("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
  if (role_arn.empty()) co_return failed("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");

  auto token = read_local_file(token_file);
  if (!token) co_return failed("cannot read the token file " + token_file);
  *token = without_trailing_newlines(std::move(*token));
  if (token->empty()) co_return failed("the token file " + token_file + " is empty");
  const std::string url = first_set(environment_, {"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"})
                              .value_or("https://sts." + region_ + ".amazonaws.com");
  auto endpoint = parse_endpoint(url);
  if (!endpoint) co_return failed("the STS endpoint '" + url + "' is not http(s)://host[:port]");
  const std::string session_name = environment_("AWS_ROLE_SESSION_NAME").value_or(
      "pg2s3-" + std::to_string(std::chrono::system_clock::now().time_since_epoch() / std::chrono::milliseconds(1)));

  HttpCall call{boost::beast::http::verb::post, *endpoint, "/",
                {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}, {"accept", "text/xml"}},
                assume_role_with_web_identity_form(role_arn, session_name, *token), std::chrono::seconds(10)};
  auto answer = co_await http_call(executor_, std::move(call), std::string(source));
  if (!answer) co_return answer.error();
  co_return parse_assume_role_answer(answer->status, answer->body);
}

}  // namespace pg2s3::s3

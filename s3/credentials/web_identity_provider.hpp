// Credentials for a role, in exchange for a web identity token (EKS IRSA): STS AssumeRoleWithWebIdentity.
#pragma once

#include "s3/client.hpp"
#include "s3/credentials/provider.hpp"

namespace pg2s3::s3 {

// AWS_WEB_IDENTITY_TOKEN_FILE (read again at every fetch) and AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME; STS at
// AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else https://sts.<region>.amazonaws.com.
class WebIdentityProvider final : public CredentialsProvider {
 public:
  WebIdentityProvider(boost::asio::any_io_executor executor, EnvironmentLookup environment, std::string region)
      : executor_(std::move(executor)), environment_(std::move(environment)), region_(std::move(region)) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  boost::asio::any_io_executor executor_;
  EnvironmentLookup environment_;
  std::string region_;
};

// The form STS takes (an unsigned POST): Action, Version, RoleArn, RoleSessionName, WebIdentityToken.
std::string assume_role_with_web_identity_form(std::string_view role_arn, std::string_view session_name,
                                               std::string_view token);

// STS's XML answer: the credentials and their Expiration, or its <Error> Code and Message as the error.
Result<TimedCredentials> parse_assume_role_answer(unsigned http_status, std::string_view xml);

}  // namespace pg2s3::s3

#include "s3/credentials/environment_provider.hpp"

namespace pg2s3::s3 {

boost::asio::awaitable<Result<TimedCredentials>> EnvironmentProvider::fetch() {
  const auto key = environment_("AWS_ACCESS_KEY_ID").value_or("");
  const auto secret = environment_("AWS_SECRET_ACCESS_KEY").value_or("");
  if (key.empty() && secret.empty())
    co_return credentials_error(errc::no_credentials, "environment", "AWS_ACCESS_KEY_ID is unset");
  if (key.empty() || secret.empty())
    co_return credentials_error(errc::credentials_failed, "environment",
                                key.empty() ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
                                            : "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  co_return TimedCredentials{{key, secret, environment_("AWS_SESSION_TOKEN").value_or("")}, std::nullopt, "environment"};
}

}  // namespace pg2s3::s3

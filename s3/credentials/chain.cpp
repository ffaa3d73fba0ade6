#include "s3/credentials/chain.hpp"

#include "s3/credentials/container_provider.hpp"
#include "s3/credentials/environment_provider.hpp"
#include "s3/credentials/imds_provider.hpp"
#include "s3/credentials/profile_provider.hpp"
#include "s3/credentials/web_identity_provider.hpp"

namespace pg2s3::s3 {

boost::asio::awaitable<Result<TimedCredentials>> CredentialsChain::fetch() {
  if (chosen_) co_return co_await providers_[*chosen_]->fetch();
  std::string looked;
  for (std::size_t i = 0; i < providers_.size(); ++i) {
    auto outcome = co_await providers_[i]->fetch();
    if (outcome) chosen_ = i;
    if (outcome || outcome.error().code != errc::no_credentials) co_return outcome;
    looked += (looked.empty() ? "" : "; ") + outcome.error().operation + ": " + outcome.error().detail;
  }
  co_return credentials_error(errc::no_credentials, "S3 credentials", "looked in " + looked);
}

std::unique_ptr<CredentialsProvider> default_credentials_chain(boost::asio::any_io_executor executor,
                                                               EnvironmentLookup environment, std::string region,
                                                               std::chrono::milliseconds imds_timeout) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::make_unique<EnvironmentProvider>(environment));
  providers.push_back(std::make_unique<WebIdentityProvider>(executor, environment, std::move(region)));
  providers.push_back(std::make_unique<ProfileProvider>(executor, environment));
  providers.push_back(std::make_unique<ContainerProvider>(executor, environment));
  providers.push_back(std::make_unique<ImdsProvider>(executor, environment, imds_timeout));
  return std::make_unique<CredentialsChain>(std::move(providers));
}

boost::asio::awaitable<Result<TimedCredentials>> StaticProvider::fetch() {
  if (credentials_.access_key_id.empty())
    co_return credentials_error(errc::no_credentials, "S3 credentials", "none were configured");
  co_return TimedCredentials{credentials_, std::nullopt, "configuration"};
}

}  // namespace pg2s3::s3

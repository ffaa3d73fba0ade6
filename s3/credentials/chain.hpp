// The AWS SDKs' default credential chain: the first source that is set up gives the credentials.
#pragma once

#include "s3/credentials/provider.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::s3 {

// Asks its providers in order. A provider that is not set up (errc::no_credentials) passes to the next;
// one that is set up but fails ends the search with its error. The provider that answered is asked alone
// afterwards, at every refresh. When none is set up, the error lists where it looked.
class CredentialsChain final : public CredentialsProvider {
 public:
  explicit CredentialsChain(std::vector<std::unique_ptr<CredentialsProvider>> providers)
      : providers_(std::move(providers)) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  std::optional<std::size_t> chosen_;
};

// Environment, web identity (STS in `region`), shared files, container endpoint, EC2 instance metadata.
std::unique_ptr<CredentialsProvider> default_credentials_chain(boost::asio::any_io_executor executor,
                                                               EnvironmentLookup environment, std::string region,
                                                               std::chrono::milliseconds imds_timeout);

// Credentials that never change (given in the configuration).
class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials credentials) : credentials_(std::move(credentials)) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  Credentials credentials_;
};

}  // namespace pg2s3::s3

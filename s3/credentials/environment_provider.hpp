// Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
#pragma once

#include "s3/credentials/provider.hpp"

namespace pg2s3::s3 {

class EnvironmentProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentProvider(EnvironmentLookup environment) : environment_(std::move(environment)) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  EnvironmentLookup environment_;
};

}  // namespace pg2s3::s3

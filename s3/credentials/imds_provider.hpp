// Credentials of an EC2 instance profile, from the instance metadata service (IMDSv2: a session token first).
#pragma once

#include "s3/credentials/provider.hpp"

#include <chrono>

namespace pg2s3::s3 {

// Off when AWS_EC2_METADATA_DISABLED is true; at AWS_EC2_METADATA_SERVICE_ENDPOINT, else
// http://169.254.169.254. A machine without IMDS gives up after `timeout` (one second by default,
// as the SDKs do) and counts as "not set up".
class ImdsProvider final : public CredentialsProvider {
 public:
  ImdsProvider(boost::asio::any_io_executor executor, EnvironmentLookup environment,
               std::chrono::milliseconds timeout)
      : executor_(std::move(executor)), environment_(std::move(environment)), timeout_(timeout) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  boost::asio::any_io_executor executor_;
  EnvironmentLookup environment_;
  std::chrono::milliseconds timeout_;
};

}  // namespace pg2s3::s3

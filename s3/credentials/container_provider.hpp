// Credentials from the container credentials endpoint (ECS task roles, EKS Pod Identity).
#pragma once

#include "s3/client.hpp"
#include "s3/credentials/provider.hpp"

namespace pg2s3::s3 {

// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI,
// with the Authorization token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read again at every fetch) or
// AWS_CONTAINER_AUTHORIZATION_TOKEN.
class ContainerProvider final : public CredentialsProvider {
 public:
  ContainerProvider(boost::asio::any_io_executor executor, EnvironmentLookup environment)
      : executor_(std::move(executor)), environment_(std::move(environment)) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  boost::asio::any_io_executor executor_;
  EnvironmentLookup environment_;
};

// Whether a full URI may be fetched: https anywhere, plain http only from loopback or the container hosts
// (169.254.170.2 for ECS, 169.254.170.23 and fd00:ec2::23 for EKS Pod Identity).
bool container_endpoint_allowed(const Endpoint& endpoint);

}  // namespace pg2s3::s3

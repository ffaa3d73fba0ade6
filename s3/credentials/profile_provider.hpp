// Credentials from a profile of AWS's shared files: static keys or a credential_process.
#pragma once

#include "s3/credentials/provider.hpp"
#include "s3/credentials/shared_config.hpp"

namespace pg2s3::s3 {

// Settings of a profile that name credential sources pg2s3 does not support: an error naming them, never
// a silent fall-through to the next source.
inline constexpr std::string_view unsupported_profile_settings[] = {
    "role_arn", "source_profile", "credential_source", "web_identity_token_file",
    "sso_session", "sso_start_url", "sso_account_id", "sso_role_name"};

class ProfileProvider final : public CredentialsProvider {
 public:
  ProfileProvider(boost::asio::any_io_executor executor, EnvironmentLookup environment)
      : executor_(std::move(executor)), environment_(std::move(environment)) {}
  boost::asio::awaitable<Result<TimedCredentials>> fetch() override;

 private:
  boost::asio::any_io_executor executor_;
  EnvironmentLookup environment_;
};

// What credential_process printed (Version 1): the error names the profile, never a value.
Result<TimedCredentials> parse_credential_process_output(std::string_view json, std::string_view profile);

}  // namespace pg2s3::s3

#include "s3/credentials/profile_provider.hpp"

#include "s3/credentials/command_output.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace pg2s3::s3 {
namespace {

std::string source_of(const SharedProfile& profile) { return "profile " + profile.name; }

// Static keys from one file's section, when it has them.
std::optional<Result<TimedCredentials>> static_keys(const ProfileSettings& settings, const SharedProfile& profile,
                                                    const std::string& file) {
  auto get = [&](const char* name) {
    auto it = settings.find(name);
    return it == settings.end() ? std::string() : it->second;
  };
  const auto key = get("aws_access_key_id");
  const auto secret = get("aws_secret_access_key");
  if (key.empty() && secret.empty()) return std::nullopt;
  if (key.empty() || secret.empty())
    return Result<TimedCredentials>(credentials_error(
        errc::credentials_failed, source_of(profile),
        file + ": " + (key.empty() ? "aws_secret_access_key without aws_access_key_id"
                                   : "aws_access_key_id without aws_secret_access_key")));
  return Result<TimedCredentials>(TimedCredentials{{key, secret, get("aws_session_token")}, std::nullopt, source_of(profile)});
}

}  // namespace

Result<TimedCredentials> parse_credential_process_output(std::string_view json, std::string_view profile) {
  const std::string source = "profile " + std::string(profile) + " credential_process";
  boost::system::error_code ec;
  const auto document = boost::json::parse(json, ec);
  const auto* version = !ec && document.is_object() ? document.as_object().if_contains("Version") : nullptr;
  if (!version || !version->is_int64() || version->as_int64() != 1)
    return credentials_error(errc::credentials_failed, source,
                             ec || !document.is_object() ? "printed no JSON object" : "printed no \"Version\": 1");
  return credentials_from_json(json, "SessionToken", source);
}

boost::asio::awaitable<Result<TimedCredentials>> ProfileProvider::fetch() {
  auto loaded = load_shared_profile(environment_);
  if (auto* reason = std::get_if<std::string>(&loaded))
    co_return credentials_error(errc::credentials_failed, "shared files", *reason);
  const auto& profile = std::get<SharedProfile>(loaded);
  const std::string source = source_of(profile);
  const std::string files = profile.config_file + " and " + profile.credentials_file;
  if (!profile.found) {
    // A profile asked for by name must exist; the default one may be absent.
    const errc code = environment_("AWS_PROFILE") ? errc::credentials_failed : errc::no_credentials;
    co_return credentials_error(code, source, "no such profile in " + files);
  }
  for (auto setting : unsupported_profile_settings)
    if (profile.get(setting))
      co_return credentials_error(errc::credentials_failed, source,
                                  "sets " + std::string(setting) + ", which pg2s3 does not support (use static keys, "
                                  "credential_process, or the environment's credential sources)");

  // In the order of the SDKs' chain: the credentials file's keys, credential_process, the config file's keys.
  if (auto keys = static_keys(profile.from_credentials, profile, profile.credentials_file)) co_return *keys;
  if (auto command = profile.get("credential_process")) {
    const auto output = co_await run_command(executor_, *command, std::chrono::minutes(1));
    if (output.exit_status != 0)
      co_return credentials_error(errc::credentials_failed, source + " credential_process",
                                  output.exit_status < 0 ? output.failure
                                                         : "exited with status " + std::to_string(output.exit_status));
    co_return parse_credential_process_output(output.out, profile.name);
  }
  if (auto keys = static_keys(profile.from_config, profile, profile.config_file)) co_return *keys;
  co_return credentials_error(errc::no_credentials, source, "has no credentials in " + files);
}

}  // namespace pg2s3::s3

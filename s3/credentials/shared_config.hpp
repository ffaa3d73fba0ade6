// AWS's shared files (~/.aws/config, ~/.aws/credentials): INI parsing and one profile's settings, as the SDKs read them.
#pragma once

#include "s3/credentials/provider.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace pg2s3::s3 {

using ProfileSettings = std::map<std::string, std::string, std::less<>>;
using ProfileSections = std::map<std::string, ProfileSettings, std::less<>>;

enum class SharedFileKind { config, credentials };

// The profiles of one file, or the one-line reason it does not parse ("<file> line 3: ..."). In the config
// file profiles are "[profile name]" (and "[default]"); other sections ("[sso-session x]") are left out.
// Comments are lines starting with '#' or ';'; indented lines continue the property above (sub-settings,
// which pg2s3 does not use).
std::variant<ProfileSections, std::string> parse_shared_file(std::string_view text, SharedFileKind kind,
                                                             std::string_view file_name);

// One profile as both files give it.
struct SharedProfile {
  std::string name;
  std::string config_file;       // the paths read, for messages
  std::string credentials_file;
  bool found = false;            // a section of this name exists in either file
  ProfileSettings from_config;
  ProfileSettings from_credentials;

  // The setting, the credentials file winning over the config file, as the SDKs merge them.
  std::optional<std::string> get(std::string_view key) const;
};

// AWS_PROFILE (else "default") from AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/...).
// A file that is absent counts as empty; one that does not parse is the error.
std::variant<SharedProfile, std::string> load_shared_profile(const EnvironmentLookup& environment);

}  // namespace pg2s3::s3

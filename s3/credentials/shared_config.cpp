#include "s3/credentials/shared_config.hpp"

namespace pg2s3::s3 {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// The profile a section header names, or nothing for sections that are not profiles.
std::optional<std::string> profile_of_section(std::string_view header, SharedFileKind kind) {
  if (kind == SharedFileKind::credentials || header == "default") return std::string(header);
  if (!header.starts_with("profile ") && !header.starts_with("profile\t")) return std::nullopt;
  return std::string(trim(header.substr(8)));
}

std::string expand_home(std::string path, const EnvironmentLookup& environment) {
  if (path.starts_with("~/")) path = environment("HOME").value_or("") + path.substr(1);
  return path;
}

}  // namespace

std::variant<ProfileSections, std::string> parse_shared_file(std::string_view text, SharedFileKind kind,
                                                             std::string_view file_name) {
  ProfileSections sections;
  ProfileSettings* current = nullptr;  // null: before any section, or in a section that is not a profile
  bool in_section = false;
  bool after_property = false;
  int line_number = 0;
  auto problem = [&](std::string_view what) {
    return std::string(file_name) + " line " + std::to_string(line_number) + ": " + std::string(what);
  };
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const auto close = line.find(']');
      const auto rest = close == std::string_view::npos ? line : trim(line.substr(close + 1));
      if (close == std::string_view::npos || (!rest.empty() && rest.front() != '#' && rest.front() != ';'))
        return problem("a section header must be [name]");
      const auto header = trim(line.substr(1, close - 1));
      if (header.empty()) return problem("a section needs a name");
      auto profile = profile_of_section(header, kind);
      current = profile ? &sections[*profile] : nullptr;
      in_section = true;
      after_property = false;
      continue;
    }
    if (raw.front() == ' ' || raw.front() == '\t') {
      if (!after_property) return problem("an indented line must continue a property");
      continue;  // a sub-setting of the property above
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) return problem("expected name = value");
    if (!in_section) return problem("a property before any [section]");
    const auto name = trim(line.substr(0, equals));
    if (name.empty()) return problem("a property needs a name");
    if (current) (*current)[std::string(name)] = std::string(trim(line.substr(equals + 1)));
    after_property = true;
  }
  return sections;
}

std::optional<std::string> SharedProfile::get(std::string_view key) const {
  if (auto it = from_credentials.find(key); it != from_credentials.end()) return it->second;
  if (auto it = from_config.find(key); it != from_config.end()) return it->second;
  return std::nullopt;
}

std::variant<SharedProfile, std::string> load_shared_profile(const EnvironmentLookup& environment) {
  SharedProfile profile;
  profile.name = environment("AWS_PROFILE").value_or("default");
  profile.config_file = expand_home(environment("AWS_CONFIG_FILE").value_or("~/.aws/config"), environment);
  profile.credentials_file =
      expand_home(environment("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), environment);
  auto load = [&](const std::string& path, SharedFileKind kind, ProfileSettings& into) -> std::optional<std::string> {
    auto text = read_local_file(path);
    if (!text) return std::nullopt;
    auto parsed = parse_shared_file(*text, kind, path);
    if (auto* reason = std::get_if<std::string>(&parsed)) return *reason;
    auto& sections = std::get<ProfileSections>(parsed);
    if (auto it = sections.find(profile.name); it != sections.end()) {
      into = std::move(it->second);
      profile.found = true;
    }
    return std::nullopt;
  };
  if (auto problem = load(profile.config_file, SharedFileKind::config, profile.from_config)) return *problem;
  if (auto problem = load(profile.credentials_file, SharedFileKind::credentials, profile.from_credentials))
    return *problem;
  return profile;
}

}  // namespace pg2s3::s3

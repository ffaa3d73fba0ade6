// A source of AWS credentials: one async operation that answers with credentials and when they expire.
#pragma once

#include "s3/error.hpp"
#include "s3/sigv4.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

namespace pg2s3::s3 {

struct TimedCredentials {
  Credentials credentials;
  std::optional<std::chrono::system_clock::time_point> expiration;  // none: they do not expire
  std::string source;  // "environment", "web identity", "profile default", ...: for logs, never a secret
};

// Reads one environment variable; nothing when unset. Injected so that tests need not touch the process's.
using EnvironmentLookup = std::function<std::optional<std::string>(const char* name)>;
EnvironmentLookup process_environment_lookup();

// The value of the first of `names` that is set and not empty.
std::optional<std::string> first_set(const EnvironmentLookup& environment, std::initializer_list<const char*> names);

// Error::code of a provider that is not set up here (its variables unset, no such file): the chain asks
// the next one. Any other error means the source is set up but failed, and ends the chain's search.
// Error::operation names the source; Error::detail says where it looked or what failed.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual boost::asio::awaitable<Result<TimedCredentials>> fetch() = 0;
};

// A small local file's contents (a shared config file, a token); nothing when it cannot be read.
std::optional<std::string> read_local_file(const std::string& path);

// A token as a file holds it: without the line break that ends it.
std::string without_trailing_newlines(std::string text);

// An Error from the provider named `source`.
Error credentials_error(errc code, std::string_view source, std::string detail);

// "2024-01-13T10:00:00Z" (fractions of a second and a "+00:00" zone allowed), as credential sources write it.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

// The JSON the container endpoint, IMDS and credential_process answer with: AccessKeyId, SecretAccessKey,
// the session token under `token_field` ("Token" or "SessionToken"), an optional Expiration. The error
// names `source` and what is missing, never a value.
Result<TimedCredentials> credentials_from_json(std::string_view json, std::string_view token_field,
                                               std::string_view source);

}  // namespace pg2s3::s3

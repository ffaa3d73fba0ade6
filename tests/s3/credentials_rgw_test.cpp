// Credential sources, upload options and virtual-hosted addressing against the real RGW of scripts/services.
// The metadata, container and STS services are loopback stand-ins that hand out RGW's keys with a session
// token (RGW accepts and ignores it) and short expiries.
#include "s3/client.hpp"
#include "s3/multipart_upload.hpp"
#include "tests/support/credential_servers.hpp"
#include "tests/support/services.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

using namespace pg2s3;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using Catch::Contains;
using test::bucket;
using test::CredentialServer;

namespace {

std::string unique_key(std::string_view name) {
  return "credentials-test/" + std::to_string(std::random_device{}()) + "/" + std::string(name);
}

// A file holding `text`, removed with this.
struct TempFile {
  std::string path = (std::filesystem::temp_directory_path() / ("pg2s3-token-" + std::to_string(std::random_device{}())))
                         .string();
  explicit TempFile(const std::string& text) { std::ofstream(path) << text; }
  ~TempFile() { std::filesystem::remove(path); }
};

CredentialServer::Issued rgw_keys(std::chrono::seconds lifetime = 3600s) {
  return {test::service_setting("AWS_ACCESS_KEY_ID"), test::service_setting("AWS_SECRET_ACCESS_KEY"),
          "session-token-", lifetime};
}

// A client with no static keys: the chain over exactly these variables.
s3::ClientConfig chain_config(std::map<std::string, std::string> variables, std::vector<std::string>* log = nullptr) {
  auto config = test::rgw_config();
  config.credentials = {};
  variables.emplace("HOME", "/nonexistent");
  config.environment = [variables](const char* name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
  if (log) config.log = [log](std::string_view line) { log->emplace_back(line); };
  return config;
}

// A multipart upload of one part through a client made from `config`, read back, deleted. The client
// lives inside the task: its background refresh keeps the io_context busy for as long as it exists.
s3::Result<std::string> round_trip(asio::io_context& io, s3::ClientConfig config, s3::UploadOptions options = {}) {
  return test::run(io, [&]() -> asio::awaitable<s3::Result<std::string>> {
    auto client = s3::Client::create(io.get_executor(), config).value();
    const std::string key = unique_key("export.csv");
    auto upload = co_await s3::MultipartUpload::create(client, bucket(), key, "text/csv", std::move(options));
    if (!upload) co_return upload.error();
    if (auto part = co_await upload->upload_part("id,name\n1,a\n"); !part) co_return part.error();
    if (auto done = co_await upload->complete(); !done) co_return done.error();
    auto bytes = co_await test::read_object(client, key);
    co_await client.delete_object(bucket(), key);
    co_return bytes;
  }());
}

// curl's own SigV4 with RGW's keys: an outside look at what RGW stored.
std::string signed_curl(const std::string& options, const std::string& key_and_query) {
  return test::command_output("curl -s " + options + " --aws-sigv4 aws:amz:" + test::service_setting("PG2S3_S3_REGION") +
                              ":s3 --user " + test::service_setting("AWS_ACCESS_KEY_ID") + ":" +
                              test::service_setting("AWS_SECRET_ACCESS_KEY") +
                              " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '" + test::service_setting("PG2S3_S3_ENDPOINT") +
                              "/" + bucket() + "/" + key_and_query + "'");
}

}  // namespace

TEST_CASE("SSE-KMS, Content-Disposition and the owner ACL reach RGW on a multipart upload", "[rgw][upload-options]") {
  asio::io_context io;
  const std::string key = unique_key("report-2026.csv");
  s3::UploadOptions options;
  options.sse = "aws:kms";
  options.sse_kms_key_id = test::service_setting("PG2S3_TEST_KMS_KEY_ID");
  options.tags = {{"team", "data"}, {"cost center", "a&b"}};
  options.acl = "bucket-owner-full-control";
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  auto stored = test::run(io, [&]() -> asio::awaitable<s3::Result<std::string>> {
    auto upload = co_await s3::MultipartUpload::create(client, bucket(), key, "text/csv", options);
    if (!upload) co_return upload.error();
    if (auto part = co_await upload->upload_part("id\n1\n"); !part) co_return part.error();
    if (auto done = co_await upload->complete(); !done) co_return done.error();
    co_return co_await test::read_object(client, key);
  }());
  INFO((stored.has_value() ? std::string() : stored.error().message()));
  REQUIRE(stored.has_value());
  CHECK(*stored == "id\n1\n");  // stored encrypted, read back plain

  const std::string encoded_key = s3::uri_encode(key, true);
  const std::string head = signed_curl("-I", encoded_key);
  CHECK_THAT(head, Contains("x-amz-server-side-encryption: aws:kms"));
  CHECK_THAT(head, Contains("x-amz-server-side-encryption-aws-kms-key-id: " + options.sse_kms_key_id));
  CHECK_THAT(head, Contains("attachment; filename=\"report-2026.csv\""));
  test::run(io, client.delete_object(bucket(), key)).value();
}

// RGW 16 drops x-amz-tagging on CreateMultipartUpload (the object says x-amz-tagging-count: 0), where AWS
// keeps it: the multipart request's header is checked in the unit tests, the tags' encoding here.
TEST_CASE("object tags read back with GetObjectTagging", "[rgw][upload-options]") {
  asio::io_context io;
  const std::string key = unique_key("tagged.csv");
  s3::UploadOptions options;
  options.tags = {{"team", "data"}, {"cost center", "a&b"}};
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  REQUIRE(test::run(io, client.put_object(bucket(), key, "id\n", "text/csv", &options)).has_value());
  const std::string tagging = signed_curl("", key + "?tagging=");
  CHECK_THAT(tagging, Contains("<Key>team</Key><Value>data</Value>"));
  CHECK_THAT(tagging, Contains("<Key>cost center</Key><Value>a&amp;b</Value>"));
  test::run(io, client.delete_object(bucket(), key)).value();
}

TEST_CASE("an upload option S3 would refuse is refused before any request", "[rgw][upload-options]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  s3::UploadOptions options;
  options.sse = "AES-256";
  auto upload = test::run(io, s3::MultipartUpload::create(client, bucket(), unique_key("x"), "", options));
  REQUIRE_FALSE(upload.has_value());
  CHECK_THAT(upload.error().message(), Contains("sse must be"));
  CHECK(client.stats().requests == 0);
}

TEST_CASE("virtual-hosted addressing through rgw_dns_name", "[rgw][addressing]") {
  asio::io_context io;
  auto config = test::rgw_config();
  config.endpoint = test::service_setting("PG2S3_TEST_S3_VIRTUAL_ENDPOINT");
  config.addressing = s3::Addressing::virtual_hosted;
  const auto stored = round_trip(io, config);
  REQUIRE(stored.has_value());
  CHECK(*stored == "id,name\n1,a\n");
}

TEST_CASE("credentials from EC2 instance metadata (IMDSv2)", "[rgw][credentials]") {
  asio::io_context io;
  CredentialServer imds(CredentialServer::Kind::imds, rgw_keys());
  const auto stored = round_trip(io, chain_config({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}}));
  REQUIRE(stored.has_value());
  CHECK(*stored == "id,name\n1,a\n");
  CHECK(imds.handed_out() == 1);
  CHECK(imds.refused() == 0);
}

TEST_CASE("credentials from the container endpoint with its authorization token file", "[rgw][credentials]") {
  asio::io_context io;
  CredentialServer container(CredentialServer::Kind::container, rgw_keys(), "container-token-3f1e");
  TempFile token("container-token-3f1e\n");
  const auto stored = round_trip(io, chain_config({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.endpoint() + "/v2/credentials/x"},
                                                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.path}}));
  REQUIRE(stored.has_value());
  CHECK(container.handed_out() == 1);

  std::ofstream(token.path) << "a-stale-token";  // the file is read again at every fetch
  auto refused = round_trip(io, chain_config({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.endpoint() + "/v2/credentials/x"},
                                              {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.path}}));
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().message(), Contains("container credentials") && Contains("HTTP 401"));
  CHECK_THAT(refused.error().message(), !Contains("a-stale-token"));
  CHECK(container.refused() == 1);
}

TEST_CASE("credentials from STS AssumeRoleWithWebIdentity, and its refusals", "[rgw][credentials]") {
  asio::io_context io;
  TempFile token("eyJ.web-identity-token.sig");
  CredentialServer sts(CredentialServer::Kind::sts, rgw_keys(), token.path);
  const std::map<std::string, std::string> irsa{{"AWS_WEB_IDENTITY_TOKEN_FILE", token.path},
                                                {"AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/pg2s3"},
                                                {"AWS_ROLE_SESSION_NAME", "pg2s3-test"},
                                                {"AWS_ENDPOINT_URL_STS", sts.endpoint()}};
  const auto stored = round_trip(io, chain_config(irsa));
  REQUIRE(stored.has_value());
  CHECK(sts.handed_out() == 1);

  SECTION("an expired or wrong token: STS's code and message, never the token") {
    TempFile other("eyJ.expired-token.sig");
    auto expired = irsa;
    expired["AWS_WEB_IDENTITY_TOKEN_FILE"] = other.path;
    auto refused = round_trip(io, chain_config(expired));
    REQUIRE_FALSE(refused.has_value());
    CHECK_THAT(refused.error().message(), Contains("web identity") && Contains("InvalidIdentityToken") &&
                                              Contains("Token is expired or invalid"));
    CHECK_THAT(refused.error().message(), !Contains("expired-token.sig"));
  }
  SECTION("STS unavailable") {
    sts.fail_with(503);
    auto refused = round_trip(io, chain_config(irsa));
    REQUIRE_FALSE(refused.has_value());
    CHECK_THAT(refused.error().message(), Contains("web identity") && Contains("HTTP 503 ServiceUnavailable"));
  }
}

TEST_CASE("an unreachable IMDS is given up quickly and the chain says where it looked", "[rgw][credentials]") {
  asio::io_context io;
  asio::ip::tcp::acceptor closed(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = closed.local_endpoint().port();
  closed.close();  // nothing listens there now
  auto failed = round_trip(io, chain_config({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(port)}}));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code == s3::errc::no_credentials);
  CHECK_THAT(failed.error().message(), Contains("environment: AWS_ACCESS_KEY_ID is unset") &&
                                           Contains("EC2 instance metadata: cannot connect"));
}

TEST_CASE("short-lived credentials rotate in the background with no failed request", "[rgw][credentials][rotation]") {
  asio::io_context io;
  CredentialServer imds(CredentialServer::Kind::imds, rgw_keys(3s));
  std::vector<std::string> log;
  const auto config = chain_config({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}}, &log);
  int requests = 0, failures = 0;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto client = s3::Client::create(io.get_executor(), config).value();
    const std::string key = unique_key("rotating");
    while (imds.handed_out() < 4) {  // three rotations
      ++requests;
      if (!co_await client.put_object(bucket(), key, "x")) ++failures;
      // A download URL signed now dies with these credentials, within their 3 seconds.
      auto url = client.presign_get(bucket(), key, 3600s);
      if (!url || !url->limited_by_credentials || url->expires_at > std::chrono::system_clock::now() + 3s) ++failures;
      asio::steady_timer pace(io, 50ms);  // pacing, so that RGW is not flooded meanwhile
      co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_await client.delete_object(bucket(), key);
  }());
  CHECK(failures == 0);
  CHECK(requests > 4);
  CHECK(imds.refused() == 0);
  CHECK(log == std::vector<std::string>{"S3 credentials from EC2 instance metadata"});
}

TEST_CASE("a failed refresh keeps the old credentials until they expire, then names the source", "[rgw][credentials]") {
  asio::io_context io;
  CredentialServer imds(CredentialServer::Kind::imds, rgw_keys(3s));
  std::vector<std::string> log;
  const auto config = chain_config({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}}, &log);
  int succeeded = 0;
  s3::Result<void> last;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto client = s3::Client::create(io.get_executor(), config).value();
    const std::string key = unique_key("refresh-fails");
    last = co_await client.put_object(bucket(), key, "x");
    imds.fail_with(500);
    while (last) {
      ++succeeded;
      asio::steady_timer pace(io, 100ms);
      co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
      last = co_await client.put_object(bucket(), key, "x");
    }
    auto cleanup = s3::Client::create(io.get_executor(), test::rgw_config()).value();
    co_await cleanup.delete_object(bucket(), key);
  }());
  CHECK(succeeded > 1);  // on after the refresh began to fail
  REQUIRE_FALSE(last.has_value());
  CHECK_THAT(last.error().message(), Contains("EC2 instance metadata") && Contains("HTTP 500"));
  CHECK(std::ranges::any_of(log, [](const std::string& line) {
    return line.starts_with("refreshing S3 credentials failed") && line.find("stay in use") != std::string::npos;
  }));
  CHECK(imds.refused() == 0);
}

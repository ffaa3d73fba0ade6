// `pg2s3 serve` and `pg2s3 export` with credentials from the platform, driven from outside: no credentials
// anywhere, credentials that rotate every few seconds, secrets of every source kept out of every output,
// and a config file's typo refused at start.
#include "tests/http/api_helpers.hpp"
#include "tests/support/credential_servers.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <filesystem>

using namespace pg2s3;
using namespace pg2s3::test;
using Catch::Contains;

namespace {

// A file holding `text`, removed with this.
struct TempFile {
  std::string path;
  TempFile(const std::string& name, const std::string& text)
      : path((std::filesystem::temp_directory_path() / (name + "-" + std::to_string(std::random_device{}()))).string()) {
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

// A loopback address where nothing listens: IMDS on a machine that has none.
std::string nothing_listening() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
}

// Variables that hide the test services' static keys and every other source; add one source to them.
std::vector<std::string> without_credentials(std::vector<std::string> source = {}) {
  std::vector<std::string> variables{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=",
                                     "HOME=/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT=" + nothing_listening()};
  for (auto& variable : source) {  // a later value of the same name replaces the default above
    const auto name = variable.substr(0, variable.find('=') + 1);
    std::erase_if(variables, [&](const std::string& v) { return v.starts_with(name); });
    variables.push_back(std::move(variable));
  }
  return variables;
}

std::string shell_environment(const std::vector<std::string>& variables) {
  std::string text = "env";
  for (const auto& variable : variables) text += " '" + variable + "'";
  return text;
}

std::string final_status(const ServerProcess& server, const std::string& id) {
  const auto seen = statuses_until_final(server, id);
  simdjson::dom::parser parser;
  return text_of(parse(parser, seen.back()), "status");
}

}  // namespace

TEST_CASE("with no credentials anywhere serve starts, /healthz says where it looked, export fails at once",
          "[api][credentials]") {
  const auto variables = without_credentials();
  ServerProcess server(variables);
  auto health = request("GET", server.url("/healthz"));
  CHECK(health.status == 503);
  CHECK_THAT(health.body, Contains("no S3 credentials found") && Contains("environment: AWS_ACCESS_KEY_ID is unset") &&
                              Contains("web identity") && Contains("profile default") &&
                              Contains("container credentials") && Contains("EC2 instance metadata"));

  const std::string said = command_output(shell_environment(variables) + " " + PG2S3_BINARY +
                                          " export users 2>&1 >/dev/null; echo \"exit status $?\"");
  CHECK_THAT(said, Contains("no S3 credentials found: looked in environment"));
  CHECK_THAT(said, !Contains("exit status 0"));
}

TEST_CASE("serve exports on through several rotations of short-lived credentials", "[api][credentials][rotation]") {
  CredentialServer imds(CredentialServer::Kind::imds, {service_setting("AWS_ACCESS_KEY_ID"),
                                                       service_setting("AWS_SECRET_ACCESS_KEY"), "session-token-", std::chrono::seconds(4)});
  ServerProcess server(without_credentials({"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.endpoint()}));
  int exports = 0;
  while (imds.handed_out() < 4) {  // the first credentials and three rotations
    const auto id = start(server, "users");
    CHECK(final_status(server, id) == "COMPLETED");
    ++exports;
  }
  CHECK(exports >= 2);
  CHECK(imds.refused() == 0);
  CHECK(request("GET", server.url("/healthz")).status == 200);
  server.stop();
  CHECK_THAT(server.log(), Contains("S3 credentials from EC2 instance metadata"));
  CHECK_THAT(server.log(), !Contains("failed"));
}

TEST_CASE("no secret of any credential source appears in logs, errors, metrics or API responses",
          "[api][secrets][credentials]") {
  // Each source hands out a secret RGW does not know: exports fail at S3, and their errors are checked too.
  const CredentialServer::Issued issued{"AKIDSECRETSTEST", "issued-secret-6d1f0e2a", "issued-session-9c4b7e31-", std::chrono::seconds(3600)};
  const std::string container_token = "container-auth-token-2a7d5c";
  const std::string web_identity_token = "eyJ.web-identity-token-8e3f.sig";
  TempFile web_identity("pg2s3-web-identity", web_identity_token);
  CredentialServer imds(CredentialServer::Kind::imds, issued);
  CredentialServer container(CredentialServer::Kind::container, issued, container_token);
  CredentialServer sts(CredentialServer::Kind::sts, issued, web_identity.path);
  TempFile aws_config("pg2s3-aws-config",
                      "[profile process]\ncredential_process = printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDSECRETSTEST\", "
                      "\"SecretAccessKey\": \"issued-secret-6d1f0e2a\", \"SessionToken\": \"issued-session-9c4b7e31-p\"}'\n"
                      "[profile static]\naws_access_key_id = AKIDSECRETSTEST\naws_secret_access_key = issued-secret-6d1f0e2a\n");

  const std::vector<std::pair<std::string, std::vector<std::string>>> sources = {
      {"EC2 instance metadata", {"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.endpoint()}},
      {"container credentials", {"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + container.endpoint() + "/creds",
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + container_token}},
      {"web identity", {"AWS_WEB_IDENTITY_TOKEN_FILE=" + web_identity.path, "AWS_ROLE_ARN=arn:aws:iam::1:role/r",
                        "AWS_ENDPOINT_URL_STS=" + sts.endpoint()}},
      {"profile process", {"AWS_CONFIG_FILE=" + aws_config.path, "AWS_PROFILE=process"}},
      {"profile static", {"AWS_CONFIG_FILE=" + aws_config.path, "AWS_PROFILE=static"}},
  };
  for (const auto& [source, variables] : sources) {
    SECTION(source) {
      ServerProcess server(without_credentials(variables));
      std::string answered;
      auto ask = [&](const std::string& method, const std::string& path) {
        auto reply = request(method, server.url(path));
        answered += reply.body;
        return reply;
      };
      auto started = ask("POST", "/exports/users");
      simdjson::dom::parser parser;
      const auto id = text_of(parse(parser, started.body), "jobId");
      for (const auto& status : statuses_until_final(server, id)) answered += status;
      CHECK_THAT(answered, Contains("InvalidAccessKeyId") || Contains("SignatureDoesNotMatch"));
      ask("GET", "/exports/" + id + "/download-url");
      ask("GET", "/metrics");
      ask("GET", "/healthz");
      server.stop();
      CHECK_THAT(server.log(), Contains("S3 credentials from " + source));
      for (const auto& secret : {issued.secret_access_key, issued.session_token_prefix, container_token, web_identity_token}) {
        CHECK_THAT(answered, !Contains(secret));
        CHECK_THAT(server.log(), !Contains(secret));
      }
    }
  }
}

TEST_CASE("a typo in the config file stops export and serve at start, naming file, key and expectation", "[cli][settings]") {
  TempFile config("pg2s3-typo.toml", "[export]\npart_size_mb = 8\n");
  const std::string said =
      command_output(std::string(PG2S3_BINARY) + " export users --config " + config.path + " 2>&1; echo \"exit status $?\"");
  CHECK_THAT(said, Contains("config file " + config.path + " line 2: unknown key export.part_size_mb"));
  CHECK_THAT(said, !Contains("exit status 0"));

  TempFile mistyped("pg2s3-mistyped.toml", "[export]\npart_size_mib = \"8\"\n");
  const std::string served = command_output(std::string(PG2S3_BINARY) + " serve --listen 127.0.0.1:1 --config " +
                                            mistyped.path + " 2>&1; echo \"exit status $?\"");
  CHECK_THAT(served, Contains("export.part_size_mib must be at least 5 (a whole number)"));
  CHECK_THAT(served, !Contains("exit status 0"));
}

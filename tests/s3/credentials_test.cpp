// The credential chain's rules without sockets: shared files, credential_process, STS's XML, expiry math,
// and the providers that need no network (environment, profile, the chain's "where it looked").
#include "s3/credentials/cache.hpp"
#include "s3/credentials/chain.hpp"
#include "s3/credentials/command_output.hpp"
#include "s3/credentials/container_provider.hpp"
#include "s3/credentials/profile_provider.hpp"
#include "s3/credentials/shared_config.hpp"
#include "s3/credentials/web_identity_provider.hpp"
#include "tests/support/run.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

using namespace pg2s3;
using namespace std::chrono_literals;
using Catch::Contains;

namespace {

struct FakeEnvironment {
  std::map<std::string, std::string> variables;
  s3::EnvironmentLookup lookup() {
    return [this](const char* name) -> std::optional<std::string> {
      auto it = variables.find(name);
      if (it == variables.end()) return std::nullopt;
      return it->second;
    };
  }
};

// A directory of files for one test, removed after it.
struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("pg2s3-credentials-" + std::to_string(std::random_device{}()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

boost::asio::io_context io;  // where the providers run

s3::Result<s3::TimedCredentials> fetch(s3::CredentialsProvider& provider) { return test::run(io, provider.fetch()); }

const auto time_of = [](std::string_view text) { return s3::parse_iso8601(text).value(); };

s3::CommandOutput run_command(const std::string& command, std::chrono::milliseconds timeout = 1min) {
  return test::run(io, s3::run_command(io.get_executor(), command, timeout));
}

// Whether the process whose pid a command wrote into `pid_file` is gone: killed and reaped.
bool process_gone(const std::string& pid_file) {
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  REQUIRE(pid > 0);
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

TEST_CASE("shared files: sections, the profile prefix of the config file, comments, sub-settings", "[credentials]") {
  const std::string config = "# comment\n[default]\nregion = eu-west-1\n\n[profile ci]\nregion=us-west-2 \n"
                             "s3 =\n  addressing_style = path\n; another\n[sso-session x]\nsso_region = a\n";
  auto parsed = s3::parse_shared_file(config, s3::SharedFileKind::config, "config");
  REQUIRE(std::holds_alternative<s3::ProfileSections>(parsed));
  const auto& sections = std::get<s3::ProfileSections>(parsed);
  CHECK(sections.size() == 2);
  CHECK(sections.at("default").at("region") == "eu-west-1");
  CHECK(sections.at("ci").at("region") == "us-west-2");
  CHECK(sections.at("ci").at("s3").empty());

  auto credentials = s3::parse_shared_file("[profile ci]\naws_access_key_id = A\n", s3::SharedFileKind::credentials, "c");
  CHECK(std::get<s3::ProfileSections>(credentials).contains("profile ci"));  // no prefix in the credentials file
}

TEST_CASE("shared files: a malformed line is an error naming the file and the line", "[credentials]") {
  auto check = [](std::string_view text, std::string_view expected) {
    auto parsed = s3::parse_shared_file(text, s3::SharedFileKind::credentials, "/home/u/.aws/credentials");
    REQUIRE(std::holds_alternative<std::string>(parsed));
    CHECK_THAT(std::get<std::string>(parsed), Contains(std::string(expected)));
  };
  check("[default]\naws_access_key_id AKID\n", "/home/u/.aws/credentials line 2: expected name = value");
  check("aws_access_key_id = AKID\n", "line 1: a property before any [section]");
  check("[default\n", "line 1: a section header must be [name]");
  check("[default]\n  indented = 1\n", "line 2: an indented line must continue a property");
}

TEST_CASE("a profile merges both files, the credentials file winning", "[credentials]") {
  TempDir dir;
  FakeEnvironment environment{{{"AWS_CONFIG_FILE", dir.write("config", "[profile p]\nregion = eu-north-1\n"
                                                                       "aws_access_key_id = FROMCONFIG\n")},
                               {"AWS_SHARED_CREDENTIALS_FILE", dir.write("credentials", "[p]\naws_access_key_id = FROMCREDS\n")},
                               {"AWS_PROFILE", "p"}}};
  auto loaded = s3::load_shared_profile(environment.lookup());
  REQUIRE(std::holds_alternative<s3::SharedProfile>(loaded));
  const auto& profile = std::get<s3::SharedProfile>(loaded);
  CHECK(profile.found);
  CHECK(profile.get("region") == "eu-north-1");
  CHECK(profile.get("aws_access_key_id") == "FROMCREDS");
  CHECK_FALSE(profile.get("endpoint_url"));
}

TEST_CASE("the profile provider: static keys, credential_process, and clear refusals", "[credentials]") {
  TempDir dir;
  FakeEnvironment environment{{{"AWS_CONFIG_FILE", dir.path.string() + "/config"},
                               {"AWS_SHARED_CREDENTIALS_FILE", dir.path.string() + "/credentials"}}};
  s3::ProfileProvider provider(io.get_executor(), environment.lookup());

  SECTION("no files and no AWS_PROFILE: not set up, so the chain asks the next source") {
    auto outcome = fetch(provider);
    REQUIRE_FALSE(outcome.has_value());
    CHECK(outcome.error().code == s3::errc::no_credentials);
  }
  SECTION("static keys with a session token") {
    dir.write("credentials", "[default]\naws_access_key_id = AKID\naws_secret_access_key = s3cr3t-static\n"
                             "aws_session_token = tok\n");
    auto outcome = fetch(provider);
    REQUIRE(outcome.has_value());
    CHECK(outcome->credentials.access_key_id == "AKID");
    CHECK(outcome->credentials.session_token == "tok");
    CHECK(outcome->source == "profile default");
    CHECK_FALSE(outcome->expiration);
  }
  SECTION("credential_process with an Expiration") {
    dir.write("config", "[default]\ncredential_process = printf '{\"Version\": 1, \"AccessKeyId\": \"PROC\", "
                        "\"SecretAccessKey\": \"proc-secret\", \"SessionToken\": \"proc-token\", "
                        "\"Expiration\": \"2030-01-02T03:04:05Z\"}'\n");
    auto outcome = fetch(provider);
    REQUIRE(outcome.has_value());
    CHECK(outcome->credentials.access_key_id == "PROC");
    CHECK(outcome->credentials.session_token == "proc-token");
    CHECK(outcome->expiration == time_of("2030-01-02T03:04:05Z"));
  }
  SECTION("credential_process that fails names the profile and its exit status") {
    dir.write("config", "[default]\ncredential_process = sh -c 'echo broken >&2; exit 3'\n");
    auto outcome = fetch(provider);
    REQUIRE_FALSE(outcome.has_value());
    CHECK(outcome.error().code == s3::errc::credentials_failed);
    CHECK_THAT(outcome.error().message(), Contains("profile default credential_process") && Contains("status 3"));
  }
  SECTION("credential_process that prints bad JSON") {
    dir.write("config", "[default]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"X\", "
                        "\"SecretAccessKey\": \"secret-in-bad-json\"'\n");
    auto outcome = fetch(provider);
    REQUIRE_FALSE(outcome.has_value());
    CHECK_THAT(outcome.error().message(), Contains("credential_process") && Contains("no JSON object"));
    CHECK_THAT(outcome.error().message(), !Contains("secret-in-bad-json"));
  }
  SECTION("a named profile that does not exist") {
    environment.variables["AWS_PROFILE"] = "missing";
    dir.write("credentials", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n");
    auto outcome = fetch(provider);
    REQUIRE_FALSE(outcome.has_value());
    CHECK(outcome.error().code == s3::errc::credentials_failed);
    CHECK_THAT(outcome.error().message(), Contains("profile missing") && Contains("no such profile"));
  }
  SECTION("role_arn with source_profile and SSO are refused by name, not skipped") {
    dir.write("config", "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n"
                        "[profile sso]\nsso_session = corp\n");
    environment.variables["AWS_PROFILE"] = "dev";
    auto role = fetch(provider);
    REQUIRE_FALSE(role.has_value());
    CHECK_THAT(role.error().message(), Contains("profile dev") && Contains("role_arn") && Contains("not support"));
    environment.variables["AWS_PROFILE"] = "sso";
    auto sso = fetch(provider);
    REQUIRE_FALSE(sso.has_value());
    CHECK_THAT(sso.error().message(), Contains("profile sso") && Contains("sso_session"));
  }
  SECTION("a malformed credentials file names the file and line, never a secret") {
    dir.write("credentials", "[default]\naws_access_key_id = A\naws_secret_access_key s3cr3t-in-broken-line\n");
    auto outcome = fetch(provider);
    REQUIRE_FALSE(outcome.has_value());
    CHECK(outcome.error().code == s3::errc::credentials_failed);
    CHECK_THAT(outcome.error().message(), Contains(dir.path.string() + "/credentials line 3"));
    CHECK_THAT(outcome.error().message(), !Contains("s3cr3t-in-broken-line"));
  }
}

TEST_CASE("credential_process output: Version 1 required, keys required, Expiration optional", "[credentials]") {
  auto ok = s3::parse_credential_process_output(R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"S"})", "p");
  REQUIRE(ok.has_value());
  CHECK_FALSE(ok->expiration);
  auto version = s3::parse_credential_process_output(R"({"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"})", "p");
  REQUIRE_FALSE(version.has_value());
  CHECK_THAT(version.error().message(), Contains("Version"));
  auto missing = s3::parse_credential_process_output(R"({"Version":1,"AccessKeyId":"A"})", "p");
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error().message(), Contains("SecretAccessKey"));
  auto bad_time = s3::parse_credential_process_output(
      R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"tomorrow"})", "p");
  REQUIRE_FALSE(bad_time.has_value());
  CHECK_THAT(bad_time.error().message(), Contains("Expiration"));
}

TEST_CASE("credential_process printing more than 1 MiB is killed and refused, its secret unsaid", "[credentials]") {
  TempDir dir;
  const std::string pid_file = (dir.path / "pid").string();
  // $PPID: the /bin/sh -c that runs this script, the child pg2s3 started.
  const std::string script = dir.write("huge", "echo $PPID > " + pid_file + R"(
printf '{"Version": 1, "AccessKeyId": "BIG", "SecretAccessKey": "secret-in-huge-output", "Padding": "'
head -c 2097152 /dev/zero | tr '\0' x
printf '"}'
)");
  FakeEnvironment environment{{{"AWS_CONFIG_FILE", dir.write("config", "[default]\ncredential_process = sh " + script + "\n")},
                               {"AWS_SHARED_CREDENTIALS_FILE", (dir.path / "credentials").string()}}};
  s3::ProfileProvider provider(io.get_executor(), environment.lookup());
  auto outcome = fetch(provider);
  REQUIRE_FALSE(outcome.has_value());
  CHECK(outcome.error().code == s3::errc::credentials_failed);
  CHECK_THAT(outcome.error().message(), Contains("profile default credential_process") && Contains("more than 1 MiB"));
  CHECK_THAT(outcome.error().message(), !Contains("secret-in-huge-output"));
  CHECK(process_gone(pid_file));
}

TEST_CASE("a command's output is taken whole up to 1 MiB, and one byte more is refused", "[credentials]") {
  const auto whole = run_command("head -c 1048576 /dev/zero");
  CHECK(whole.exit_status == 0);
  CHECK(whole.out == std::string(1024 * 1024, '\0'));
  const auto over = run_command("head -c 1048577 /dev/zero");
  CHECK(over.exit_status == -1);
  CHECK(over.failure == "it printed more than 1 MiB");
}

TEST_CASE("a command past its deadline is killed and refused, whether or not its output is closed", "[credentials]") {
  TempDir dir;
  const std::string pid_file = (dir.path / "pid").string();
  // The end of its output is not the end of a command: it may close it and go on.
  const std::string hang = GENERATE(as<std::string>(), "exec sleep 3600", "exec >&-; exec sleep 3600");
  const auto output = run_command("echo $$ > " + pid_file + "; " + hang, 100ms);
  CHECK(output.exit_status == -1);
  CHECK(output.failure == "it ran longer than 100 ms and was killed");
  CHECK(process_gone(pid_file));
}

TEST_CASE("the loop runs on while a command does: a timer fires and lets it end", "[credentials]") {
  TempDir dir;
  const std::string closed_fifo = (dir.path / "closed").string();
  const std::string release_fifo = (dir.path / "release").string();
  REQUIRE(::mkfifo(closed_fifo.c_str(), 0600) == 0);
  REQUIRE(::mkfifo(release_fifo.c_str(), 0600) == 0);
  boost::asio::posix::stream_descriptor closed(io, ::open(closed_fifo.c_str(), O_RDONLY | O_NONBLOCK));
  boost::asio::steady_timer timer(io);
  bool timer_fired = false;
  // Once the command has closed its output, a timer starts: only its handler lets the command end.
  closed.async_wait(boost::asio::posix::stream_descriptor::wait_read, [&](boost::system::error_code) {
    timer.expires_after(1ms);
    timer.async_wait([&](boost::system::error_code) {
      timer_fired = true;
      std::ofstream(release_fifo) << "go\n";
    });
  });
  const auto output = run_command("echo started; exec >&-; echo closed > " + closed_fifo + "; read line < " + release_fifo);
  CHECK(timer_fired);
  CHECK(output.exit_status == 0);
  CHECK(output.out == "started\n");
}

TEST_CASE("a command's standard error goes to /dev/null, where it can hold nothing up", "[credentials]") {
  const auto output = run_command("readlink /proc/$$/fd/2");
  CHECK(output.exit_status == 0);
  CHECK(output.out == "/dev/null\n");
}

TEST_CASE("ISO-8601 times as credential sources write them", "[credentials]") {
  CHECK(s3::parse_iso8601("2024-01-13T10:00:00Z").value() == std::chrono::sys_days(std::chrono::year(2024) / 1 / 13) + 10h);
  CHECK(s3::parse_iso8601("2024-01-13T10:00:00.123Z") == s3::parse_iso8601("2024-01-13T10:00:00Z"));
  CHECK(s3::parse_iso8601("2024-01-13T10:00:00+00:00") == s3::parse_iso8601("2024-01-13T10:00:00Z"));
  CHECK_FALSE(s3::parse_iso8601("2024-02-30T10:00:00Z"));
  CHECK_FALSE(s3::parse_iso8601("2024-01-13T10:00:00+02:00"));
  CHECK_FALSE(s3::parse_iso8601("2024-01-13"));
}

TEST_CASE("STS AssumeRoleWithWebIdentity: the form, the answer, the error", "[credentials]") {
  CHECK(s3::assume_role_with_web_identity_form("arn:aws:iam::1:role/r", "s", "a.b/c=") ==
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"
        "&RoleSessionName=s&WebIdentityToken=a.b%2Fc%3D");
  auto ok = s3::parse_assume_role_answer(
      200, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA"
           "</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken><Expiration>"
           "2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
           "</AssumeRoleWithWebIdentityResponse>");
  REQUIRE(ok.has_value());
  CHECK(ok->credentials.session_token == "T");
  CHECK(ok->expiration == time_of("2030-01-01T00:00:00Z"));
  auto error = s3::parse_assume_role_answer(
      400, "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredTokenException</Code><Message>Token expired"
           "</Message></Error></ErrorResponse>");
  REQUIRE_FALSE(error.has_value());
  CHECK_THAT(error.error().message(), Contains("web identity") && Contains("ExpiredTokenException") &&
                                          Contains("Token expired"));
}

TEST_CASE("container endpoints: plain http only to loopback and the container hosts", "[credentials]") {
  auto allowed = [](std::string_view url) { return s3::container_endpoint_allowed(s3::parse_endpoint(url).value()); };
  CHECK(allowed("http://169.254.170.2"));
  CHECK(allowed("http://169.254.170.23"));
  CHECK(allowed("http://[fd00:ec2::23]"));
  CHECK(allowed("http://127.0.0.1:8080"));
  CHECK(allowed("http://localhost"));
  CHECK(allowed("https://credentials.example.com"));
  CHECK_FALSE(allowed("http://credentials.example.com"));
  CHECK_FALSE(allowed("http://10.0.0.1"));
}

TEST_CASE("refresh before expiry with jitter, usable until shortly before, retries after a failure", "[credentials]") {
  const auto now = time_of("2026-01-01T00:00:00Z");
  // An hour's credentials: refreshed 5 to 6 minutes before they expire.
  CHECK(s3::refresh_time(now, now + 1h, 0.0) == now + 55min);
  CHECK(s3::refresh_time(now, now + 1h, 0.999) > now + 54min);
  CHECK(s3::refresh_time(now, now + 1h, 0.999) < now + 55min);
  // Short-lived ones halfway.
  CHECK(s3::refresh_time(now, now + 8s, 0.5) == now + 4s);
  CHECK(s3::usable_until(now, now + 1h) == now + 1h - 10s);
  CHECK(s3::usable_until(now, now + 10s) == now + 9s);
  CHECK(s3::retry_time(now, now + 1h) == now + 1min);
  CHECK(s3::retry_time(now, now + 8s) == now + 2s);
  CHECK_FALSE(s3::retry_time(now, now + 500ms));
}

TEST_CASE("a presigned URL never outlives its credentials nor 7 days", "[credentials][presign]") {
  const auto now = time_of("2026-01-01T00:00:00Z");
  CHECK(s3::presigned_lifetime(now, 3600s, std::nullopt) == 3600s);
  CHECK(s3::presigned_lifetime(now, 3600s, now + 900s) == 900s);
  CHECK(s3::presigned_lifetime(now, 30 * 24h, std::nullopt) == 7 * 24h);
  CHECK(s3::presigned_lifetime(now, 3600s, now - 5s) == 1s);
}

TEST_CASE("the environment provider and the chain's message when no source is set up", "[credentials]") {
  FakeEnvironment environment{{{"AWS_EC2_METADATA_DISABLED", "true"}, {"HOME", "/nonexistent"}}};
  auto chain = s3::default_credentials_chain(io.get_executor(), environment.lookup(), "us-east-1", 1s);
  auto none = fetch(*chain);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == s3::errc::no_credentials);
  CHECK_THAT(none.error().message(), Contains("environment: AWS_ACCESS_KEY_ID is unset") &&
                                         Contains("web identity") && Contains("profile default") &&
                                         Contains("container credentials") && Contains("EC2 instance metadata"));

  environment.variables["AWS_SECRET_ACCESS_KEY"] = "only-the-secret";
  auto half = fetch(*s3::default_credentials_chain(io.get_executor(), environment.lookup(), "us-east-1", 1s));
  REQUIRE_FALSE(half.has_value());
  CHECK(half.error().code == s3::errc::credentials_failed);
  CHECK_THAT(half.error().message(), Contains("AWS_ACCESS_KEY_ID is not") && !Contains("only-the-secret"));

  environment.variables["AWS_ACCESS_KEY_ID"] = "AKID";
  auto found = fetch(*s3::default_credentials_chain(io.get_executor(), environment.lookup(), "us-east-1", 1s));
  REQUIRE(found.has_value());
  CHECK(found->source == "environment");

  FakeEnvironment web{{{"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}, {"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"}}};
  auto unreadable = fetch(*s3::default_credentials_chain(io.get_executor(), web.lookup(), "us-east-1", 1s));
  REQUIRE_FALSE(unreadable.has_value());
  CHECK_THAT(unreadable.error().message(), Contains("web identity") && Contains("/nonexistent/token"));
}

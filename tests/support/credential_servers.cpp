#include "tests/support/credential_servers.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace pg2s3::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using async::use_tuple;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

std::string iso8601(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// The value of `name` in an application/x-www-form-urlencoded body, decoded.
std::string form_value(std::string_view body, std::string_view name) {
  const std::string prefix = std::string(name) + "=";
  std::size_t at = 0;
  while (at < body.size()) {
    const auto end = std::min(body.find('&', at), body.size());
    const auto pair = body.substr(at, end - at);
    if (pair.starts_with(prefix)) {
      std::string decoded;
      for (std::size_t i = prefix.size(); i < pair.size(); ++i) {
        if (pair[i] == '%' && i + 2 < pair.size()) {
          decoded += static_cast<char>(std::stoi(std::string(pair.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          decoded += pair[i] == '+' ? ' ' : pair[i];
        }
      }
      return decoded;
    }
    at = end + 1;
  }
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  std::string content = text.str();
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  return content;
}

}  // namespace

struct CredentialServer::State {
  State(Kind kind, Issued issued, std::string secret)
      : kind(kind), issued(std::move(issued)), secret(std::move(secret)) {}

  asio::io_context io;  // first: destroyed last
  tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread;
  Kind kind;
  Issued issued;
  std::string secret;
  std::atomic<int> handed_out{0};
  std::atomic<int> refused{0};
  std::atomic<int> failing_status{0};
  std::mutex mutex;
  std::vector<std::string> imds_tokens;  // handed out by PUT /latest/api/token

  Response answer(unsigned version, http::status status, std::string body, std::string_view type) {
    Response response(status, version);
    response.set(http::field::content_type, type);
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
  }

  // The next credentials: the fixed keys, a numbered session token, an expiry `lifetime` ahead.
  std::tuple<std::string, std::string> next_credentials() {
    const int number = ++handed_out;
    return {issued.session_token_prefix + std::to_string(number),
            iso8601(std::chrono::system_clock::now() + issued.lifetime)};
  }

  std::string credentials_json(std::string_view token_field) {
    auto [token, expiration] = next_credentials();
    return R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")" + issued.access_key_id +
           R"(","SecretAccessKey":")" + issued.secret_access_key + R"(",")" + std::string(token_field) + R"(":")" +
           token + R"(","Expiration":")" + expiration + R"("})";
  }

  Response imds(const Request& request) {
    const unsigned version = request.version();
    if (request.method() == http::verb::put && request.target() == "/latest/api/token") {
      if (request["x-aws-ec2-metadata-token-ttl-seconds"].empty())
        return answer(version, http::status::bad_request, "", "text/plain");
      std::lock_guard lock(mutex);
      imds_tokens.push_back("imds-session-" + std::to_string(imds_tokens.size() + 1));
      return answer(version, http::status::ok, imds_tokens.back(), "text/plain");
    }
    bool known = false;
    {
      std::lock_guard lock(mutex);
      known = std::ranges::find(imds_tokens, std::string(request["x-aws-ec2-metadata-token"])) != imds_tokens.end();
    }
    if (!known) {  // IMDSv2 only: no token, no answer
      ++refused;
      return answer(version, http::status::unauthorized, "", "text/plain");
    }
    if (request.target() == "/latest/meta-data/iam/security-credentials/")
      return answer(version, http::status::ok, "pg2s3-test-role", "text/plain");
    if (request.target() != "/latest/meta-data/iam/security-credentials/pg2s3-test-role")
      return answer(version, http::status::not_found, "", "text/plain");
    if (int status = failing_status) return answer(version, static_cast<http::status>(status), "", "text/plain");
    return answer(version, http::status::ok, credentials_json("Token"), "text/plain");
  }

  Response container(const Request& request) {
    const unsigned version = request.version();
    if (request[http::field::authorization] != secret) {
      ++refused;
      return answer(version, http::status::unauthorized, R"({"message":"bad token"})", "application/json");
    }
    if (int status = failing_status) return answer(version, static_cast<http::status>(status), "{}", "application/json");
    return answer(version, http::status::ok, credentials_json("Token"), "application/json");
  }

  Response sts(const Request& request) {
    const unsigned version = request.version();
    auto error = [&](http::status status, std::string_view code, std::string_view message) {
      return answer(version, status,
                    R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>)" +
                        std::string(code) + "</Code><Message>" + std::string(message) +
                        "</Message></Error><RequestId>sts-test</RequestId></ErrorResponse>",
                    "text/xml");
    };
    const std::string& body = request.body();
    if (request.method() != http::verb::post || form_value(body, "Action") != "AssumeRoleWithWebIdentity" ||
        form_value(body, "Version") != "2011-06-15" || form_value(body, "RoleArn").empty() ||
        form_value(body, "RoleSessionName").empty())
      return error(http::status::bad_request, "InvalidParameterValue", "not an AssumeRoleWithWebIdentity request");
    if (form_value(body, "WebIdentityToken") != read_file(secret)) {
      ++refused;
      return error(http::status::bad_request, "InvalidIdentityToken", "Token is expired or invalid.");
    }
    if (int status = failing_status)
      return error(static_cast<http::status>(status), "ServiceUnavailable", "STS is not available.");
    auto [token, expiration] = next_credentials();
    return answer(version, http::status::ok,
                  R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">)"
                  "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>" + issued.access_key_id +
                      "</AccessKeyId><SecretAccessKey>" + issued.secret_access_key + "</SecretAccessKey><SessionToken>" +
                      token + "</SessionToken><Expiration>" + expiration +
                      "</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
                  "text/xml");
  }

  asio::awaitable<void> session(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      Request request;
      auto [read_error, read_bytes] = co_await http::async_read(socket, buffer, request, use_tuple);
      if (read_error) co_return;
      Response response = kind == Kind::imds ? imds(request) : kind == Kind::container ? container(request) : sts(request);
      response.keep_alive(request.keep_alive());
      auto [write_error, written] = co_await http::async_write(socket, response, use_tuple);
      if (write_error || !request.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

CredentialServer::CredentialServer(Kind kind, Issued issued, std::string secret)
    : state_(std::make_unique<State>(kind, std::move(issued), std::move(secret))) {
  asio::co_spawn(state_->io, state_->accept(), asio::detached);
  state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

CredentialServer::~CredentialServer() {
  state_->io.stop();
  state_->thread.join();
}

std::string CredentialServer::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(state_->acceptor.local_endpoint().port());
}

int CredentialServer::handed_out() const { return state_->handed_out; }
int CredentialServer::refused() const { return state_->refused; }
void CredentialServer::fail_with(int http_status) { state_->failing_status = http_status; }

}  // namespace pg2s3::test

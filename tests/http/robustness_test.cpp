// A real `pg2s3 serve` facing PostgreSQL going away and coming back, requests too large to read, clients that
// never finish a request, a thousand idle connections, and web pages trying to drive it.
#include "tests/http/api_helpers.hpp"
#include "tests/support/tcp_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <filesystem>
#include <thread>

using namespace pg2s3;
using namespace pg2s3::test;

namespace {

// A blocking loopback client socket, for requests curl will not send; reads give up after 10 s.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;

  void close_sending() { ::shutdown(fd_, SHUT_WR); }

  bool send(std::string_view bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()); }

  // Whether the server answered or closed the connection within `limit`.
  bool server_spoke_within(std::chrono::milliseconds limit) {
    pollfd watched{fd_, POLLIN, 0};
    return ::poll(&watched, 1, static_cast<int>(limit.count())) > 0;
  }

  // Everything until the server closes the connection; fails the test if it does not within 10 s.
  std::string read_until_closed() {
    std::string received;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0) return received;
      if (n < 0 && errno == ECONNRESET) return received;
      REQUIRE(n > 0);  // else the server kept the connection open for 10 s
      received.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
};

void raise_descriptor_limit() {
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  limit.rlim_cur = limit.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
}

std::size_t open_descriptors(pid_t pid) {
  const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(fds), {}));
}

std::string config_with(const std::string& server_section) {
  const std::string path = test::scratch_file("robustness.toml");
  std::ofstream(path) << "[server]\n" << server_section << "\n";
  return path;
}

}  // namespace

TEST_CASE("PostgreSQL down at start-up and at an export: 503 with the reason, then recovery by itself",
          "[api][faults]") {
  TcpRelay relay("127.0.0.1", static_cast<unsigned short>(std::stoi(service_setting("PGPORT"))));
  const std::string relayed_url = "postgresql://" + service_setting("PGUSER") + ":" + service_setting("PGPASSWORD") +
                                  "@127.0.0.1:" + std::to_string(relay.port()) + "/" + service_setting("PGDATABASE");
  relay.switch_off();
  ServerProcess server({"PG2S3_DATABASE_URL=" + relayed_url});  // starts all the same

  auto health = request("GET", server.url("/healthz"));
  check_error(health, 503, "unavailable");
  CHECK_THAT(health.body, Catch::Contains("database does not answer") && Catch::Contains("refused"));
  check_error(request("POST", server.url("/exports/users")), 503, "unavailable");
  check_error(request("GET", server.url("/exports")), 503, "unavailable");

  relay.switch_on();
  CHECK(request("GET", server.url("/healthz")).status == 200);
  const auto id = start(server, "users");
  simdjson::dom::parser parser;
  CHECK(text_of(parse(parser, statuses_until_final(server, id).back()), "status") == "COMPLETED");

  // Away and back while the server holds an idle connection to it.
  relay.switch_off();
  check_error(request("GET", server.url("/healthz")), 503, "unavailable");
  relay.switch_on();
  CHECK(request("GET", server.url("/healthz")).status == 200);
  CHECK(request("GET", server.url("/exports/" + id)).status == 200);
}

TEST_CASE("an over-long URL or too many headers: 431 with a JSON error", "[api][limits]") {
  ServerProcess server;
  {
    RawClient client(server.port());
    REQUIRE(client.send("GET /exports/" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const auto answer = client.read_until_closed();
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 431") && Catch::Contains(R"("error":"headers_too_large")"));
  }
  {
    RawClient client(server.port());
    std::string many = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
    for (int i = 0; i < 2000; ++i) many += "X-Filler-" + std::to_string(i) + ": y\r\n";
    REQUIRE(client.send(many + "\r\n"));
    const auto answer = client.read_until_closed();
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 431") && Catch::Contains(R"("error":"headers_too_large")"));
  }
  CHECK(request("GET", server.url("/healthz")).status == 200);
}

TEST_CASE("slow clients time out without holding up anybody else", "[api][limits]") {
  ServerProcess server({}, config_with("request_timeout_seconds = 1"));
  RawClient unfinished_headers(server.port());
  REQUIRE(unfinished_headers.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"));
  RawClient unfinished_body(server.port());
  REQUIRE(unfinished_body.send("POST /exports/users HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"key\":"));

  // A body that trickles in, a byte whenever the server has said nothing for 100 ms (the whole body would
  // take 100 s), until the server closes the connection: the deadline is for the whole request.
  RawClient trickle(server.port());
  REQUIRE(trickle.send("POST /exports/users HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"));
  int trickled = 0;
  std::thread trickler([&] {
    while (trickled < 1000 && !trickle.server_spoke_within(std::chrono::milliseconds(100)) && trickle.send(" "))
      ++trickled;
  });

  CHECK(request("GET", server.url("/healthz")).status == 200);  // meanwhile, others are served
  CHECK(unfinished_headers.read_until_closed().empty());
  CHECK(unfinished_body.read_until_closed().empty());
  trickler.join();
  CHECK(trickled < 1000);
  CHECK(trickle.read_until_closed().empty());
  CHECK(request("GET", server.url("/exports?limit=1")).status == 200);
}

TEST_CASE("1,000 idle connections at once do not stop /healthz answering", "[api][limits]") {
  raise_descriptor_limit();
  ServerProcess server;
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 1000; ++i) idle.push_back(std::make_unique<RawClient>(server.port()));
  CHECK(request("GET", server.url("/healthz")).status == 200);
  // Connections are accepted in arrival order, so by the time /healthz answered all 1,000 were taken.
  CHECK(open_descriptors(server.pid()) >= 1000);
  idle.clear();
  CHECK(request("GET", server.url("/metrics")).status == 200);
}

TEST_CASE("a keep-alive client that closes cleanly is sent nothing", "[api][limits]") {
  ServerProcess server;
  RawClient client(server.port());
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  CHECK_THAT(client.read_until_closed(), Catch::StartsWith("HTTP/1.1 200"));
  RawClient keep_alive(server.port());
  REQUIRE(keep_alive.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  REQUIRE(keep_alive.server_spoke_within(std::chrono::seconds(10)));
  keep_alive.close_sending();  // a clean close between requests
  const auto rest = keep_alive.read_until_closed();
  CHECK_THAT(rest, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(rest, !Catch::Contains("HTTP/1.1 400"));
}

TEST_CASE("SIGTERM while a keep-alive client waits: its connection is closed and the server exits 0",
          "[api][shutdown]") {
  ServerProcess server;
  RawClient client(server.port());
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  REQUIRE(client.server_spoke_within(std::chrono::seconds(10)));
  server.send_signal(SIGTERM);
  REQUIRE(server.wait_for_log("stopping"));
  client.send("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");  // may find the connection already closed
  client.read_until_closed();
  CHECK(server.wait_for_exit() == 0);
  CHECK_THAT(server.log(), Catch::Contains("stopped"));
}

TEST_CASE("a second SIGTERM during the drain hands running exports back at once, each cleanly", "[api][shutdown]") {
  ServerProcess server({}, slow_config(600));
  const auto id = start(server, "slow");
  wait_until_running(server, id);
  simdjson::dom::parser parser;
  const auto key = text_of(parse(parser, request("GET", server.url("/exports/" + id)).body), "s3Key");
  server.send_signal(SIGTERM);
  REQUIRE(server.wait_for_log("stopping"));
  server.send_signal(SIGTERM);
  CHECK(server.wait_for_exit() == 0);  // not after the 600 s drain
  CHECK_THAT(server.log(), Catch::Contains("second signal"));
  CHECK(test::psql("SELECT status, attempt FROM export_jobs WHERE id = '" + id + "'") == "PENDING|0\n");
  CHECK_FALSE(object_or_upload_left(key));
  ServerProcess restarted({}, slow_config());  // runs it again, to its end
  CHECK(text_of(parse(parser, statuses_until_final(restarted, id).back()), "status") == "COMPLETED");
}

TEST_CASE("hostile cursors, query strings and parameter values are 400s that change nothing", "[api][limits][params]") {
  const std::string config = test::scratch_file("hostile.toml");
  std::ofstream(config) << "[[datasets]]\nname = \"by_id\"\nquery = \"SELECT id, name FROM users WHERE id = $1\"\n"
                        << "params = [ { name = \"id\", type = \"int8\", required = true } ]\n";
  ServerProcess server({}, config);
  const std::string jobs = "SELECT count(*) FROM export_jobs", users = "SELECT count(*) FROM users";
  const auto jobs_before = test::psql(jobs);

  std::string long_cursor(10000, 'A');
  for (const std::string& cursor : {std::string("%27%20OR%201%3D1%20--"), std::string("%00"), long_cursor,
                                    std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"),
                                    std::string("%FF%FE%FD"), std::string("..%2F..%2Fetc%2Fpasswd"),
                                    std::string("eyJjcmVhdGVkIjogMX0")})
    check_error(request("GET", server.url("/exports?cursor=" + cursor)), 400, "bad_cursor");
  for (const std::string& query : {std::string("limit=1e3"), std::string("limit=%2B5"), std::string("status=PENDING%00"),
                                   std::string("since=2026-01-01T00:00:00Z%27"), std::string("until=%"),
                                   std::string("limit=99999999999999999999"), std::string("limit=1&limit=1"),
                                   std::string("since=9999-12-31T23:59:59Z")})
    check_error(request("GET", server.url("/exports?" + query)), 400, "bad_request");
  // A dataset name is data too: nothing of that name, so no job.
  auto named = request("GET", server.url("/exports?dataset=%27%3B%20DROP%20TABLE%20export_jobs%3B%20--"));
  CHECK(named.status == 200);
  CHECK_THAT(named.body, Catch::StartsWith(R"({"jobs":[],)"));

  for (const std::string& value : {std::string(R"(1'); DROP TABLE users; --)"), std::string(R"(1\u0000)"),
                                   std::string(R"(\\x31)"), std::string("1 OR 1=1"), std::string("$1"),
                                   std::string(60000, '9')}) {
    INFO(value.substr(0, 40));
    auto reply = request("POST", server.url("/exports/by_id"), R"({"params":{"id":")" + value + R"("}})");
    check_error(reply, 400, "bad_request");
    CHECK_THAT(reply.body, Catch::Contains("'id'"));
  }
  check_error(request("POST", server.url("/exports/by_id"), R"({"params":{"id":")" + std::string(70000, '1') + R"("}})"),
              413, "payload_too_large");
  CHECK(test::psql(jobs) == jobs_before);
  CHECK(test::psql(users) == "100000\n");
  CHECK(request("GET", server.url("/healthz")).status == 200);
}

TEST_CASE("web pages cannot drive the API: a foreign Origin is 403 and records nothing, a foreign Host 421",
          "[api][cross_site]") {
  ServerProcess server;
  const std::string nonce = std::to_string(std::random_device{}());
  const std::string body = R"({"key":"cross-site-)" + nonce + R"(.csv"})";
  const std::string recorded = "SELECT count(*) FROM export_jobs WHERE s3_key LIKE '%cross-site-" + nonce + "%'";
  check_error(request("POST", server.url("/exports/users"), body, "Origin: http://evil.example"), 403, "forbidden");
  check_error(request("POST", server.url("/exports/users"), body, "Origin: null"), 403, "forbidden");
  CHECK(test::psql(recorded) == "0\n");

  // DNS rebinding: the page's own name, pointed at this server.
  const std::string port = std::to_string(server.port());
  check_error(request("GET", server.url("/exports"), {}, "Host: evil.example"), 421, "misdirected_request");
  check_error(request("GET", server.url("/healthz"), {}, "Host: evil.example:" + port), 421, "misdirected_request");

  // curl sends no Origin, and a Host of the address it was given: a form body is taken as well as JSON.
  const std::string form_post =
      "curl -s -o /dev/null -w '%{http_code}' -d '" + body + "' " + server.url("/exports/users");
  CHECK(test::command_output(form_post) == "202");
  CHECK(request("GET", server.url("/exports?limit=1"), {}, "Host: localhost:" + port).status == 200);
  CHECK(test::psql(recorded) == "1\n");
}

TEST_CASE("an origin in allowed_origins and a name in hostnames are served", "[api][cross_site]") {
  ServerProcess server(
      {}, config_with("allowed_origins = [\"https://console.example\"]\nhostnames = [\"pg2s3.internal\"]"));
  const auto started = request("POST", server.url("/exports/users"), {}, "Origin: https://console.example");
  CHECK(started.status == 202);
  check_error(request("POST", server.url("/exports/users"), {}, "Origin: https://console.example.evil"), 403,
              "forbidden");
  CHECK(request("GET", server.url("/exports?limit=1"), {}, "Host: pg2s3.internal").status == 200);
  check_error(request("GET", server.url("/exports?limit=1"), {}, "Host: evil.example"), 421, "misdirected_request");
}

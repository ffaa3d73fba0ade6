// Helpers of the API tests: a real `pg2s3 serve` process, requests to it with curl, its JSON answers.
#pragma once

#include "s3/client.hpp"
#include "tests/support/services.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>

extern char** environ;

namespace pg2s3::test {

namespace asio = boost::asio;

inline const std::string users_copy_query = "SELECT id, email, name, created_at FROM users";

// `pg2s3 serve` on a free loopback port, with extra environment; stopped with SIGTERM by its pid.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> extra_environment = {}, std::string config_file = {}) {
    // The extra variables replace inherited ones of the same name (getenv takes the first it finds).
    std::vector<std::string> environment = extra_environment;
    auto overridden = [&](std::string_view variable) {
      const auto name = variable.substr(0, variable.find('=') + 1);
      return std::ranges::any_of(extra_environment, [&](const std::string& extra) { return extra.starts_with(name); });
    };
    for (char** variable = environ; *variable; ++variable)
      if (!overridden(*variable)) environment.emplace_back(*variable);
    // A random port may be taken (by another test run, or as the local end of a connection): another one then.
    for (int attempt = 0; attempt < 10; ++attempt) {
      port_ = 20000 + static_cast<int>(std::random_device{}() % 20000);
      if (launch(environment, config_file)) return;
      if (log_text_.find("Address already in use") == std::string::npos) break;
      stop();
      log_text_.clear();
    }
    FAIL("pg2s3 serve did not start: " << log_text_);
  }
  ~ServerProcess() { stop(); }

  // Sends `signal`, waits for the process to end, and returns its exit status (-1 if killed by a signal).
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    return wait_for_exit();
  }

  void send_signal(int signal) const { kill(pid_, signal); }

  // Reads the server's log until it says `text`; false if it ended first.
  bool wait_for_log(const std::string& text) {
    char line[4096];
    while (log_text_.find(text) == std::string::npos) {
      if (!std::fgets(line, sizeof line, log_)) return false;
      log_text_ += line;
    }
    return true;
  }

  // Waits for the process to end by itself; its exit status, or -1 if a signal killed it.
  int wait_for_exit() {
    if (pid_ <= 0) return -1;
    // Its stderr is read to the end (it closes when the process exits) before waiting: a server that logs
    // more than the pipe holds would otherwise block on its writes and never exit.
    char chunk[4096];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, log_)) > 0;) log_text_.append(chunk, n);
    std::fclose(log_);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Everything the server wrote to stderr (all of it once stopped).
  const std::string& log() const { return log_text_; }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  // Starts `pg2s3 serve` on port_; true once it says it listens, false if it exited first (its reason is in
  // log_text_).
  bool launch(std::vector<std::string>& environment, const std::string& config_file) {
    std::vector<std::string> arguments{PG2S3_BINARY, "serve", "--listen", "127.0.0.1:" + std::to_string(port_)};
    if (!config_file.empty()) arguments.insert(arguments.end(), {"--config", config_file});
    int log_pipe[2];
    REQUIRE(pipe(log_pipe) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, log_pipe[1], STDERR_FILENO);
    // Nothing else of this process: an inherited socket (a TcpRelay's end, say) would keep a connection
    // open that the test means to cut.
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    auto argv = pointers(arguments);
    auto envp = pointers(environment);
    REQUIRE(posix_spawn(&pid_, PG2S3_BINARY, &actions, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(log_pipe[1]);
    log_ = fdopen(log_pipe[0], "r");
    char line[4096];
    while (std::fgets(line, sizeof line, log_)) {
      log_text_ += line;
      if (log_text_.find("listening on") != std::string::npos) return true;
    }
    return false;
  }

  static std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> result;
    for (auto& s : strings) result.push_back(s.data());
    result.push_back(nullptr);
    return result;
  }
  pid_t pid_ = 0;
  int port_ = 0;
  FILE* log_ = nullptr;
  std::string log_text_;
};

struct Reply {
  int status = 0;
  std::string body;
};

// Where request() keeps every answer (method, target, status, content type, body), one JSON object a line,
// for the OpenAPI test to check each against the document.
inline std::string answers_file() { return test::scratch_file("api-answers.jsonl"); }

inline Reply request(const std::string& method, const std::string& url, const std::string& body = {},
              const std::string& header = {}) {
  const std::string body_file = test::scratch_file("request-body"), reply_file = test::scratch_file("reply-body");
  std::ofstream(body_file, std::ios::binary) << body;
  // A server that never answers fails the test (curl's exit status) rather than hanging it.
  std::string command = "curl -s --max-time 60 -o " + reply_file + " -w '%{http_code} %{content_type}' -X " + method +
                        " '" + url + "'";
  if (!body.empty()) command += " --data-binary @" + body_file + " -H 'Content-Type: application/json'";
  if (!header.empty()) command += " -H '" + header + "'";
  Reply reply;
  const std::string written = test::command_output(command);
  reply.status = std::stoi(written);
  std::ifstream file(reply_file, std::ios::binary);
  reply.body.assign(std::istreambuf_iterator<char>(file), {});
  const auto path = url.find('/', url.find("//") + 2);
  std::ofstream(answers_file(), std::ios::app)
      << boost::json::serialize(boost::json::object{{"method", method},
                                                    {"target", path == std::string::npos ? "/" : url.substr(path)},
                                                    {"status", reply.status},
                                                    {"contentType", written.substr(written.find(' ') + 1)},
                                                    {"body", reply.body}})
      << "\n";
  return reply;
}

inline simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) { return parser.parse(json); }

inline std::string text_of(simdjson::dom::element element, const char* field) {
  return std::string(std::string_view(element[field]));
}

inline void check_error(const Reply& reply, int status, const std::string& code) {
  INFO(reply.body);
  CHECK(reply.status == status);
  simdjson::dom::parser parser;
  auto json = parse(parser, reply.body);
  CHECK(text_of(json, "error") == code);
  CHECK_FALSE(text_of(json, "message").empty());
}

// Polls the job's status until it is final; returns every status seen.
inline std::vector<std::string> statuses_until_final(const ServerProcess& server, const std::string& id,
                                              const std::string& header = {}) {
  std::vector<std::string> seen;
  for (int attempt = 0; attempt < 20000; ++attempt) {
    auto reply = request("GET", server.url("/exports/" + id), {}, header);
    REQUIRE(reply.status == 200);
    seen.push_back(reply.body);
    simdjson::dom::parser parser;
    const auto status = text_of(parse(parser, reply.body), "status");
    if (status != "PENDING" && status != "RUNNING") return seen;
  }
  FAIL("job " << id << " did not end");
  return seen;
}

inline std::string start(const ServerProcess& server, const std::string& dataset, const std::string& body = {}) {
  auto reply = request("POST", server.url("/exports/" + dataset), body);
  INFO(reply.body);
  REQUIRE(reply.status == 202);
  simdjson::dom::parser parser;
  auto json = parse(parser, reply.body);
  CHECK(text_of(json, "message") == "Export started");
  const auto id = text_of(json, "jobId");
  CHECK(text_of(json, "statusUrl") == "/exports/" + id);
  return id;
}

// The [jobs] table of a test's processes: leases, heartbeats, polling and backoff short enough for a test.
inline std::string short_job_timings(int rescue_interval_ms = 200) {
  return "[jobs]\nlease_ms = 3000\nheartbeat_ms = 200\npoll_interval_ms = 200\nretry_backoff_ms = 100\n"
         "rescue_interval_ms = " + std::to_string(rescue_interval_ms) + "\n";
}

// A config file with a dataset slow enough to be caught running, the drain timeout, and the rescue interval.
inline std::string slow_config(int drain_seconds = 30, int rescue_interval_ms = 60000) {
  const std::string path = test::scratch_file("api.toml");
  std::ofstream(path) << "[server]\ndrain_timeout_seconds = " << drain_seconds << "\n"
                      << short_job_timings(rescue_interval_ms)
                      << "[[datasets]]\nname = \"users\"\nquery = \"" << users_copy_query << "\"\n"
                      << "[[datasets]]\nname = \"slow\"\nquery = \"SELECT g AS id, md5(g::text) AS hash "
                         "FROM generate_series(1, 4000000) AS g\"\n";
  return path;
}

// Polls until the job has read some rows.
inline void wait_until_running(const ServerProcess& server, const std::string& id) {
  simdjson::dom::parser parser;
  for (int attempt = 0; attempt < 20000; ++attempt) {
    auto json = parse(parser, request("GET", server.url("/exports/" + id)).body);
    if (std::int64_t(json["processedRecords"]) > 0) return;
  }
  FAIL("job " << id << " never started reading rows");
}

inline std::string object_text(const std::string& key) {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  return test::run(io, test::read_object(client, key)).value();
}

inline bool object_or_upload_left(const std::string& key) {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  const bool object = test::run(io, client.head_object(test::bucket(), key)).has_value();
  const bool upload = !test::run(io, client.list_multipart_uploads(test::bucket(), key)).value().empty();
  return object || upload;
}

}  // namespace pg2s3::test

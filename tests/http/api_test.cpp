// The control API of a real `pg2s3 serve` process, driven with curl, against the real PostgreSQL and RGW.
#include "http/routes.hpp"
#include "tests/http/api_helpers.hpp"
#include "tests/support/parquet_check.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>

using namespace pg2s3;
using namespace pg2s3::test;

TEST_CASE("POST /exports/users: progress then the presigned download equals PostgreSQL's CSV", "[api]") {
  ServerProcess server;
  const auto id = start(server, "users");
  const auto seen = statuses_until_final(server, id);

  std::int64_t last_processed = -1, last_percent = -1;
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    auto json = parse(parser, seen[i]);
    const std::int64_t processed = json["processedRecords"];
    const std::int64_t percent = json["progressPercent"];
    CHECK(processed >= last_processed);
    CHECK(percent >= last_percent);
    if (i + 1 < seen.size()) CHECK(percent <= 99);
    last_processed = processed;
    last_percent = percent;
  }
  auto final_status = parse(parser, seen.back());
  CHECK(text_of(final_status, "status") == "COMPLETED");
  CHECK(text_of(final_status, "id") == id);
  CHECK(text_of(final_status, "dataset") == "users");
  CHECK(std::int64_t(final_status["progressPercent"]) == 100);
  CHECK(std::int64_t(final_status["processedRecords"]) == 100000);
  CHECK(std::int64_t(final_status["totalRecords"]) > 0);
  CHECK(text_of(final_status, "s3Key") == "exports/" + id + ".csv");
  CHECK(final_status["errorMessage"].is_null());
  for (const char* time : {"createdAt", "startedAt", "finishedAt"})
    CHECK_THAT(text_of(final_status, time), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"));
  const std::string expected = test::psql_csv(users_copy_query);
  CHECK(std::uint64_t(final_status["bytesUploaded"]) == expected.size());

  auto link = request("GET", server.url("/exports/" + id + "/download-url"));
  REQUIRE(link.status == 200);
  auto json = parse(parser, link.body);
  CHECK_THAT(text_of(json, "expiresAt"), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"));
  CHECK(test::command_output("curl -sf '" + text_of(json, "downloadUrl") + "'") == expected);

  auto listed = request("GET", server.url("/exports?limit=1"));
  REQUIRE(listed.status == 200);
  auto jobs = parse(parser, listed.body)["jobs"].get_array();
  REQUIRE(jobs.size() == 1);
  CHECK(text_of(jobs.at(0), "id") == id);  // newest first
}

TEST_CASE("a job that wrote to a local directory has no download URL: 409, not a URL to nothing", "[api]") {
  ServerProcess server;
  REQUIRE(request("GET", server.url("/healthz")).status == 200);  // export_jobs exists
  // As `pg2s3 export --output DIR` records its job.
  const std::string id = test::psql("INSERT INTO export_jobs (id, dataset, status, s3_key, created_at, finished_at, "
                                    "local_output) VALUES (gen_random_uuid(), 'users', 'COMPLETED', '/tmp/out/users.csv', "
                                    "now(), now(), true) RETURNING id").substr(0, 36);
  auto link = request("GET", server.url("/exports/" + id + "/download-url"));
  check_error(link, 409, "conflict");
  CHECK_THAT(link.body, Catch::Contains("local directory"));
  test::psql("DELETE FROM export_jobs WHERE id = '" + id + "'");
}

TEST_CASE("a gzip export through the API downloads as gzip of the same bytes", "[api]") {
  ServerProcess server;
  const auto id = start(server, "users", R"({"compression":"gzip","key":"api/users.csv.gz"})");
  simdjson::dom::parser parser;
  auto final_status = parse(parser, statuses_until_final(server, id).back());
  CHECK(text_of(final_status, "status") == "COMPLETED");
  CHECK(text_of(final_status, "s3Key") == "exports/api/users.csv.gz");
  auto link = parse(parser, request("GET", server.url("/exports/" + id + "/download-url")).body);
  CHECK(test::command_output("curl -sf '" + text_of(link, "downloadUrl") + "' | gunzip") ==
        test::psql_csv(users_copy_query));
}

TEST_CASE("POST with parallelism and maxFileSize: files, a manifest, and a presigned URL for each", "[api][split]") {
  ServerProcess server;
  const auto id = start(server, "users", R"({"parallelism":2,"maxFileSize":"256KiB","compression":"gzip"})");
  simdjson::dom::parser parser;
  auto final_status = parse(parser, statuses_until_final(server, id).back());
  INFO(final_status);
  REQUIRE(text_of(final_status, "status") == "COMPLETED");
  CHECK(text_of(final_status, "s3Key") == "exports/" + id);
  CHECK(text_of(final_status, "manifestKey") == "exports/" + id + "/manifest.json");
  const auto files = std::int64_t(final_status["files"]);
  CHECK(files >= 2);
  auto link = parse(parser, request("GET", server.url("/exports/" + id + "/download-url")).body);
  CHECK_THAT(test::command_output("curl -sf '" + text_of(link, "downloadUrl") + "'"), Catch::Contains("\"entries\""));
  auto listed = link["files"].get_array();
  REQUIRE(static_cast<std::int64_t>(listed.size()) == files);
  std::string rows;
  for (auto file : listed) {
    CHECK(std::uint64_t(file["bytes"]) <= 256 * 1024);
    const std::string text = test::command_output("curl -sf '" + text_of(file, "url") + "' | gunzip");
    rows += text.substr(text.find('\n') + 1);
  }
  const std::string expected = test::psql_csv(users_copy_query);
  CHECK(rows == expected.substr(expected.find('\n') + 1));
}

TEST_CASE("export --parallel --max-file-size --output DIR writes the files and their manifest", "[api][split]") {
  TempDir dir;
  const std::string out = (dir.path / "users").string();
  const std::string status = test::command_output(std::string(PG2S3_BINARY) + " export users --parallel 2 " +
                                                  "--max-file-size 1MiB --output " + out + " 2>/dev/null");
  CHECK_THAT(status, Catch::Contains("\"status\":\"COMPLETED\"") && Catch::Contains("\"manifestKey\":\"" + out + "/manifest.json\""));
  const std::string rows = test::command_output("for f in " + out + "/part-*.csv; do tail -n +2 $f; done");
  const std::string expected = test::psql_csv(users_copy_query);
  CHECK(rows == expected.substr(expected.find('\n') + 1));
  CHECK_THAT(test::command_output("cat " + out + "/manifest.json"), Catch::Contains("\"totalRecords\":100000"));
}

TEST_CASE("POST /exports/users with {\"format\":\"parquet\"}: the download reads in DuckDB as PostgreSQL's table",
          "[api][parquet]") {
  ServerProcess server;
  const auto id = start(server, "users", R"({"format":"parquet"})");
  simdjson::dom::parser parser;
  auto final_status = parse(parser, statuses_until_final(server, id).back());
  INFO(final_status);
  CHECK(text_of(final_status, "status") == "COMPLETED");
  CHECK(text_of(final_status, "format") == "parquet");
  CHECK(text_of(final_status, "s3Key") == "exports/" + id + ".parquet");
  CHECK(std::int64_t(final_status["processedRecords"]) == 100000);
  auto link = parse(parser, request("GET", server.url("/exports/" + id + "/download-url")).body);
  TempDir dir;
  const std::string path = (dir.path / "users.parquet").string();
  const std::string headers = test::command_output("curl -sf -D - -o " + path + " '" + text_of(link, "downloadUrl") + "'");
  CHECK_THAT(headers, Catch::Contains("application/vnd.apache.parquet", Catch::CaseSensitive::No));
  asio::io_context io;
  CHECK(users_digest_duckdb(path) == users_digest_postgres(io));
}

TEST_CASE("an unknown format, or snappy for CSV, is refused with 400", "[api][parquet]") {
  ServerProcess server;
  for (const char* body : {R"({"format":"orc"})", R"({"format":7})", R"({"compression":"snappy"})",
                           R"({"format":"csv","compression":"snappy"})", R"({"compression":"lz4","format":"parquet"})"}) {
    const auto reply = request("POST", server.url("/exports/users"), body);
    INFO(body);
    check_error(reply, 400, "bad_request");
  }
  CHECK_THAT(request("POST", server.url("/exports/users"), R"({"compression":"snappy"})").body,
             Catch::Contains("snappy") && Catch::Contains("Parquet"));
}

TEST_CASE("every error route answers its status and a JSON error", "[api]") {
  ServerProcess server({}, slow_config());
  check_error(request("GET", server.url("/exports/not-a-uuid")), 400, "bad_request");
  check_error(request("DELETE", server.url("/exports/12345")), 400, "bad_request");
  check_error(request("POST", server.url("/exports/users"), "{not json"), 400, "bad_request");
  check_error(request("POST", server.url("/exports/users"), R"({"key": 42})"), 400, "bad_request");
  check_error(request("POST", server.url("/exports/users"), R"({"compression":"lz4"})"), 400, "bad_request");
  check_error(request("POST", server.url("/exports/users"), R"({"key":"../../etc/passwd"})"), 400, "bad_request");
  check_error(request("POST", server.url("/exports/nope")), 404, "not_found");
  check_error(request("POST", server.url("/exports/users%3B%20DROP%20TABLE%20users")), 404, "not_found");
  check_error(request("GET", server.url("/exports/123e4567-e89b-42d3-a456-426614174000")), 404, "not_found");
  check_error(request("GET", server.url("/exports/123e4567-e89b-42d3-a456-426614174000/download-url")), 404,
              "not_found");
  check_error(request("DELETE", server.url("/exports/123e4567-e89b-42d3-a456-426614174000")), 404, "not_found");
  check_error(request("GET", server.url("/nowhere")), 404, "not_found");
  check_error(request("PUT", server.url("/exports/users")), 405, "method_not_allowed");
  check_error(request("DELETE", server.url("/healthz")), 405, "method_not_allowed");
  check_error(request("GET", server.url("/exports?limit=0")), 400, "bad_request");
  check_error(request("POST", server.url("/exports/users"), std::string(100 * 1024, ' ')), 413, "payload_too_large");

  const auto running = start(server, "slow");
  check_error(request("GET", server.url("/exports/" + running + "/download-url")), 409, "conflict");
  CHECK(request("DELETE", server.url("/exports/" + running)).status == 202);
  statuses_until_final(server, running);
  check_error(request("DELETE", server.url("/exports/" + running)), 409, "conflict");
  check_error(request("GET", server.url("/exports/" + running + "/download-url")), 409, "conflict");
}

TEST_CASE("with an API token every route but /healthz wants it", "[api]") {
  ServerProcess server({"PG2S3_API_TOKEN=distinctive-api-token"});
  check_error(request("GET", server.url("/exports")), 401, "unauthorized");
  check_error(request("GET", server.url("/exports"), {}, "Authorization: Bearer wrong-token"), 401, "unauthorized");
  check_error(request("POST", server.url("/exports/users")), 401, "unauthorized");
  CHECK(request("GET", server.url("/exports"), {}, "Authorization: Bearer distinctive-api-token").status == 200);
  CHECK(request("GET", server.url("/healthz")).status == 200);
  CHECK(http::authorized("Bearer abc", "abc"));
  CHECK_FALSE(http::authorized("bearer abc", "abc"));
  CHECK_FALSE(http::authorized("Bearer abcd", "abc"));
}

TEST_CASE("DELETE mid-export: CANCELLED with no object and no open upload", "[api]") {
  ServerProcess server({}, slow_config());
  const auto id = start(server, "slow");
  wait_until_running(server, id);
  CHECK(request("DELETE", server.url("/exports/" + id)).status == 202);
  simdjson::dom::parser parser;
  auto final_status = parse(parser, statuses_until_final(server, id).back());
  CHECK(text_of(final_status, "status") == "CANCELLED");
  CHECK_FALSE(object_or_upload_left(text_of(final_status, "s3Key")));
}

TEST_CASE("a status is readable after the server restarts and health and metrics answer", "[api]") {
  std::string id, before;
  {
    ServerProcess server;
    id = start(server, "users");
    before = statuses_until_final(server, id).back();
    CHECK(request("GET", server.url("/healthz")).status == 200);
    auto metrics = request("GET", server.url("/metrics"));
    CHECK(metrics.status == 200);
    CHECK_THAT(metrics.body, Catch::Contains("pg2s3_exports_total{status=\"COMPLETED\"} 1") &&
                                 Catch::Contains("pg2s3_buffer_pool_bytes_in_use 0") &&
                                 Catch::Contains("pg2s3_exports_running 0"));
  }
  ServerProcess restarted;
  auto after = request("GET", restarted.url("/exports/" + id));
  CHECK(after.status == 200);
  CHECK(after.body == before);
}

TEST_CASE("SIGTERM lets running exports finish within the drain timeout, hands the rest back, and they run after a restart",
          "[api][shutdown]") {
  simdjson::dom::parser parser;
  std::string drained, cut_short, key;
  {
    ServerProcess server({}, slow_config(600));
    drained = start(server, "slow");
    wait_until_running(server, drained);
    CHECK(server.stop(SIGTERM) == 0);
  }
  {
    ServerProcess server({}, slow_config(0));
    cut_short = start(server, "slow");
    wait_until_running(server, cut_short);
    key = text_of(parse(parser, request("GET", server.url("/exports/" + cut_short)).body), "s3Key");
    CHECK(server.stop(SIGTERM) == 0);
    CHECK_THAT(server.log(), Catch::Contains("stopped"));
  }
  CHECK(test::psql("SELECT status, attempt FROM export_jobs WHERE id = '" + cut_short + "'") == "PENDING|0\n");
  CHECK_FALSE(object_or_upload_left(key));  // its upload was aborted when it was handed back
  ServerProcess restarted({}, slow_config());
  CHECK(text_of(parse(parser, request("GET", restarted.url("/exports/" + drained)).body), "status") == "COMPLETED");
  auto ran_again = parse(parser, statuses_until_final(restarted, cut_short).back());
  CHECK(text_of(ran_again, "status") == "COMPLETED");
  CHECK(std::int64_t(ran_again["attempt"]) == 1);  // a hand-back spends no attempt
}

TEST_CASE("after kill -9 mid-export a lone process runs the job again when it restarts, its dead upload aborted",
          "[api][shutdown]") {
  std::string id, key;
  {
    ServerProcess server({}, slow_config());
    id = start(server, "slow");
    wait_until_running(server, id);
    simdjson::dom::parser parser;
    key = text_of(parse(parser, request("GET", server.url("/exports/" + id)).body), "s3Key");
    server.stop(SIGKILL);
  }
  // The dead process's database session may outlive it for a moment: the periodic rescue catches it then.
  ServerProcess restarted({}, slow_config(30, 100));
  simdjson::dom::parser parser;
  auto final_status = parse(parser, statuses_until_final(restarted, id).back());
  CHECK(text_of(final_status, "status") == "COMPLETED");
  CHECK(std::int64_t(final_status["attempt"]) == 2);
  CHECK(final_status["errors"].get_array().size() == 1);
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  CHECK(test::run(io, client.list_multipart_uploads(test::bucket(), key)).value().empty());
}

TEST_CASE("no secret appears in logs, errors, metrics or API responses", "[api][secrets]") {
  const std::string api_token = "api-token-5f3a9c1e-distinct";
  const std::string s3_secret = "s3-secret-8b2d7e4f-distinct";
  const std::string session_token = "session-token-1c6e0a9b-distinct";
  const std::string database_password = "pg2s3-test-password";  // the test cluster's, in PG2S3_DATABASE_URL
  // (A download URL made with temporary credentials must carry X-Amz-Security-Token, as AWS's presigning
  // requires; it signs nothing without the secret key. Here the export fails, so no URL is made.)
  ServerProcess server({"PG2S3_API_TOKEN=" + api_token, "AWS_SECRET_ACCESS_KEY=" + s3_secret,
                        "AWS_SESSION_TOKEN=" + session_token});
  const std::string auth = "Authorization: Bearer " + api_token;
  std::string answered;
  auto ask = [&](const std::string& method, const std::string& path, const std::string& header) {
    auto reply = request(method, server.url(path), {}, header);
    answered += reply.body;
    return reply;
  };
  ask("GET", "/exports", "Authorization: Bearer wrong");  // 401
  auto started = ask("POST", "/exports/users", auth);     // fails at S3: the secret is wrong
  simdjson::dom::parser parser;
  const auto id = text_of(parse(parser, started.body), "jobId");
  const auto seen = statuses_until_final(server, id, auth);
  for (const auto& status : seen) answered += status;
  CHECK(text_of(parse(parser, seen.back()), "status") == "FAILED");
  CHECK_THAT(answered, Catch::Contains("SignatureDoesNotMatch") || Catch::Contains("InvalidAccessKeyId"));
  ask("GET", "/exports/" + id + "/download-url", auth);
  ask("GET", "/exports?limit=5", auth);
  ask("GET", "/metrics", auth);
  ask("GET", "/healthz", "");
  server.stop();
  // A password with a '%' that starts no escape: libpq's own parse error would quote it.
  ServerProcess unparsable({"PG2S3_DATABASE_URL=postgresql://u:Pw%zzSecret91@127.0.0.1:1/db"});
  const auto health = request("GET", unparsable.url("/healthz"));
  check_error(health, 503, "unavailable");
  answered += health.body;
  unparsable.stop();
  for (const auto& secret : {api_token, s3_secret, session_token, database_password, std::string("Secret91")}) {
    CHECK_THAT(answered, !Catch::Contains(secret));
    CHECK_THAT(server.log() + unparsable.log(), !Catch::Contains(secret));
  }
}

TEST_CASE("pg2s3 export --output - prints the same bytes and the status goes to stderr", "[cli]") {
  const std::string bytes = test::command_output(std::string(PG2S3_BINARY) + " export users --output - 2>/dev/null");
  CHECK(bytes == test::psql_csv(users_copy_query));
  const std::string status = test::command_output(std::string(PG2S3_BINARY) + " export users --output /dev/null");
  CHECK_THAT(status, Catch::Contains(R"("status":"COMPLETED")"));
  struct stat device {};
  REQUIRE(stat("/dev/null", &device) == 0);
  CHECK(S_ISCHR(device.st_mode));  // written to, never replaced by a file

}

TEST_CASE("pg2s3 export --format parquet --output FILE writes the users table DuckDB reads as PostgreSQL's", "[cli][parquet]") {
  TempDir dir;
  const std::string path = (dir.path / "users.parquet").string();
  for (const char* compression : {"", " --compression snappy"}) {
    const std::string status = test::command_output(std::string(PG2S3_BINARY) + " export users --format parquet" +
                                                    compression + " --output " + path);
    CHECK_THAT(status, Catch::Contains(R"("status":"COMPLETED")") && Catch::Contains(R"("format":"parquet")"));
    asio::io_context io;
    CHECK(users_digest_duckdb(path) == users_digest_postgres(io));
  }
  const std::string codec = duckdb_rows("SELECT DISTINCT compression FROM parquet_metadata('" + path + "')")[0][0].value();
  CHECK(codec == "SNAPPY");
}

TEST_CASE("a job id in upper case names the same job: DELETE of a running one cancels it", "[api]") {
  ServerProcess server({}, slow_config());
  const auto id = start(server, "slow");
  wait_until_running(server, id);
  std::string upper = id;
  std::ranges::transform(upper, upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  REQUIRE(upper != id);
  CHECK(request("GET", server.url("/exports/" + upper)).status == 200);
  auto cancelled = request("DELETE", server.url("/exports/" + upper));
  INFO(cancelled.body);
  CHECK(cancelled.status == 202);
  simdjson::dom::parser parser;
  CHECK(text_of(parse(parser, statuses_until_final(server, id).back()), "status") == "CANCELLED");
}

TEST_CASE("pg2s3 export --output - leaves its stdout blocking, as it found it", "[cli]") {
  int pipe_ends[2];
  REQUIRE(pipe(pipe_ends) == 0);
  REQUIRE((fcntl(pipe_ends[1], F_GETFL) & O_NONBLOCK) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::string binary = PG2S3_BINARY, command = "export", dataset = "users", output = "--output", dash = "-";
  char* argv[] = {binary.data(), command.data(), dataset.data(), output.data(), dash.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, PG2S3_BINARY, &actions, nullptr, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  std::string bytes;  // the test keeps the write end open, so the end of the export is its exit
  char chunk[65536];
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    pollfd readable{pipe_ends[0], POLLIN, 0};
    if (poll(&readable, 1, 100) > 0) bytes.append(chunk, static_cast<std::size_t>(read(pipe_ends[0], chunk, sizeof chunk)));
  }
  // The write end shares its file description with the child's stdout: its flags are what the child left.
  CHECK((fcntl(pipe_ends[1], F_GETFL) & O_NONBLOCK) == 0);
  close(pipe_ends[1]);
  for (ssize_t n; (n = read(pipe_ends[0], chunk, sizeof chunk)) > 0;) bytes.append(chunk, static_cast<std::size_t>(n));
  close(pipe_ends[0]);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(bytes == test::psql_csv(users_copy_query));
}

namespace {

// PostgreSQL's now() as the API writes times, to the microsecond: createdAt comes from it.
std::string database_now() {
  auto now = test::psql(R"(SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))");
  return now.substr(0, now.find('\n'));
}

std::vector<std::string> listed_ids(const Reply& reply, std::string* next = nullptr) {
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  simdjson::dom::parser parser;
  auto json = parse(parser, reply.body);
  std::vector<std::string> ids;
  for (auto job : json["jobs"].get_array()) ids.push_back(text_of(job, "id"));
  if (next) *next = json["next"].is_null() ? std::string() : text_of(json, "next");
  return ids;
}

}  // namespace

TEST_CASE("GET /exports pages newest first by cursor, steady while jobs are added, and filters", "[api][list]") {
  const std::string config = test::scratch_file("list.toml");
  std::ofstream(config) << "[[datasets]]\nname = \"tiny\"\nquery = \"SELECT 1 AS one\"\n";
  ServerProcess server({}, config);
  const std::string since = database_now();
  std::vector<std::string> ids;
  std::string middle;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(start(server, "tiny"));
    statuses_until_final(server, ids.back());
    if (i == 2) middle = database_now();
  }
  const std::string mine = "/exports?dataset=tiny&since=" + since;

  std::string next;
  CHECK(listed_ids(request("GET", server.url(mine + "&limit=2")), &next) == std::vector{ids[4], ids[3]});
  REQUIRE_FALSE(next.empty());
  const auto newer = start(server, "tiny");  // added between pages: the next page goes on where it was
  CHECK(listed_ids(request("GET", server.url(mine + "&limit=2&cursor=" + next)), &next) == std::vector{ids[2], ids[1]});
  CHECK(listed_ids(request("GET", server.url(mine + "&limit=2&cursor=" + next)), &next) == std::vector{ids[0]});
  CHECK(next.empty());
  statuses_until_final(server, newer);

  CHECK(listed_ids(request("GET", server.url(mine + "&until=" + middle))) == std::vector{ids[2], ids[1], ids[0]});
  CHECK(listed_ids(request("GET", server.url(mine + "&status=COMPLETED"))).size() == 6);
  CHECK(listed_ids(request("GET", server.url(mine + "&status=FAILED"))).empty());
  CHECK(listed_ids(request("GET", server.url("/exports?dataset=nothing-of-that-name"))).empty());

  check_error(request("GET", server.url("/exports?cursor=AAAA")), 400, "bad_cursor");
  listed_ids(request("GET", server.url(mine + "&limit=1")), &next);
  std::string tampered = next;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  check_error(request("GET", server.url("/exports?cursor=" + tampered)), 400, "bad_cursor");
  check_error(request("GET", server.url("/exports?cursor=%27%3B%20DROP%20TABLE%20export_jobs")), 400, "bad_cursor");
  check_error(request("GET", server.url("/exports?status=DONE")), 400, "bad_request");
  check_error(request("GET", server.url("/exports?since=2026-13-01T00:00:00Z")), 400, "bad_request");
  check_error(request("GET", server.url("/exports?limit=1001")), 400, "bad_request");
}

TEST_CASE("POST past [server] max_pending PENDING jobs: 503 at_capacity with Retry-After, nothing recorded",
          "[api][capacity]") {
  // PENDING jobs of a dataset this server does not serve: the fillers of the queue.
  test::psql("DELETE FROM export_jobs WHERE dataset = 'capacity-filler'");
  const int pending = std::stoi(test::psql("SELECT count(*) FROM export_jobs WHERE status = 'PENDING'"));
  const std::string config = test::scratch_file("capacity.toml");
  // The fillers must stay PENDING: no sweep fails them as jobs of a dataset nobody runs.
  std::ofstream(config) << "[jobs]\nunknown_dataset_after_ms = 315360000000\n"
                        << "[server]\nmax_pending = " << pending + 2 << "\n"
                        << "[[datasets]]\nname = \"tiny\"\nquery = \"SELECT 1 AS one\"\n";
  ServerProcess server({}, config);
  test::psql("INSERT INTO export_jobs (id, dataset, status, s3_key, created_at) SELECT gen_random_uuid(), "
             "'capacity-filler', 'PENDING', 'exports/filler', now() FROM generate_series(1, 2)");
  const std::string count = "SELECT count(*) FROM export_jobs";
  const auto before = test::psql(count);

  const std::string headers = test::scratch_file("capacity-headers");
  const auto status = test::command_output("curl -s -o /dev/null -D " + headers + " -w '%{http_code}' -X POST '" +
                                           server.url("/exports/tiny") + "'");
  CHECK(status == "503");
  std::ifstream header_file(headers);
  const std::string received((std::istreambuf_iterator<char>(header_file)), {});
  CHECK_THAT(received, Catch::Contains("Retry-After: 5"));
  check_error(request("POST", server.url("/exports/tiny")), 503, "at_capacity");
  check_error(request("POST", server.url("/exports/tiny"), {}, "Idempotency-Key: full-queue"), 503, "at_capacity");
  CHECK(test::psql(count) == before);

  test::psql("DELETE FROM export_jobs WHERE id = (SELECT id FROM export_jobs WHERE dataset = 'capacity-filler' LIMIT 1)");
  const auto id = start(server, "tiny");  // room again
  simdjson::dom::parser parser;
  CHECK(text_of(parse(parser, statuses_until_final(server, id).back()), "status") == "COMPLETED");
  test::psql("DELETE FROM export_jobs WHERE dataset = 'capacity-filler'");
}

namespace {

// The users table by one name, after an id: a dataset with a required and a defaulted parameter.
std::string params_config() {
  const std::string path = test::scratch_file("params.toml");
  std::ofstream(path) << "[[datasets]]\nname = \"users\"\nquery = \"" << users_copy_query << "\"\n"
                      << "[[datasets]]\nname = \"by_name\"\ndescription = \"Users of one name, after an id\"\n"
                      << "query = \"SELECT id, email, name FROM users WHERE name = $1 AND id > $2 ORDER BY id\"\n"
                      << "params = [ { name = \"name\", type = \"text\", required = true },\n"
                      << "           { name = \"after\", type = \"int8\", default = \"0\" } ]\nformat = \"parquet\"\n"
                      << "[[datasets]]\nname = \"echo\"\nquery = \"SELECT $1 AS value, octet_length($1) AS bytes, "
                      << "(SELECT count(*) FROM users) AS users\"\n"
                      << "params = [ { name = \"value\", type = \"text\", required = true } ]\n";
  return path;
}

}  // namespace

TEST_CASE("GET /datasets and /datasets/{name}: name, description, params and output defaults", "[api][datasets]") {
  ServerProcess server({}, params_config());
  simdjson::dom::parser parser;
  auto listed = request("GET", server.url("/datasets"));
  INFO(listed.body);
  REQUIRE(listed.status == 200);
  auto datasets = parse(parser, listed.body)["datasets"].get_array();
  REQUIRE(datasets.size() == 3);
  CHECK(text_of(datasets.at(0), "name") == "users");
  CHECK(datasets.at(0)["description"].is_null());
  CHECK(datasets.at(0)["params"].get_array().size() == 0);
  CHECK(text_of(datasets.at(0)["defaults"], "format") == "csv");
  CHECK(text_of(datasets.at(0)["defaults"], "compression") == "none");

  auto one = request("GET", server.url("/datasets/by_name"));
  REQUIRE(one.status == 200);
  auto by_name = parse(parser, one.body);
  CHECK(text_of(by_name, "name") == "by_name");
  CHECK(text_of(by_name, "description") == "Users of one name, after an id");
  CHECK(text_of(by_name["defaults"], "format") == "parquet");
  CHECK(text_of(by_name["defaults"], "compression") == "zstd");
  auto params = by_name["params"].get_array();
  REQUIRE(params.size() == 2);
  CHECK(text_of(params.at(0), "name") == "name");
  CHECK(text_of(params.at(0), "type") == "text");
  CHECK(bool(params.at(0)["required"]));
  CHECK(params.at(0)["default"].is_null());
  CHECK(text_of(params.at(1), "name") == "after");
  CHECK(text_of(params.at(1), "type") == "int8");
  CHECK_FALSE(bool(params.at(1)["required"]));
  CHECK(text_of(params.at(1), "default") == "0");

  check_error(request("GET", server.url("/datasets/nothing")), 404, "not_found");
  check_error(request("GET", server.url("/datasets/by_name/more")), 404, "not_found");
  check_error(request("POST", server.url("/datasets")), 405, "method_not_allowed");
  check_error(request("DELETE", server.url("/datasets/users")), 405, "method_not_allowed");
}

TEST_CASE("the built-in users dataset describes itself", "[api][datasets]") {
  ServerProcess server;
  simdjson::dom::parser parser;
  auto users = parse(parser, request("GET", server.url("/datasets/users")).body);
  CHECK(text_of(users, "name") == "users");
  CHECK_FALSE(text_of(users, "description").empty());
}

namespace {

std::string json_string(const std::string& text) { return boost::json::serialize(boost::json::value(text)); }

// What psql prints for the echo dataset's query with `value` bound by psql itself (:'v' quotes it with libpq).
std::string psql_echo(const std::string& value) {
  const std::string value_file = test::scratch_file("param-value"), script = test::scratch_file("param-echo.sql");
  std::ofstream(value_file, std::ios::binary) << value;
  std::ofstream(script) << "\\set v `cat " << value_file << "`\n"
                        << "COPY (SELECT :'v'::text AS value, octet_length(:'v'::text) AS bytes, "
                        << "(SELECT count(*) FROM users) AS users) TO STDOUT WITH (FORMAT csv, HEADER)\n";
  return test::command_output("psql -X -q -v ON_ERROR_STOP=1 -d '" + test::database_url() + "' -f " + script);
}

std::string params_config_with_room() {
  const std::string path = test::scratch_file("params-room.toml");
  std::ifstream base(params_config());
  std::ofstream(path) << "[server]\nmax_body_kib = 4096\n" << base.rdbuf();
  return path;
}

}  // namespace

TEST_CASE("dataset parameters: bound values export what PostgreSQL selects, bad ones are 400s naming them",
          "[api][params]") {
  ServerProcess server({}, params_config());
  std::string name = test::psql("SELECT name FROM users WHERE id = 42");
  name.pop_back();  // psql's newline
  const auto id = start(server, "by_name", R"({"format":"csv","params":{"name":)" + json_string(name) + R"(,"after":5}})");
  simdjson::dom::parser parser;
  auto status = parse(parser, statuses_until_final(server, id).back());
  INFO(status);
  CHECK(text_of(status, "status") == "COMPLETED");
  CHECK(text_of(status["params"], "name") == name);
  CHECK(text_of(status["params"], "after") == "5");
  CHECK(object_text(text_of(status, "s3Key")) ==
        test::psql_csv("SELECT id, email, name FROM users WHERE name = $v$" + name + "$v$ AND id > 5 ORDER BY id"));
  const auto defaulted = start(server, "by_name", R"({"format":"csv","params":{"name":"nobody"}})");
  auto defaulted_status = parse(parser, statuses_until_final(server, defaulted).back());
  CHECK(text_of(defaulted_status["params"], "after") == "0");
  CHECK(std::int64_t(defaulted_status["processedRecords"]) == 0);

  const std::string count = "SELECT count(*) FROM export_jobs";
  const auto before = test::psql(count);
  auto refused = [&](const std::string& dataset, const std::string& body, const std::string& named) {
    auto reply = request("POST", server.url("/exports/" + dataset), body);
    check_error(reply, 400, "bad_request");
    CHECK_THAT(reply.body, Catch::Contains(named));
  };
  refused("by_name", "{}", "'name' is required");
  refused("by_name", R"({"params":{"name":"a","limit":"5"}})", "'limit'");
  refused("by_name", R"({"params":{"name":"a","after":"ten"}})", "'after' is not a valid int8");
  refused("by_name", R"({"params":{"name":"a","after":"99999999999999999999"}})", "'after'");
  refused("echo", R"({"params":{"value":"a\u0000'); DROP TABLE users; --"}})", "'value' must not hold a NUL");
  refused("by_name", R"({"params":{"name":["a"]}})", "params.name must be a string");
  refused("by_name", R"({"params":"name=a"})", "must be an object");
  refused("users", R"({"params":{"name":"a"}})", "takes none");
  CHECK(test::psql(count) == before);
}

TEST_CASE("hostile parameter values are data, never SQL: the bytes equal psql's with the value bound",
          "[api][params][hostile]") {
  ServerProcess server({}, params_config_with_room());
  std::string megabyte;
  while (megabyte.size() < 1024 * 1024) megabyte += "'\\\"$1$$--/*é;DROP TABLE users;";
  const std::vector<std::string> values = {
      "it's",
      "'); DROP TABLE users; --",
      "\\'); DROP TABLE export_jobs; --",
      "E'\\\\' || $1 || $$ $tag$ \\x27",
      "\"users\" -- a comment /* and another",
      "Grüße, 東京, 😀, \u2028 zero-width\u200b",
      "line one\nline two\r\n\"quoted\",comma",
      "",
      megabyte,
  };
  simdjson::dom::parser parser;
  for (const auto& value : values) {
    INFO("value of " << value.size() << " bytes: " << value.substr(0, 60));
    const auto id = start(server, "echo", R"({"params":{"value":)" + json_string(value) + "}}");
    auto status = parse(parser, statuses_until_final(server, id).back());
    REQUIRE(text_of(status, "status") == "COMPLETED");
    CHECK(text_of(status["params"], "value") == value);
    CHECK(object_text(text_of(status, "s3Key")) == psql_echo(value));
  }
  CHECK(test::psql("SELECT count(*) FROM users") == "100000\n");
  CHECK(test::psql("SELECT to_regclass('export_jobs') IS NOT NULL") == "t\n");
}

TEST_CASE("pg2s3 export --param NAME=VALUE binds the dataset's parameters", "[cli][params]") {
  const std::string command = "PG2S3_CONFIG=" + params_config() + " " + PG2S3_BINARY + " export by_name --format csv ";
  std::string name = test::psql("SELECT name FROM users WHERE id = 42");
  name.pop_back();
  const std::string bytes = test::command_output(command + "--param 'name=" + name + "' --param after=1 --output - 2>/dev/null");
  CHECK(bytes == test::psql_csv("SELECT id, email, name FROM users WHERE name = $v$" + name + "$v$ AND id > 1 ORDER BY id"));
  CHECK(bytes.find('\n') + 1 < bytes.size());  // a row besides the header
  const std::string refused = test::command_output(command + "--param after=1 --output /dev/null 2>&1; echo \" exit $?\"");
  CHECK_THAT(refused, Catch::Contains("'name' is required") && Catch::Contains("exit 1"));
  const std::string malformed = test::command_output(command + "--param name --output /dev/null 2>&1; echo \" exit $?\"");
  CHECK_THAT(malformed, Catch::Contains("NAME=VALUE") && Catch::Contains("exit 2"));
}

TEST_CASE("SIGHUP reloads the datasets; a running export keeps its definition; a broken file changes nothing",
          "[api][reload]") {
  const std::string path = test::scratch_file("reload.toml");
  auto write_config = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  const std::string slow = "[[datasets]]\nname = \"slow\"\nquery = \"SELECT g AS id, md5(g::text) AS hash "
                           "FROM generate_series(1, 4000000) AS g\"\n";
  write_config(short_job_timings() + slow);
  ServerProcess server({}, path);
  const auto running = start(server, "slow");
  wait_until_running(server, running);

  write_config(short_job_timings() + "[[datasets]]\nname = \"slow\"\nquery = \"SELECT 1 AS id\"\n"
               "[[datasets]]\nname = \"fresh\"\ndescription = \"added by a reload\"\nquery = \"SELECT 2 AS two\"\n");
  server.send_signal(SIGHUP);
  REQUIRE(server.wait_for_log("reloaded 2 datasets"));
  simdjson::dom::parser parser;
  auto datasets = parse(parser, request("GET", server.url("/datasets")).body)["datasets"].get_array();
  REQUIRE(datasets.size() == 2);
  CHECK(text_of(datasets.at(1), "name") == "fresh");
  auto kept = parse(parser, statuses_until_final(server, running).back());
  CHECK(text_of(kept, "status") == "COMPLETED");
  CHECK(std::int64_t(kept["processedRecords"]) == 4000000);  // the definition it started with
  const auto fresh = start(server, "fresh");
  CHECK(text_of(parse(parser, statuses_until_final(server, fresh).back()), "status") == "COMPLETED");
  auto after = parse(parser, statuses_until_final(server, start(server, "slow")).back());
  CHECK(std::int64_t(after["processedRecords"]) == 1);  // the new definition

  write_config("[[datasets]]\nname = \"broken\"\nquery = ");
  server.send_signal(SIGHUP);
  REQUIRE(server.wait_for_log("keeping the datasets as they were"));
  CHECK(request("GET", server.url("/datasets/fresh")).status == 200);
  check_error(request("GET", server.url("/datasets/broken")), 404, "not_found");

  write_config(short_job_timings() + slow);
  server.send_signal(SIGHUP);
  REQUIRE(server.wait_for_log("reloaded 1 datasets"));
  CHECK(request("GET", server.url("/datasets/fresh")).status == 404);
}

// Several real `pg2s3 serve` processes sharing one export_jobs: claims, leases, rescue, cancel and hand-back.
#include "tests/http/api_helpers.hpp"
#include "tests/support/tcp_relay.hpp"

#include <set>

using namespace pg2s3;
using namespace pg2s3::test;

namespace {

// Long enough to be caught running (it pauses a quarter of a second every 50,000 rows), small enough to compare.
const std::string paused_query =
    "SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 600000) AS g "
    "WHERE g % 50000 <> 0 OR pg_sleep(0.25) IS NOT NULL";

struct FleetMember {
  int drain_seconds = 30;
  int max_running = 8;
  bool runs_paused = true;  // a process without the dataset never claims its jobs
  std::string listen_url = {};
  std::string jobs_url = {};  // [jobs] database_url: export_jobs through another connection than the data
};

// export_jobs through PgBouncer in transaction mode with one server connection, which every process's
// statements share; LISTEN on a direct session, as the README says to configure it.
FleetMember through_pooler(FleetMember member = {}) {
  member.jobs_url = service_setting("PG2S3_TEST_PGBOUNCER_URL");
  member.listen_url = test::database_url();
  return member;
}

std::string fleet_config(const std::string& name, const FleetMember& member = {}) {
  const std::string path = test::scratch_file(name + ".toml");
  std::ofstream file(path);
  file << "[server]\ndrain_timeout_seconds = " << member.drain_seconds << "\n"
       << "[export]\nmax_running = " << member.max_running << "\n"
       << short_job_timings();
  if (!member.listen_url.empty()) file << "listen_url = \"" << member.listen_url << "\"\n";
  if (!member.jobs_url.empty()) file << "database_url = \"" << member.jobs_url << "\"\n";
  file << "[[datasets]]\nname = \"users\"\nquery = \"" << users_copy_query << "\"\n"
       << "[[datasets]]\nname = \"tiny\"\nquery = \"SELECT 1 AS one\"\n";
  if (member.runs_paused) file << "[[datasets]]\nname = \"paused\"\nquery = \"" << paused_query << "\"\n";
  return path;
}

simdjson::dom::element status_of(simdjson::dom::parser& parser, const ServerProcess& server, const std::string& id) {
  return parse(parser, request("GET", server.url("/exports/" + id)).body);
}

bool runs_on(const std::string& runner, const ServerProcess& server) {
  return runner.ends_with(":" + std::to_string(server.pid()));
}

// How many exports the process ended COMPLETED, from its /metrics.
int completed_by(const ServerProcess& server) {
  const std::string metrics = request("GET", server.url("/metrics")).body;
  const std::string line = "pg2s3_exports_total{status=\"COMPLETED\"} ";
  const auto at = metrics.find(line);
  return at == std::string::npos ? 0 : std::stoi(metrics.substr(at + line.size()));
}

// The job's final status, seen from `server`, after checking it ran to COMPLETED with psql's bytes.
simdjson::dom::element completed_with_psql_bytes(simdjson::dom::parser& parser, const ServerProcess& server,
                                                 const std::string& id, const std::string& query) {
  auto final_status = parse(parser, statuses_until_final(server, id).back());
  INFO(simdjson::to_string(final_status));
  CHECK(text_of(final_status, "status") == "COMPLETED");
  const auto key = text_of(final_status, "s3Key");
  CHECK(object_text(key) == test::psql_csv(query));
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  CHECK(test::run(io, client.list_multipart_uploads(test::bucket(), key)).value().empty());
  return final_status;
}

// Two processes, and a paused export running on one of them (whichever claimed it).
struct OneOfTwoRunning {
  explicit OneOfTwoRunning(const FleetMember& member = {}) : a({}, fleet_config("a", member)), b({}, fleet_config("b", member)) {
    wait_until_running(a, id);
    simdjson::dom::parser parser;
    first_runner = text_of(status_of(parser, a, id), "runner");
    runner = runs_on(first_runner, a) ? &a : &b;
    other = runs_on(first_runner, a) ? &b : &a;
  }
  ServerProcess a, b;
  const std::string id = start(a, "paused");
  std::string first_runner;  // its "host:pid"
  ServerProcess* runner = nullptr;
  ServerProcess* other = nullptr;
};

}  // namespace

namespace {

void three_processes_share_12_exports(FleetMember one_at_a_time) {
  one_at_a_time.max_running = 1;
  ServerProcess a({}, fleet_config("a", one_at_a_time)), b({}, fleet_config("b", one_at_a_time)),
      c({}, fleet_config("c", one_at_a_time));
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(start(a, "users"));
  std::set<std::string> runners;
  simdjson::dom::parser parser;
  for (const auto& id : ids) {
    auto final_status = completed_with_psql_bytes(parser, a, id, users_copy_query);
    CHECK(std::int64_t(final_status["attempt"]) == 1);
    CHECK(final_status["errors"].get_array().size() == 0);
    runners.insert(text_of(final_status, "runner"));
  }
  CHECK(runners.size() > 1);
  CHECK(completed_by(a) + completed_by(b) + completed_by(c) == 12);  // none completed twice
}

void bookkeeping_connection_dropped_while_another_sweeps(const FleetMember& member) {
  OneOfTwoRunning fleet(member);  // both sweep every 200 ms
  // Every session but the export's COPY and this one: the runner's bookkeeping connection among them (or
  // the pooler's one server connection). The runner lives, and reconnects at its next heartbeat; its lease
  // has not expired.
  CHECK(test::psql("SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity WHERE datname = "
                   "current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND "
                   "query NOT LIKE 'COPY%'") == "t\n");
  simdjson::dom::parser parser;
  auto final_status = completed_with_psql_bytes(parser, *fleet.runner, fleet.id, paused_query);
  CHECK(std::int64_t(final_status["attempt"]) == 1);  // before: rescued at once, for its lock was free
  CHECK(final_status["errors"].get_array().size() == 0);
  CHECK(text_of(final_status, "runner") == fleet.first_runner);
}

}  // namespace

TEST_CASE("three processes share 12 exports posted to one: each completes once, with psql's bytes", "[fleet]") {
  three_processes_share_12_exports({});
}

TEST_CASE("the same through PgBouncer in transaction mode, one server connection for every process",
          "[fleet][pooler]") {
  three_processes_share_12_exports(through_pooler());
}

TEST_CASE("kill -9 of the process running an export: the job completes on another, attempt 2, the dead upload aborted",
          "[fleet]") {
  OneOfTwoRunning fleet;
  fleet.runner->stop(SIGKILL);

  simdjson::dom::parser parser;
  auto final_status = completed_with_psql_bytes(parser, *fleet.other, fleet.id, paused_query);
  CHECK(std::int64_t(final_status["attempt"]) == 2);
  CHECK(runs_on(text_of(final_status, "runner"), *fleet.other));
  auto errors = final_status["errors"].get_array();
  REQUIRE(errors.size() == 1);
  CHECK_THAT(std::string(std::string_view(errors.at(0))), Catch::Contains("attempt 1 on " + fleet.first_runner));
}

TEST_CASE("the runner's bookkeeping connection dropped while another process sweeps: the job stays with its runner",
          "[fleet]") {
  bookkeeping_connection_dropped_while_another_sweeps({});
}

TEST_CASE("through PgBouncer (one shared session, where every process \"holds\" every advisory lock), a sweeping "
          "process never takes a running job, the pooler's server connection terminated or not",
          "[fleet][pooler]") {
  bookkeeping_connection_dropped_while_another_sweeps(through_pooler());
}

TEST_CASE("through PgBouncer, kill -9 of the runner: the job completes on the other process, attempt 2",
          "[fleet][pooler]") {
  OneOfTwoRunning fleet(through_pooler());
  fleet.runner->stop(SIGKILL);
  simdjson::dom::parser parser;
  auto final_status = completed_with_psql_bytes(parser, *fleet.other, fleet.id, paused_query);
  CHECK(std::int64_t(final_status["attempt"]) == 2);
  CHECK(runs_on(text_of(final_status, "runner"), *fleet.other));
}

TEST_CASE("a runner frozen past its lease: another process takes the job; resumed, the first writes nothing",
          "[fleet]") {
  OneOfTwoRunning fleet;
  auto& frozen = *fleet.runner;
  auto& other = *fleet.other;
  const auto& id = fleet.id;
  simdjson::dom::parser parser;
  frozen.send_signal(SIGSTOP);
  bool taken = false;
  for (int poll = 0; poll < 20000 && !taken; ++poll) taken = std::int64_t(status_of(parser, other, id)["attempt"]) == 2;
  REQUIRE(taken);
  frozen.send_signal(SIGCONT);

  auto final_status = completed_with_psql_bytes(parser, other, id, paused_query);
  CHECK(std::int64_t(final_status["attempt"]) == 2);
  CHECK(runs_on(text_of(final_status, "runner"), other));
  CHECK(final_status["errors"].get_array().size() == 1);
  REQUIRE(frozen.wait_for_log("another process holds it now: stopping without writing to it"));
  CHECK(completed_by(frozen) == 0);
  CHECK(text_of(status_of(parser, other, id), "status") == "COMPLETED");  // untouched by the resumed runner
}

TEST_CASE("4 processes race for 500 small jobs: each attempt claimed once, none over its attempts", "[fleet]") {
  std::vector<std::unique_ptr<ServerProcess>> fleet;
  for (int i = 0; i < 4; ++i)
    fleet.push_back(std::make_unique<ServerProcess>(std::vector<std::string>{}, fleet_config("racer" + std::to_string(i))));
  std::string ids;
  for (int i = 0; i < 500; ++i) ids += (i ? "," : "") + std::string("'") + start(*fleet[i % 4], "tiny") + "'";
  const std::string ours = "FROM export_jobs WHERE id IN (" + ids + ")";
  bool ended = false;
  for (int poll = 0; poll < 20000 && !ended; ++poll)
    ended = test::psql("SELECT count(*) " + ours + " AND status NOT IN ('PENDING', 'RUNNING')") == "500\n";
  REQUIRE(ended);
  CHECK(test::psql("SELECT count(*) FILTER (WHERE status = 'COMPLETED'), min(attempt), max(attempt), "
                   "sum(jsonb_array_length(errors)), count(DISTINCT runner) > 1 " + ours) == "500|1|1|0|t\n");
  int completed = 0;
  for (const auto& server : fleet) completed += completed_by(*server);
  CHECK(completed == 500);  // each job ran once: no process completed one that another also ran
}

TEST_CASE("DELETE through one process stops a job running on another, by NOTIFY or else by its heartbeat",
          "[fleet]") {
  TcpRelay relay("127.0.0.1", static_cast<unsigned short>(std::stoi(service_setting("PGPORT"))));
  FleetMember runner_member;  // LISTENs through the relay; everything else goes straight to PostgreSQL
  runner_member.listen_url = "postgresql://" + service_setting("PGUSER") + ":" + service_setting("PGPASSWORD") +
                             "@127.0.0.1:" + std::to_string(relay.port()) + "/" + service_setting("PGDATABASE");
  FleetMember asker_member;
  asker_member.runs_paused = false;  // so the runner is the one that runs them
  ServerProcess runner({}, fleet_config("runner", runner_member)), asker({}, fleet_config("asker", asker_member));
  simdjson::dom::parser parser;
  auto cancel_through_asker = [&] {
    const auto id = start(runner, "paused");
    wait_until_running(runner, id);
    CHECK(runs_on(text_of(status_of(parser, asker, id), "runner"), runner));
    CHECK(request("DELETE", asker.url("/exports/" + id)).status == 202);
    auto final_status = parse(parser, statuses_until_final(asker, id).back());
    CHECK(text_of(final_status, "status") == "CANCELLED");
    CHECK_FALSE(object_or_upload_left(text_of(final_status, "s3Key")));
  };
  cancel_through_asker();  // the runner hears the NOTIFY
  relay.switch_off();      // its LISTEN connection is cut, and cannot be made again
  REQUIRE(runner.wait_for_log("listening for jobs:"));
  cancel_through_asker();  // the notification is lost: the heartbeat carries the cancel
}

TEST_CASE("SIGTERM with a 1 s drain: the job goes back PENDING and completes on another process, its attempt unspent",
          "[fleet][shutdown]") {
  FleetMember quick_to_leave;
  quick_to_leave.drain_seconds = 1;
  ServerProcess leaving({}, fleet_config("leaving", quick_to_leave));
  const auto id = start(leaving, "paused");
  wait_until_running(leaving, id);
  ServerProcess staying({}, fleet_config("staying"));
  CHECK(leaving.stop(SIGTERM) == 0);

  simdjson::dom::parser parser;
  auto final_status = completed_with_psql_bytes(parser, staying, id, paused_query);
  CHECK(std::int64_t(final_status["attempt"]) == 1);
  CHECK(final_status["errors"].get_array().size() == 0);
  CHECK(runs_on(text_of(final_status, "runner"), staying));
}

TEST_CASE("an Idempotency-Key makes a repeated POST return the same job; another request under it is 409", "[fleet]") {
  ServerProcess server({}, fleet_config("idempotent"));
  const std::string key = "Idempotency-Key: nightly-users-" + std::to_string(std::random_device{}());
  auto first = request("POST", server.url("/exports/users"), {}, key);
  auto again = request("POST", server.url("/exports/users"), {}, key);
  REQUIRE(first.status == 202);
  CHECK(again.status == 202);
  simdjson::dom::parser parser;
  const auto id = text_of(parse(parser, first.body), "jobId");
  CHECK(text_of(parse(parser, again.body), "jobId") == id);
  check_error(request("POST", server.url("/exports/users"), R"({"compression":"gzip"})", key), 409, "conflict");
  check_error(request("POST", server.url("/exports/users"), {}, "Idempotency-Key: " + std::string(300, 'k')), 400,
              "bad_request");
  CHECK(text_of(parse(parser, statuses_until_final(server, id).back()), "status") == "COMPLETED");
  CHECK(test::psql("SELECT count(*) FROM export_jobs WHERE idempotency_key = '" + key.substr(17) + "'") == "1\n");
}

TEST_CASE("a job recorded elsewhere runs with its recorded params in the process that claims it", "[fleet][params]") {
  // Recorded as another process records a job (here by psql), with parameter values that are data only.
  const std::string id = test::psql("SELECT gen_random_uuid()").substr(0, 36);
  const std::string hostile = R"(it's '); DROP TABLE users; -- \ $$)";
  test::psql("INSERT INTO export_jobs (id, dataset, status, s3_key, created_at, params) VALUES ('" + id +
             "', 'echo_fleet', 'PENDING', 'exports/" + id + ".csv', now(), jsonb_build_object('value', $v$" +
             hostile + "$v$))");
  const std::string config = test::scratch_file("fleet-params.toml");
  std::ofstream(config) << short_job_timings() << "[[datasets]]\nname = \"echo_fleet\"\n"
                        << "query = \"SELECT $1 AS value, octet_length($1) AS bytes\"\n"
                        << "params = [ { name = \"value\", type = \"text\", required = true } ]\n";
  ServerProcess runner({}, config);
  simdjson::dom::parser parser;
  auto status = parse(parser, statuses_until_final(runner, id).back());
  INFO(status);
  CHECK(text_of(status, "status") == "COMPLETED");
  CHECK(text_of(status["params"], "value") == hostile);
  CHECK_THAT(text_of(status, "runner"), Catch::EndsWith(":" + std::to_string(runner.pid())));
  CHECK(object_text("exports/" + id + ".csv") ==
        test::psql("COPY (SELECT $v$" + hostile + "$v$::text AS value, octet_length($v$" + hostile +
                   "$v$::text) AS bytes) TO STDOUT WITH (FORMAT csv, HEADER)"));
  CHECK(test::psql("SELECT count(*) FROM users") == "100000\n");
}

TEST_CASE("a PENDING job of a dataset no process has configured for the grace period fails, saying so", "[fleet]") {
  ServerProcess server({}, fleet_config("knows-users"));  // its store makes the tables; its sweep runs every 200 ms
  REQUIRE(request("GET", server.url("/healthz")).status == 200);
  const std::string tag = "unknown_" + std::to_string(std::random_device{}());
  // Three jobs recorded as another process records them: one of a dataset nobody has had for two hours,
  // one as old of a dataset another process said it has a minute ago, one of the unknown dataset just now.
  auto record = [&](const std::string& dataset, const std::string& age) {
    return test::psql("INSERT INTO export_jobs (id, dataset, status, s3_key, created_at) VALUES (gen_random_uuid(), '" +
                      dataset + "', 'PENDING', 'exports/" + tag + "', now() - interval '" + age + "') RETURNING id")
        .substr(0, 36);
  };
  test::psql("INSERT INTO export_datasets VALUES ('" + tag + "_elsewhere', now() - interval '1 minute')");
  const auto forgotten = record(tag + "_gone", "2 hours");
  const auto elsewhere = record(tag + "_elsewhere", "2 hours");
  const auto recent = record(tag + "_gone", "1 second");

  simdjson::dom::parser parser;
  auto final_status = parse(parser, statuses_until_final(server, forgotten).back());
  CHECK(text_of(final_status, "status") == "FAILED");
  CHECK_THAT(text_of(final_status, "errorMessage"),
             Catch::Contains("no running process has dataset " + tag + "_gone in its configuration, and none has had it "
                             "for 600 s"));
  CHECK(test::psql("SELECT string_agg(status, ',' ORDER BY id = '" + elsewhere + "' DESC) FROM export_jobs WHERE id IN ('" +
                   elsewhere + "', '" + recent + "')") == "PENDING,PENDING\n");
  CHECK(test::psql("SELECT count(*) FROM export_datasets WHERE dataset IN ('users', 'paused') AND "
                   "known_at > now() - interval '1 minute'") == "2\n");
  test::psql("DELETE FROM export_jobs WHERE s3_key = 'exports/" + tag + "'; DELETE FROM export_datasets WHERE "
             "dataset LIKE '" + tag + "%'");
}

TEST_CASE("the job database gone silent: /healthz says so within seconds, and the process recovers by itself",
          "[fleet][faults]") {
  TcpRelay relay("127.0.0.1", static_cast<unsigned short>(std::stoi(service_setting("PGPORT"))));
  const std::string relayed_url = "postgresql://" + service_setting("PGUSER") + ":" + service_setting("PGPASSWORD") +
                                  "@127.0.0.1:" + std::to_string(relay.port()) + "/" + service_setting("PGDATABASE");
  ServerProcess server({"PG2S3_DATABASE_URL=" + relayed_url}, fleet_config("silent"));
  REQUIRE(request("GET", server.url("/healthz")).status == 200);

  relay.stall();  // no reset, no FIN: the bookkeeping connection's next statement gets no answer at all
  auto health = request("GET", server.url("/healthz"));  // before statement deadlines: no answer for minutes
  check_error(health, 503, "unavailable");
  CHECK_THAT(health.body, Catch::Contains("database does not answer"));
  CHECK(request("GET", server.url("/metrics")).status == 200);  // and the process goes on serving

  relay.resume();
  int answered = 0;
  for (int attempt = 0; attempt < 100 && answered != 200; ++attempt) answered = request("GET", server.url("/healthz")).status;
  CHECK(answered == 200);
  simdjson::dom::parser parser;
  completed_with_psql_bytes(parser, server, start(server, "users"), users_copy_query);
}

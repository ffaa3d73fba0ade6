// A seeded chaos run: three `pg2s3 serve` processes sharing the job database through one TcpRelay and S3
// through one S3FaultProxy, exports of every kind posted at random moments to random processes while
// processes are killed and frozen, the database stalls and S3 fails at random; then, every fault off, each
// job is checked against PostgreSQL's own output. PG2S3_CHAOS_SEED replays a run, PG2S3_CHAOS_SECONDS
// lengthens it.
#include "engine/detail/manifest.hpp"
#include "tests/http/api_helpers.hpp"
#include "tests/support/parquet_check.hpp"
#include "tests/support/s3_fault_proxy.hpp"
#include "tests/support/tcp_relay.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

using namespace pg2s3;
using namespace pg2s3::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int process_count = 3;
constexpr auto fault_length = std::chrono::seconds(4);  // past a 3 s lease
constexpr double s3_failure_probability = 0.05;
constexpr auto settle_limit = std::chrono::minutes(3);
constexpr auto sweep_limit = std::chrono::minutes(1);

std::uint64_t setting_or(const char* name, std::uint64_t otherwise) {
  const char* value = std::getenv(name);
  return value && *value ? std::stoull(value) : otherwise;
}

// This run's datasets: its name tags its jobs in export_jobs, apart from those of other runs and tests.
const std::string run_tag = "chaos" + std::to_string(getpid());
const std::string query_dataset = run_tag + "_query";
const std::string table_dataset = run_tag + "_table";

std::string chaos_config(const std::string& name) {
  const std::string path = test::scratch_file(name + ".toml");
  std::ofstream(path) << "[server]\ndrain_timeout_seconds = 5\n"
                      << short_job_timings() << "max_attempts = 5\nstatement_timeout_ms = 1000\n"
                      << "[[datasets]]\nname = \"" << query_dataset << "\"\nquery = \"" << users_copy_query << "\"\n"
                      << "[[datasets]]\nname = \"" << table_dataset << "\"\ntable = \"users\"\n"
                      << "columns = [\"id\", \"email\", \"name\", \"created_at\"]\n";
  return path;
}

// The kinds of export the run posts: every one's rows are the users table's.
struct ExportKind {
  const std::string* dataset;
  std::string body;
};
const std::vector<ExportKind> export_kinds = {
    {&query_dataset, ""},
    {&query_dataset, R"({"compression":"gzip"})"},
    {&query_dataset, R"({"compression":"zstd"})"},
    {&query_dataset, R"({"format":"parquet"})"},
    {&table_dataset, R"({"parallelism":2})"},
    {&table_dataset, R"({"maxFileSize":"1MiB"})"},
    {&table_dataset, R"({"maxFileSize":"1MiB","compression":"gzip"})"},
};

// Records every transition of this run's jobs to COMPLETED, to find a job that completed twice.
struct CompletionLog {
  const std::string table = run_tag + "_completions";
  CompletionLog() {
    test::psql("SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS " + table +
               " (job_id uuid, runner text, at timestamptz DEFAULT clock_timestamp());\n"
               "CREATE OR REPLACE FUNCTION " + table + "_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "INSERT INTO " + table + " (job_id, runner) VALUES (NEW.id, NEW.runner); RETURN NEW; END $$;\n"
               "CREATE TRIGGER " + table + " AFTER UPDATE OF status ON export_jobs FOR EACH ROW WHEN "
               "(NEW.status = 'COMPLETED' AND OLD.status IS DISTINCT FROM 'COMPLETED' AND NEW.dataset LIKE '" +
               run_tag + "\\_%') EXECUTE FUNCTION " + table + "_record();");
  }
  ~CompletionLog() {
    test::psql("DROP TRIGGER IF EXISTS " + table + " ON export_jobs; DROP FUNCTION IF EXISTS " + table +
               "_record(); DROP TABLE IF EXISTS " + table);
  }
  std::string completed_more_than_once() const {
    return test::psql("SELECT job_id, count(*), string_agg(runner, ', ') FROM " + table +
                      " GROUP BY job_id HAVING count(*) > 1");
  }
};

struct FaultCounts {
  int kills = 0, freezes = 0, stalls = 0, cancels = 0, posts = 0, posts_refused = 0;
};

// The three processes and the faults between them and the services, driven by the seeded generator.
class Fleet {
 public:
  explicit Fleet(std::uint64_t seed) : random_(seed) {
    s3_.fail_at_random(s3_failure_probability, static_cast<unsigned>(seed));
    for (int i = 0; i < process_count; ++i) processes_.push_back(start_process(i));
    // Its answer needs export_jobs, which the process's store creates on a database that has none yet.
    REQUIRE(request("GET", processes_.front()->url("/healthz")).status == 200);
  }

  // One random step: mostly a POST, now and then a fault or a cancel.
  void step() {
    end_faults_due(Clock::now());
    switch (std::discrete_distribution<int>({10, 1, 1, 1, 1})(random_)) {
      case 0: post(); break;
      case 1: kill_and_restart(); break;
      case 2: freeze(); break;
      case 3: stall_database(); break;
      default: cancel(); break;
    }
  }

  std::chrono::milliseconds pause() { return std::chrono::milliseconds(std::uniform_int_distribution(200, 1200)(random_)); }

  void end_faults() {
    s3_.fail_at_random(0, 0);
    end_faults_due(Clock::time_point::max());
  }

  // Stops every process and returns what each process of the run wrote, the killed ones' included.
  std::string stop_and_collect_logs() {
    for (int i = 0; i < process_count; ++i) retire(i, SIGTERM);
    return logs_;
  }

  const FaultCounts& counts() const { return counts_; }
  const S3FaultProxy& s3() const { return s3_; }
  const std::vector<std::string>& posted() const { return posted_; }

 private:
  std::unique_ptr<ServerProcess> start_process(int index) {
    const std::string relayed_url = "postgresql://" + service_setting("PGUSER") + ":" + service_setting("PGPASSWORD") +
                                    "@127.0.0.1:" + std::to_string(database_.port()) + "/" +
                                    service_setting("PGDATABASE");
    return std::make_unique<ServerProcess>(
        std::vector<std::string>{"PG2S3_DATABASE_URL=" + relayed_url, "PG2S3_S3_ENDPOINT=" + s3_.endpoint()},
        chaos_config("chaos-" + std::to_string(index)));
  }

  int any_process() { return std::uniform_int_distribution(0, process_count - 1)(random_); }

  // A process that answers: not the frozen one.
  ServerProcess& answering_process() {
    int index = any_process();
    if (index == frozen_) index = (index + 1) % process_count;
    return *processes_[static_cast<std::size_t>(index)];
  }

  void post() {
    const auto& kind = export_kinds[std::uniform_int_distribution<std::size_t>(0, export_kinds.size() - 1)(random_)];
    auto reply = request("POST", answering_process().url("/exports/" + *kind.dataset), kind.body);
    ++counts_.posts;
    if (reply.status == 503) {  // the database stalled: refused, nothing recorded
      ++counts_.posts_refused;
      return;
    }
    INFO(reply.body);
    REQUIRE(reply.status == 202);
    simdjson::dom::parser parser;
    posted_.push_back(text_of(parse(parser, reply.body), "jobId"));
  }

  void cancel() {
    if (posted_.empty()) return;
    // One of the last few posted, which may still run: in a long run almost every earlier one has ended.
    const std::size_t recent = std::min<std::size_t>(posted_.size(), 4);
    const auto& id = posted_[posted_.size() - 1 - std::uniform_int_distribution<std::size_t>(0, recent - 1)(random_)];
    const int status = request("DELETE", answering_process().url("/exports/" + id)).status;
    CHECK((status == 202 || status == 409 || status == 503));  // 409: already ended; 503: the database stalled
    counts_.cancels += status == 202;
  }

  void kill_and_restart() {
    const int index = any_process();
    retire(index, SIGKILL);
    if (index == frozen_) frozen_ = -1;
    processes_[static_cast<std::size_t>(index)] = start_process(index);
    ++counts_.kills;
  }

  void retire(int index, int signal) {
    auto& process = *processes_[static_cast<std::size_t>(index)];
    const pid_t pid = process.pid();
    if (index == frozen_) process.send_signal(SIGCONT);  // so that SIGTERM is heard
    process.stop(signal);
    logs_ += "== process " + std::to_string(index) + ", pid " + std::to_string(pid) + ", stopped by signal " +
             std::to_string(signal) + "\n" + process.log();
  }

  void freeze() {
    if (frozen_ >= 0) return;
    frozen_ = any_process();
    processes_[static_cast<std::size_t>(frozen_)]->send_signal(SIGSTOP);
    thaw_at_ = Clock::now() + fault_length;
    ++counts_.freezes;
  }

  void stall_database() {
    if (stalled_) return;
    database_.stall();
    stalled_ = true;
    resume_at_ = Clock::now() + fault_length;
    ++counts_.stalls;
  }

  void end_faults_due(Clock::time_point now) {
    if (frozen_ >= 0 && thaw_at_ <= now) {
      processes_[static_cast<std::size_t>(frozen_)]->send_signal(SIGCONT);
      frozen_ = -1;
    }
    if (stalled_ && resume_at_ <= now) {
      database_.resume();
      stalled_ = false;
    }
  }

  std::mt19937_64 random_;
  TcpRelay database_{"127.0.0.1", static_cast<unsigned short>(std::stoi(service_setting("PGPORT")))};
  S3FaultProxy s3_{service_setting("PG2S3_S3_ENDPOINT")};
  std::vector<std::unique_ptr<ServerProcess>> processes_;
  int frozen_ = -1;
  Clock::time_point thaw_at_;
  bool stalled_ = false;
  Clock::time_point resume_at_;
  FaultCounts counts_;
  std::vector<std::string> posted_;
  std::string logs_;
};

// A job of the run as export_jobs ended it.
struct EndedJob {
  std::string id, status, key, manifest_key, format, compression;
  int attempt = 0;
  std::string errors;  // why earlier attempts ended, and the last one's error
  std::string describe() const {
    return "job " + id + " (" + status + ", attempt " + std::to_string(attempt) + ", " + format + ", " + compression +
           (manifest_key.empty() ? "" : ", split") + ", key " + key + "): " + errors;
  }
};

const std::string run_jobs = "FROM export_jobs WHERE dataset LIKE '" + run_tag + "\\_%'";

std::vector<EndedJob> ended_jobs() {
  std::vector<EndedJob> jobs;
  std::istringstream rows(test::psql("SELECT id, status, s3_key, coalesce(manifest_key, ''), format, compression, "
                                     "attempt, errors || jsonb_build_array(error_message) " + run_jobs +
                                     " ORDER BY created_at"));
  for (std::string line; std::getline(rows, line);) {
    std::vector<std::string> fields;
    std::istringstream columns(line);
    for (std::string field; fields.size() < 7 && std::getline(columns, field, '|');) fields.push_back(field);
    REQUIRE(fields.size() == 7);
    std::string errors;
    std::getline(columns, errors);  // the rest of the line: it may hold '|'
    jobs.push_back({fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], std::stoi(fields[6]), errors});
  }
  return jobs;
}

// Waits, bounded, until no job of the run is PENDING or RUNNING.
void wait_until_every_job_ended() {
  const auto limit = Clock::now() + settle_limit;
  std::string open;
  while (Clock::now() < limit) {
    open = test::psql("SELECT id, status, attempt, runner, lease_expires_at " + run_jobs +
                      " AND status IN ('PENDING', 'RUNNING')");
    if (open.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  FAIL("jobs still open " << std::chrono::duration_cast<std::chrono::seconds>(settle_limit).count()
                          << " s after every fault ended (id|status|attempt|runner|lease):\n" << open);
}

// Where two texts part, or nothing when they are equal (the texts themselves are megabytes).
std::string difference(const std::string& actual, const std::string& expected) {
  if (actual == expected) return {};
  const auto at = std::ranges::mismatch(actual, expected).in1 - actual.begin();
  return std::to_string(actual.size()) + " bytes where PostgreSQL's COPY has " + std::to_string(expected.size()) +
         ", first different at byte " + std::to_string(at) + ": \"" + actual.substr(static_cast<std::size_t>(at), 80) +
         "\" where COPY has \"" + expected.substr(static_cast<std::size_t>(at), 80) + "\"";
}

class Checker {
 public:
  Checker() : client_(s3::Client::create(io_.get_executor(), test::rgw_config()).value()) {}

  void completed(const EndedJob& job) {
    if (!job.manifest_key.empty()) return completed_split(job);
    const std::string bytes = object(job.key);
    if (job.format == "parquet") {
      const std::string path = scratch_file("chaos.parquet");
      std::ofstream(path, std::ios::binary) << bytes;
      CHECK(users_digest_duckdb(path) == users_digest_postgres(io_));
      return;
    }
    CHECK(difference(plain(bytes, job.compression), expected_) == "");
  }

  // FAILED or CANCELLED: nothing at its key, nothing under its prefix.
  void left_nothing(const EndedJob& job) {
    CHECK_FALSE(test::run(io_, client_.head_object(bucket(), job.key)).has_value());
    CHECK(keys_under(job.key) == std::set<std::string>{});
  }

  // Open multipart uploads under the job's key; the sweep gets a bounded time to abort what a failure left.
  std::string open_uploads(const EndedJob& job) {
    const auto limit = Clock::now() + sweep_limit;
    for (;;) {
      auto uploads = test::run(io_, client_.list_multipart_uploads(bucket(), job.key)).value();
      if (uploads.empty() || Clock::now() > limit) return std::to_string(uploads.size()) + " open";
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  void remove_objects(const EndedJob& job) {
    for (const auto& key : keys_under(job.key)) test::run(io_, client_.delete_object(bucket(), key)).value();
  }

 private:
  void completed_split(const EndedJob& job) {
    auto files = engine::detail::manifest_files(object(job.manifest_key), bucket());
    REQUIRE(files);
    std::set<std::string> expected_keys{job.manifest_key};
    std::string rows;
    const std::string header = expected_.substr(0, expected_.find('\n') + 1);
    for (const auto& file : *files) {
      expected_keys.insert(file.key);
      const std::string text = plain(object(file.key), job.compression);
      CHECK(text.starts_with(header));
      rows += text.substr(std::min(header.size(), text.size()));
    }
    CHECK(difference(header + rows, expected_) == "");
    CHECK(keys_under(job.key + "/") == expected_keys);
  }

  std::string object(const std::string& key) {
    auto bytes = test::run(io_, test::read_object(client_, key));
    INFO("reading " << key << ": " << (bytes ? std::string() : bytes.error().message()));
    REQUIRE(bytes.has_value());
    return *bytes;
  }

  std::string plain(const std::string& bytes, const std::string& compression) {
    if (compression == "none") return bytes;
    const std::string file = scratch_file("chaos-object");
    std::ofstream(file, std::ios::binary) << bytes;
    return command_output((compression == "gzip" ? "gunzip < " : "zstd -d < ") + file);
  }

  std::set<std::string> keys_under(const std::string& prefix) {
    std::set<std::string> keys;
    for (const auto& object : test::run(io_, client_.list_objects(bucket(), prefix)).value()) keys.insert(object.key);
    return keys;
  }

  asio::io_context io_;
  s3::Client client_;
  const std::string expected_ = test::psql_csv(users_copy_query);
};

void print_summary(std::uint64_t seed, const std::vector<EndedJob>& jobs, const Fleet& fleet, Clock::duration took) {
  std::map<std::string, int> by_status;
  std::map<int, int> by_attempt;
  for (const auto& job : jobs) ++by_status[job.status], ++by_attempt[job.attempt];
  const auto& counts = fleet.counts();
  const auto s3 = fleet.s3().random_faults();
  std::cout << "chaos summary (seed " << seed << ", "
            << std::chrono::duration_cast<std::chrono::seconds>(took).count() << " s): " << jobs.size() << " jobs:";
  for (const auto& [status, count] : by_status) std::cout << " " << status << " " << count;
  std::cout << "\n  attempts used:";
  for (const auto& [attempt, count] : by_attempt) std::cout << " " << attempt << ":" << count;
  std::cout << "\n  faults: kill -9 " << counts.kills << ", SIGSTOP " << counts.freezes << ", database stalls "
            << counts.stalls << ", cancels " << counts.cancels << ", POSTs refused " << counts.posts_refused << " of "
            << counts.posts << ", S3: 503 " << s3.slow_downs << ", 502 " << s3.bad_gateways << ", 500 "
            << s3.internal_errors << ", dropped " << s3.dropped << "\n";
  // Not a failure: an attempt whose ending the database could not record before its lease ran out is run
  // again, and completes its object again (with the same rows).
  std::cout << "  objects completed by more than one upload:";
  for (const auto& [path, uploads] : fleet.s3().completed_uploads())
    if (uploads.size() > 1) std::cout << " " << path << " (" << uploads.size() << ")";
  std::cout << std::endl;
}

}  // namespace

TEST_CASE("chaos: killed, frozen and cut-off processes, S3 failing at random; every job ends right, once",
          "[chaos]") {
  const std::uint64_t seed = setting_or("PG2S3_CHAOS_SEED", std::random_device{}());
  std::cout << "chaos seed: " << seed << std::endl;
  INFO("chaos seed: " << seed << " (PG2S3_CHAOS_SEED=" << seed << " replays it)");
  const auto started = Clock::now();
  const auto chaos_ends = started + std::chrono::seconds(setting_or("PG2S3_CHAOS_SECONDS", 40));
  Fleet fleet(seed);
  CompletionLog completions;  // a trigger on export_jobs: after the fleet has made sure it exists
  while (Clock::now() < chaos_ends) {
    fleet.step();
    std::this_thread::sleep_for(fleet.pause());  // the chaos's own pace, not a wait for anything
  }
  fleet.end_faults();
  wait_until_every_job_ended();

  const auto jobs = ended_jobs();
  CHECK(jobs.size() >= fleet.posted().size());
  Checker checker;
  for (const auto& job : jobs) {
    INFO(job.describe());
    if (job.status == "COMPLETED") checker.completed(job);
    else if (job.status == "FAILED" || job.status == "CANCELLED") checker.left_nothing(job);
    else FAIL("not final");
    CHECK(checker.open_uploads(job) == "0 open");
  }
  CHECK(completions.completed_more_than_once() == "");
  print_summary(seed, jobs, fleet, Clock::now() - started);
  const auto log_file = std::filesystem::temp_directory_path() / ("pg2s3-chaos-" + std::to_string(seed) + ".log");
  std::ofstream(log_file) << fleet.stop_and_collect_logs();
  std::cout << "  the processes' logs: " << log_file.string() << std::endl;
  for (const auto& job : jobs) checker.remove_objects(job);
}

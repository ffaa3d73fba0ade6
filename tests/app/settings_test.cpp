// The config file's schema: every key known, in its table, of its type; and the S3 settings' sources.
#include "app/serve_command.hpp"
#include "app/settings.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>

using namespace pg2s3;
using Catch::Contains;

namespace {

struct ConfigFile {
  std::string path = "/tmp/pg2s3-settings-" + std::to_string(std::random_device{}()) + ".toml";
  explicit ConfigFile(const std::string& text) { std::ofstream(path) << text; }
  ~ConfigFile() { std::remove(path.c_str()); }
};

std::map<std::string, std::string> variables;
app::Environment environment = [](const char* name) -> std::optional<std::string> {
  auto it = variables.find(name);
  if (it == variables.end()) return std::nullopt;
  return it->second;
};

std::string refusal(const std::string& text) {
  ConfigFile file(text);
  auto loaded = app::load_settings({file.path, ""}, environment);
  REQUIRE(std::holds_alternative<std::string>(loaded));
  const auto reason = std::get<std::string>(loaded);
  CHECK_THAT(reason, Catch::StartsWith("config file " + file.path));
  return reason;
}

app::Settings loaded(const std::string& text) {
  ConfigFile file(text);
  auto settings = app::load_settings({file.path, ""}, environment);
  if (auto* reason = std::get_if<std::string>(&settings)) FAIL(*reason);
  return std::get<app::Settings>(settings);
}

}  // namespace

TEST_CASE("an unknown key, a misplaced key or a mistyped value is refused, naming file, line and key", "[settings]") {
  variables = {{"HOME", "/nonexistent"}};
  CHECK_THAT(refusal("[export]\npart_size_mb = 8\n"), Contains("line 2: unknown key export.part_size_mb"));
  CHECK_THAT(refusal("[export]\npart_size_mib = \"8\"\n"),
             Contains("line 2: export.part_size_mib must be at least 5 (a whole number)"));
  CHECK_THAT(refusal("[export]\nbucket = \"b\"\n"), Contains("key export.bucket belongs in [s3], not here"));
  CHECK_THAT(refusal("bucket = \"b\"\n"), Contains("key bucket belongs in [s3]"));
  CHECK_THAT(refusal("[s4]\nbucket = \"b\"\n"), Contains("unknown key or table s4"));
  CHECK_THAT(refusal("[server]\nrequest_timeout_seconds = 0\n"), Contains("request_timeout_seconds must be at least 1"));
  CHECK_THAT(refusal("[s3]\naddressing = \"virtual-hosted\"\n"),
             Contains("s3.addressing must be \"auto\", \"virtual\" or \"path\""));
  CHECK_THAT(refusal("[s3]\nsse = \"aws:kms\"\nsse_kms_key_id = 7\n"), Contains("s3.sse_kms_key_id must be a string"));
  CHECK_THAT(refusal("[s3]\ntags = { team = 1 }\n"), Contains("s3.tags must be a table of strings"));
  CHECK_THAT(refusal("[s3]\nsse_kms_key_id = \"k\"\n"), Contains("sse_kms_key_id needs sse = \"aws:kms\""));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\nexact = true\n"),
             Contains("line 4: unknown key datasets.exact"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\npart_size_mib = 8\n"),
             Contains("key datasets.part_size_mib belongs in [export]"));
  CHECK_THAT(refusal("[s3]\nexact_count = true\n"), Contains("key s3.exact_count belongs in [[datasets]]"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\nformat = \"orc\"\n"),
             Contains("datasets.format must be \"csv\" or \"parquet\""));
  CHECK_THAT(refusal("[export]\nmax_parts_in_flight = 0\n"), Contains("max_parts_in_flight must be at least 1"));
  CHECK_THAT(refusal("[s3]\nrequest_timeout_ms = 0\n"), Contains("request_timeout_ms must be at least 1"));
  CHECK_THAT(refusal("[jobs]\nmax_attempts = 0\n"), Contains("jobs.max_attempts must be at least 1"));
  CHECK_THAT(refusal("[jobs]\nlease_ms = 1000\nheartbeat_ms = 500\n"),
             Contains("[jobs] lease_ms (1000) must be at least three times heartbeat_ms (500)"));
  CHECK_THAT(refusal("[jobs]\nrescue_interval_ms = 60000\nunknown_dataset_after_ms = 120000\n"),
             Contains("[jobs] unknown_dataset_after_ms (120000) must be at least three times rescue_interval_ms (60000)"));
  CHECK_THAT(refusal("[export]\nlease_ms = 1000\n"), Contains("key export.lease_ms belongs in [jobs]"));
}

TEST_CASE("the fleet's lease, heartbeat, polling, rescue and retention from [jobs]", "[settings]") {
  variables = {{"HOME", "/nonexistent"}};
  const auto settings = loaded("[jobs]\nlease_ms = 3000\nheartbeat_ms = 200\npoll_interval_ms = 250\n"
                               "rescue_interval_ms = 300\nretry_backoff_ms = 100\nmax_attempts = 5\n"
                               "retention_days = 7\nlisten_url = \"host=10.0.0.5 dbname=app\"\n"
                               "database_url = \"host=10.0.0.6 port=6432 dbname=app\"\n");
  const auto& jobs = settings.engine.jobs;
  CHECK(jobs.lease == std::chrono::milliseconds(3000));
  CHECK(settings.engine.progress_interval == std::chrono::milliseconds(200));
  CHECK(jobs.poll_interval == std::chrono::milliseconds(250));
  CHECK(settings.engine.sweep_interval == std::chrono::milliseconds(300));
  CHECK(jobs.retry_backoff == std::chrono::milliseconds(100));
  CHECK(jobs.max_attempts == 5);
  CHECK(jobs.retention_days == 7);
  CHECK(jobs.listen_url == "host=10.0.0.5 dbname=app");
  CHECK(engine::jobs_database_url(settings.engine) == "host=10.0.0.6 port=6432 dbname=app");
}

TEST_CASE("the jobs' database and its LISTEN session default to the exported data's", "[settings]") {
  variables = {{"HOME", "/nonexistent"}, {"PG2S3_DATABASE_URL", "host=data"}};
  auto settings = loaded("");
  CHECK(engine::jobs_database_url(settings.engine) == "host=data");
  CHECK(engine::jobs_listen_url(settings.engine) == "host=data");
  variables["PG2S3_JOBS_DATABASE_URL"] = "host=pooler port=6432";
  settings = loaded("");
  CHECK(engine::jobs_database_url(settings.engine) == "host=pooler port=6432");
  CHECK(engine::jobs_listen_url(settings.engine) == "host=pooler port=6432");
}

TEST_CASE("a dataset's output format and Parquet integers, the parts in flight and the request timeout from the file", "[settings]") {
  variables = {{"HOME", "/nonexistent"}};
  const auto settings = loaded("[s3]\nrequest_timeout_ms = 2500\n[export]\nparts_per_export = 3\n"
                               "[[datasets]]\nname = \"events\"\nquery = \"SELECT 1\"\nformat = \"parquet\"\n");
  CHECK(settings.engine.datasets.at(0).format == engine::Format::parquet);
  CHECK_FALSE(settings.engine.datasets.at(0).parquet_delta);  // PLAIN integers: what every reader takes
  CHECK(loaded("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\nparquet_delta = true\n").engine.datasets.at(0).parquet_delta);
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\nparquet_delta = \"yes\"\n"),
             Contains("datasets.parquet_delta must be true or false"));
  CHECK(settings.engine.max_parts_in_flight == 2);  // the older key: the part filling plus those uploading
  CHECK(settings.engine.s3.io_timeout == std::chrono::milliseconds(2500));
  CHECK(loaded("[export]\nmax_parts_in_flight = 5\n").engine.max_parts_in_flight == 5);
}

TEST_CASE("the browser origins and Host names the API accepts, from [server]", "[settings][cross_site]") {
  variables = {{"HOME", "/nonexistent"}};
  const auto settings = loaded("[server]\nallowed_origins = [\"https://console.example\", \"http://localhost:3000\"]\n"
                               "hostnames = [\"pg2s3.internal\"]\n");
  CHECK(settings.allowed_origins == std::vector<std::string>{"https://console.example", "http://localhost:3000"});
  CHECK(settings.hostnames == std::vector<std::string>{"pg2s3.internal"});
  CHECK(loaded("").allowed_origins.empty());
  // Neither could ever match what a browser sends.
  CHECK_THAT(refusal("[server]\nallowed_origins = [\"https://console.example/\"]\n"),
             Contains("server.allowed_origins must be an array of origins as browsers send them"));
  CHECK_THAT(refusal("[server]\nhostnames = [\"pg2s3.internal:8080\"]\n"),
             Contains("server.hostnames must be an array of host names, without scheme or port"));
}

TEST_CASE("a dataset names a query, or a table with columns, a condition and a parallelism", "[settings]") {
  variables = {{"HOME", "/nonexistent"}};
  const auto settings = loaded("[[datasets]]\nname = \"events\"\ntable = \"events\"\ncolumns = [\"id\", \"kind\"]\n"
                               "where = \"kind <> 'debug'\"\nparallelism = 4\n");
  const auto& events = settings.engine.datasets.at(0);
  CHECK(events.query == R"(SELECT "id", "kind" FROM "events" WHERE kind <> 'debug')");
  CHECK(events.parallelism == 4);
  CHECK(loaded("[[datasets]]\nname = \"a\"\ntable = \"t\"\nmax_file_size = \"256MiB\"\n").engine.datasets.at(0).max_file_size ==
        256ull << 20);
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\ntable = \"t\"\nmax_file_size = \"huge\"\n"),
             Contains("datasets.max_file_size must be a size such as \"256MiB\""));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\n"), Contains("give either a query or a table"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\ntable = \"t\"\n"),
             Contains("give either a query or a table, not both"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\nwhere = \"true\"\n"),
             Contains("columns and where go with a table"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\nquery = \"SELECT 1\"\nparallelism = 2\n"),
             Contains("parallelism needs a table"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\ntable = \"t\"\nparallelism = 65\n"), Contains("1 to 64"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\ntable = \"t\"\nparams = [{name = \"p\", type = \"int8\"}]\n"),
             Contains("params go with a query"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\ntable = \"t\"\ncolumns = \"id\"\n"),
             Contains("datasets.columns must be an array of strings"));
  CHECK_THAT(refusal("[[datasets]]\nname = \"a\"\ntable = \"t\"\ncolumns = [\"\"]\n"), Contains("a column name is empty"));
}

TEST_CASE("upload options in [s3] and per dataset, which starts from [s3]'s", "[settings]") {
  variables = {{"HOME", "/nonexistent"}};
  const auto settings = loaded(
      "[s3]\nbucket = \"b\"\nsse = \"aws:kms\"\nsse_kms_key_id = \"key-1\"\ntags = { team = \"data\" }\n"
      "expected_bucket_owner = \"111122223333\"\npayload_integrity = \"sha256\"\naddressing = \"path\"\n"
      "[[datasets]]\nname = \"plain\"\nquery = \"SELECT 1\"\n"
      "[[datasets]]\nname = \"archive\"\nquery = \"SELECT 2\"\nstorage_class = \"GLACIER_IR\"\n"
      "content_disposition = \"inline\"\nacl = \"bucket-owner-full-control\"\n");
  const auto& engine = settings.engine;
  CHECK(engine.upload.sse == "aws:kms");
  CHECK(engine.upload.tags == std::vector<std::pair<std::string, std::string>>{{"team", "data"}});
  CHECK(engine.s3.payload_integrity == s3::PayloadIntegrity::signed_sha256);
  CHECK(engine.s3.expected_bucket_owner == "111122223333");
  CHECK(engine.s3.addressing == s3::Addressing::path);
  CHECK_FALSE(engine.dataset_uploads.contains("plain"));
  const auto& archive = engine.dataset_uploads.at("archive");
  CHECK(archive.sse_kms_key_id == "key-1");
  CHECK(archive.storage_class == "GLACIER_IR");
  CHECK(archive.content_disposition == "inline");
  CHECK(&engine::upload_options(engine, "plain") == &engine.upload);
}

TEST_CASE("region and endpoint: environment, then the file, then the shared profile", "[settings]") {
  const std::string aws_config = "/tmp/pg2s3-settings-aws-config-" + std::to_string(std::random_device{}());
  std::ofstream(aws_config) << "[profile ci]\nregion = eu-north-1\nendpoint_url = http://profile.example:9000\n";
  variables = {{"AWS_CONFIG_FILE", aws_config}, {"AWS_PROFILE", "ci"}, {"HOME", "/nonexistent"}};
  auto settings = loaded("[database]\nurl = \"postgresql:///x\"\n");
  CHECK(settings.engine.s3.scope.region == "eu-north-1");
  CHECK(settings.engine.s3.endpoint == "http://profile.example:9000");
  settings = loaded("[s3]\nregion = \"eu-west-1\"\nendpoint = \"http://file:1\"\n");
  CHECK(settings.engine.s3.scope.region == "eu-west-1");
  CHECK(settings.engine.s3.endpoint == "http://file:1");
  variables["AWS_DEFAULT_REGION"] = "ap-south-1";
  variables["AWS_ENDPOINT_URL"] = "http://env:1";
  variables["PG2S3_S3_ADDRESSING"] = "virtual";
  settings = loaded("[s3]\nregion = \"eu-west-1\"\n");
  CHECK(settings.engine.s3.scope.region == "ap-south-1");
  CHECK(settings.engine.s3.endpoint == "http://env:1");
  CHECK(settings.engine.s3.addressing == s3::Addressing::virtual_hosted);
  variables["PG2S3_S3_ADDRESSING"] = "sideways";
  CHECK_THAT(std::get<std::string>(app::load_settings({}, environment)), Contains("PG2S3_S3_ADDRESSING"));

  std::ofstream(aws_config) << "[profile ci\nregion = x\n";
  CHECK_THAT(std::get<std::string>(app::load_settings({}, environment)), Contains(aws_config + " line 1"));
  std::remove(aws_config.c_str());
}

TEST_CASE("a dataset's description and typed params; params that do not fit the query are refused", "[settings]") {
  variables = {{"HOME", "/nonexistent"}};
  const auto settings = loaded(
      "[[datasets]]\nname = \"orders\"\ndescription = \"Orders of one tenant\"\n"
      "query = \"SELECT * FROM orders WHERE created_at >= $1 AND created_at < $2 AND tenant_id = $3\"\n"
      "params = [ { name = \"from\", type = \"timestamptz\" },\n"
      "           { name = \"to\", type = \"timestamptz\", default = \"infinity\" },\n"
      "           { name = \"tenant\", type = \"int8\", required = true } ]\n");
  const auto& orders = settings.engine.datasets.at(0);
  CHECK(orders.description == "Orders of one tenant");
  REQUIRE(orders.params.size() == 3);
  CHECK(orders.params[1].name == "to");
  CHECK(orders.params[1].default_value == "infinity");
  CHECK(orders.params[2].required);
  CHECK_FALSE(orders.params[0].default_value);

  const std::string header = "[[datasets]]\nname = \"d\"\n";
  CHECK_THAT(refusal(header + "query = \"SELECT $1, $2\"\nparams = [{ name = \"a\", type = \"int8\" }]\n"),
             Contains("line 1: dataset d: the query's $2 has no declared parameter"));
  CHECK_THAT(refusal(header + "query = \"SELECT '$1'\"\nparams = [{ name = \"a\", type = \"int8\" }]\n"),
             Contains("parameter 'a' is declared but the query has no $1"));
  CHECK_THAT(refusal(header + "query = \"SELECT $1\"\nparams = [{ name = \"a\", type = \"int8; DROP TABLE t\" }]\n"),
             Contains("type 'int8; DROP TABLE t'"));
  CHECK_THAT(refusal(header + "query = \"SELECT $1\"\nparams = [{ name = \"a\", type = \"int8\", size = 3 }]\n"),
             Contains("datasets.params must be an array of { name"));
  CHECK_THAT(refusal(header + "query = \"SELECT $1\"\nparams = [{ type = \"int8\" }]\n"),
             Contains("datasets.params must be"));
  CHECK_THAT(refusal(header + "query = \"SELECT $1\"\nparams = \"a\"\n"), Contains("datasets.params must be"));
  CHECK_THAT(refusal(header + "query = \"SELECT 1\"\ndescription = 5\n"), Contains("datasets.description must be a string"));
}

TEST_CASE("a reload names what only a restart can change: the database and the bucket", "[settings]") {
  app::Settings running, fresh;
  running.engine.database_url = fresh.engine.database_url = "host=db1";
  running.engine.bucket = fresh.engine.bucket = "exports";
  fresh.engine.datasets.clear();
  CHECK(app::changes_needing_restart(running, fresh).empty());
  fresh.engine.database_url = "host=db2";
  fresh.engine.bucket = "other";
  CHECK(app::changes_needing_restart(running, fresh) == std::vector<std::string>{"the database", "the bucket"});
  fresh = running;
  fresh.engine.jobs.database_url = "host=pooler";
  CHECK(app::changes_needing_restart(running, fresh) == std::vector<std::string>{"the jobs' database"});
}

#include "engine/job_store.hpp"

#include "engine/dataset_params.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <simdjson.h>

#include <random>

namespace pg2s3::engine {

namespace asio = boost::asio;

namespace {

// Creates export_jobs, or adds what an older version lacks; a table already current is not touched, so
// no ALTER TABLE waits on the queue's traffic. Processes starting together take turns (advisory lock 0,
// which no owner uses). fillfactor leaves room on each page for heartbeats to stay HOT updates.
constexpr std::string_view create_table = R"(
  SET client_min_messages = warning;
  DO $migrate$
  BEGIN
    IF (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('export_jobs') AND NOT attisdropped
        AND attname IN ('request_fingerprint', 'parallelism', 'max_file_size', 'files', 'manifest_key', 'params', 'local_output')) = 7
       AND to_regclass('export_datasets') IS NOT NULL THEN
      RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(1885811315, 0);
    CREATE TABLE IF NOT EXISTS export_jobs (
      id uuid PRIMARY KEY,
      dataset text NOT NULL,
      status text NOT NULL,
      total_records bigint,
      processed_records bigint NOT NULL DEFAULT 0,
      s3_key text NOT NULL,
      error_message text,
      created_at timestamptz NOT NULL,
      started_at timestamptz,
      finished_at timestamptz) WITH (fillfactor = 80);
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS bytes_uploaded bigint NOT NULL DEFAULT 0;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS compression text NOT NULL DEFAULT 'none';
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS upload_id text;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS owner integer;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS format text NOT NULL DEFAULT 'csv';
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 0;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 3;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS lease_token uuid;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS run_after timestamptz NOT NULL DEFAULT now();
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS runner text;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS errors jsonb NOT NULL DEFAULT '[]';
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS cancel_requested boolean NOT NULL DEFAULT false;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS idempotency_key text;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS request_fingerprint text;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS parallelism integer NOT NULL DEFAULT 1;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS max_file_size bigint;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS files integer;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS manifest_key text;
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS params jsonb NOT NULL DEFAULT '{}';
    ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS local_output boolean NOT NULL DEFAULT false;
    CREATE INDEX IF NOT EXISTS export_jobs_created_at ON export_jobs (created_at DESC);
    CREATE INDEX IF NOT EXISTS export_jobs_pending ON export_jobs (run_after, created_at) WHERE status = 'PENDING';
    CREATE INDEX IF NOT EXISTS export_jobs_running ON export_jobs (owner) WHERE status = 'RUNNING';
    CREATE UNIQUE INDEX IF NOT EXISTS export_jobs_idempotency_key ON export_jobs (idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    -- The datasets some claiming process has configured, and when one last said so. Those of jobs already
    -- waiting count as known now: processes of an earlier version, which record nothing, may run them.
    IF to_regclass('export_datasets') IS NULL THEN
      CREATE TABLE export_datasets (dataset text PRIMARY KEY, known_at timestamptz NOT NULL);
      INSERT INTO export_datasets SELECT DISTINCT dataset, now() FROM export_jobs WHERE status = 'PENDING';
    END IF;
  END
  $migrate$;
  RESET client_min_messages)";

// The first key of the advisory locks older versions read as a live owner ("pg2s").
constexpr std::string_view owner_lock_space = "1885811315";

// Times travel as milliseconds since the epoch. (Statements are built before any co_await that uses
// them: async/README.md, GCC 12.)
constexpr std::string_view columns =
    "id::text AS id, dataset, status, total_records, processed_records, bytes_uploaded, s3_key, format, "
    "compression, parallelism, max_file_size, files, manifest_key, local_output, upload_id, error_message, attempt, max_attempts, "
    "runner, errors::text AS errors, params::text AS params, "
    "(extract(epoch FROM created_at) * 1000000)::bigint AS created_us, "
    "(extract(epoch FROM started_at) * 1000)::bigint AS started_ms, "
    "(extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms";

std::string sql(std::initializer_list<std::string_view> pieces) {
  std::string text;
  for (auto piece : pieces) text += piece;
  return text;
}

std::string milliseconds(std::chrono::milliseconds duration) { return std::to_string(duration.count()); }

// A PostgreSQL text[] literal.
std::string text_array(std::span<const std::string> values) {
  std::string literal = "{";
  for (const auto& value : values) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

std::optional<TimePoint> time_at(const pg::QueryResult& rows, int row, std::string_view column) {
  auto ms = rows.int64(row, column);
  if (!ms) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(*ms));
}

std::vector<std::string> strings_in(std::string_view json_array) {
  std::vector<std::string> strings;
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  if (parser.parse(json_array.data(), json_array.size()).get_array().get(array)) return strings;
  for (auto element : array) {
    std::string_view text;
    if (!element.get_string().get(text)) strings.emplace_back(text);
  }
  return strings;
}

ParamValues params_in(std::string_view json_object) {
  ParamValues params;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json_object.data(), json_object.size()).get_object().get(object)) return params;
  for (auto [name, value] : object) {
    std::string_view text;
    params[std::string(name)] = value.get_string().get(text) ? std::nullopt : std::optional<std::string>(text);
  }
  return params;
}

std::string params_json(const ParamValues& params) {
  boost::json::object object;
  for (const auto& [name, value] : params) object[name] = value ? boost::json::value(*value) : boost::json::value(nullptr);
  return boost::json::serialize(object);
}

JobRecord job_at(const pg::QueryResult& rows, int row) {
  JobRecord job;
  job.id = rows.text(row, "id").value_or("");
  job.dataset = rows.text(row, "dataset").value_or("");
  job.status = parse_job_status(rows.text(row, "status").value_or("")).value_or(JobStatus::failed);
  job.total_records = rows.int64(row, "total_records");
  job.processed_records = rows.int64(row, "processed_records").value_or(0);
  job.bytes_uploaded = static_cast<std::uint64_t>(rows.int64(row, "bytes_uploaded").value_or(0));
  job.s3_key = rows.text(row, "s3_key").value_or("");
  job.format = parse_format(rows.text(row, "format").value_or("csv")).value_or(Format::csv);
  job.compression = parse_compression(rows.text(row, "compression").value_or("none")).value_or(Compression::none);
  job.parallelism = static_cast<int>(rows.int64(row, "parallelism").value_or(1));
  job.max_file_size = static_cast<std::uint64_t>(rows.int64(row, "max_file_size").value_or(0));
  if (auto files = rows.int64(row, "files")) job.files = static_cast<int>(*files);
  job.manifest_key = rows.text(row, "manifest_key").value_or("");
  job.local_output = rows.text(row, "local_output").value_or("f") == "t";
  job.upload_id = rows.text(row, "upload_id").value_or("");
  job.error_message = rows.text(row, "error_message").value_or("");
  job.attempt = static_cast<int>(rows.int64(row, "attempt").value_or(0));
  job.max_attempts = static_cast<int>(rows.int64(row, "max_attempts").value_or(0));
  job.runner = rows.text(row, "runner").value_or("");
  job.errors = strings_in(rows.text(row, "errors").value_or("[]"));
  job.params = params_in(rows.text(row, "params").value_or("{}"));
  // Microseconds, as stored: the listing's cursor names a job's exact place.
  job.created_at = TimePoint(std::chrono::microseconds(rows.int64(row, "created_us").value_or(0)));
  job.started_at = time_at(rows, row, "started_ms");
  job.finished_at = time_at(rows, row, "finished_ms");
  return job;
}

std::vector<JobRecord> jobs_in(const pg::QueryResult& rows) {
  std::vector<JobRecord> jobs;
  for (int row = 0; row < rows.rows(); ++row) jobs.push_back(job_at(rows, row));
  return jobs;
}

Error store_error(const pg::Error& error) { return {error.code, "export_jobs: " + error.message(), pg::is_transient(error)}; }

}  // namespace

JobStore::JobStore(asio::any_io_executor executor, std::string database_url, JobQueueConfig queue, std::string runner)
    : executor_(executor),
      database_url_(std::move(database_url)),
      queue_(std::move(queue)),
      runner_(std::move(runner)),
      owner_(static_cast<std::int32_t>(std::random_device{}() & 0x7FFFFFFF) | 1),
      turn_(executor) {}

std::unique_ptr<JobStore> JobStore::open(asio::any_io_executor executor, std::string database_url,
                                         JobQueueConfig queue, std::string runner) {
  return std::unique_ptr<JobStore>(new JobStore(executor, std::move(database_url), std::move(queue), std::move(runner)));
}

JobStore::Task<void> JobStore::reconnect() {
  connection_.reset();
  auto connected = co_await pg::Connection::connect(executor_, database_url_);
  if (!connected) co_return store_error(connected.error());
  // Earlier versions take a job whose owner's advisory lock is free as abandoned: while one of them shares
  // the table (a rolling upgrade), the lock keeps this process's jobs from it. Nothing here reads the lock,
  // and it is only tried, never waited for (a dropped session of this process may hold it a while yet).
  const std::string lock = sql({"SELECT pg_try_advisory_lock(", owner_lock_space, ", ", std::to_string(owner_), ")"});
  if (auto locked = co_await connected->execute(lock); !locked) co_return store_error(locked.error());
  if (auto created = co_await connected->execute(create_table); !created) co_return store_error(created.error());
  connection_.emplace(std::move(*connected));
  co_return Result<void>{};
}

JobStore::Task<pg::QueryResult> JobStore::run(std::string_view sql, std::span<const pg::Parameter> parameters) {
  return run(sql, parameters, queue_.statement_timeout);
}

JobStore::Task<pg::QueryResult> JobStore::run(std::string_view sql, std::span<const pg::Parameter> parameters,
                                              std::chrono::milliseconds deadline) {
  const auto turn = co_await turn_.take();
  if (!turn) co_return Error{asio::error::operation_aborted, "export_jobs: cancelled while waiting for the connection"};
  // A statement runs to its end (or its deadline) even when its caller is cancelled: cancelling it would
  // close the connection that every other statement of this process waits its turn on.
  auto running = run_with_retry(sql, parameters, deadline);
  co_return co_await async::uninterrupted(std::move(running));
}

JobStore::Task<pg::QueryResult> JobStore::run_with_retry(std::string_view sql, std::span<const pg::Parameter> parameters,
                                                         std::chrono::milliseconds deadline) {
  const bool reused = connection_ && connection_->is_open();
  auto outcome = co_await run_once(sql, parameters, deadline);
  // A connection that went idle before the database restarted fails at its next use: try once on a new one.
  // Every statement here may run twice.
  if (!outcome && reused && !(connection_ && connection_->is_open())) outcome = co_await run_once(sql, parameters, deadline);
  co_return outcome;
}

// A database that stops answering (its host gone without a reset) would hold this statement, and every
// heartbeat, claim and API call queued behind it, for the kernel's retransmission time: past its deadline
// the statement is given up and its connection closed, and the next statement connects afresh.
JobStore::Task<pg::QueryResult> JobStore::run_once(std::string_view sql, std::span<const pg::Parameter> parameters,
                                                   std::chrono::milliseconds deadline) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(executor_, deadline);
  auto raced = co_await (answer(sql, parameters) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (raced.index() == 0) co_return std::move(std::get<0>(raced));
  connection_.reset();
  co_return Error{pg::errc::timed_out,
                  "export_jobs: the database did not answer within " + std::to_string(deadline.count()) + " ms", true};
}

JobStore::Task<pg::QueryResult> JobStore::answer(std::string_view sql, std::span<const pg::Parameter> parameters) {
  if (!connection_ || !connection_->is_open()) {
    if (auto connected = co_await reconnect(); !connected) co_return connected.error();
  }
  auto rows = co_await connection_->query(sql, parameters);
  if (!rows) co_return store_error(rows.error());
  co_return std::move(*rows);
}

JobStore::Task<JobRecord> JobStore::enqueue(const JobRecord& job, bool held_here,
                                            const std::optional<Idempotency>& idempotency) {
  const pg::Parameter parameters[] = {
      job.id,
      job.dataset,
      job.s3_key,
      std::string(to_string(job.compression)),
      std::string(to_string(job.format)),
      std::to_string(job.max_attempts),
      held_here ? "true" : "false",
      std::to_string(owner_),
      idempotency ? pg::Parameter(idempotency->key) : std::nullopt,
      idempotency ? pg::Parameter(idempotency->request) : std::nullopt,
      std::to_string(queue_.max_pending),
      params_json(job.params),
      std::to_string(job.parallelism),
      job.max_file_size ? pg::Parameter(std::to_string(job.max_file_size)) : std::nullopt,
      job.manifest_key.empty() ? pg::Parameter() : job.manifest_key,
      job.local_output ? "true" : "false",
      milliseconds(queue_.lease)};
  // A held job waits with run_after at infinity, which no claim of another process reaches, under a lease
  // that renew_held() extends while it waits. The bound on
  // PENDING jobs is part of the one statement, counting no further than the bound (on the pending index).
  const std::string insert = sql({R"(
    WITH room AS (
      SELECT count(*) < $11::bigint AS has_room
      FROM (SELECT 1 FROM export_jobs WHERE status = 'PENDING' LIMIT $11::bigint) AS pending),
    inserted AS (
      INSERT INTO export_jobs (id, dataset, status, s3_key, compression, format, created_at, max_attempts,
                               run_after, owner, idempotency_key, request_fingerprint, params, parallelism,
                               max_file_size, manifest_key, local_output, lease_expires_at)
      SELECT $1::uuid, $2, 'PENDING', $3, $4, $5, now(), $6::integer,
             CASE WHEN $7::boolean THEN 'infinity'::timestamptz ELSE now() END, $8::integer, $9, $10, $12::jsonb,
             $13::integer, $14::bigint, $15, $16::boolean,
             CASE WHEN $7::boolean THEN now() + $17::bigint * interval '1 millisecond' END
      FROM room WHERE has_room
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING *)
    SELECT has_room, queued.* FROM room LEFT JOIN (
      SELECT )", columns, R"(, CASE WHEN $7::boolean THEN NULL ELSE pg_notify(')", jobs_channel, R"(', 'queued') END
      FROM inserted) AS queued ON true)"});
  auto inserted = co_await run(insert, parameters);
  if (!inserted) co_return inserted.error();
  if (inserted->text(0, "id")) co_return job_at(*inserted, 0);
  if (inserted->text(0, "has_room") != "t" && !idempotency)
    co_return Error{errc::at_capacity, std::to_string(queue_.max_pending) + " jobs are PENDING already: retry later"};

  const pg::Parameter key[] = {idempotency ? idempotency->key : std::string()};
  const std::string by_key = sql({"SELECT ", columns, ", request_fingerprint FROM export_jobs WHERE idempotency_key = $1"});
  auto earlier = co_await run(by_key, key);
  if (!earlier) co_return earlier.error();
  if (earlier->rows() == 0 && inserted->text(0, "has_room") != "t")
    co_return Error{errc::at_capacity, std::to_string(queue_.max_pending) + " jobs are PENDING already: retry later"};
  if (earlier->rows() == 0) co_return Error{errc::conflict, "idempotency key in use by a job being deleted: retry"};
  if (earlier->text(0, "request_fingerprint") != idempotency->request)
    co_return Error{errc::conflict, "the Idempotency-Key was used for another request (job " +
                                        std::string(earlier->text(0, "id").value_or("")) + ")"};
  co_return job_at(*earlier, 0);
}

namespace {

// Takes the PENDING jobs that `candidates` selects (FOR UPDATE SKIP LOCKED, materialised so that it runs
// once) for a new attempt under a fresh lease. $1 lease ms, $2 runner, $3 owner.
std::string claim_statement(std::string_view candidates) {
  return sql({"WITH candidates AS MATERIALIZED (", candidates, R"()
    UPDATE export_jobs SET status = 'RUNNING', attempt = attempt + 1, lease_token = gen_random_uuid(),
      lease_expires_at = now() + $1::bigint * interval '1 millisecond', runner = $2, owner = $3::integer,
      started_at = now()
    FROM candidates WHERE id = candidate_id
    RETURNING )", columns, ", lease_token::text AS lease_token"});
}

std::vector<Claim> claims_in(const pg::QueryResult& rows) {
  std::vector<Claim> claims;
  for (int row = 0; row < rows.rows(); ++row)
    claims.push_back({job_at(rows, row), std::string(rows.text(row, "lease_token").value_or(""))});
  return claims;
}

}  // namespace

JobStore::Task<std::vector<Claim>> JobStore::claim(int room, std::span<const std::string> datasets) {
  const pg::Parameter parameters[] = {milliseconds(queue_.lease), runner_, std::to_string(owner_),
                                      std::to_string(room), text_array(datasets)};
  const std::string statement = claim_statement(R"(
    SELECT id AS candidate_id FROM export_jobs
    WHERE status = 'PENDING' AND run_after <= now() AND dataset = ANY($5::text[])
    ORDER BY run_after, created_at LIMIT $4::integer
    FOR UPDATE SKIP LOCKED)");
  auto rows = co_await run(statement, parameters);
  if (!rows) co_return rows.error();
  co_return claims_in(*rows);
}

JobStore::Task<std::optional<Claim>> JobStore::claim_held(std::string_view id) {
  const pg::Parameter parameters[] = {milliseconds(queue_.lease), runner_, std::to_string(owner_), std::string(id)};
  const std::string statement = claim_statement(R"(
    SELECT id AS candidate_id FROM export_jobs WHERE id = $4::uuid AND status = 'PENDING' FOR UPDATE)");
  auto rows = co_await run(statement, parameters);
  if (!rows) co_return rows.error();
  auto claims = claims_in(*rows);
  if (claims.empty()) co_return std::optional<Claim>{};
  co_return std::move(claims.front());
}

JobStore::Task<LeaseRenewal> JobStore::heartbeat(const Claim& claim) {
  const auto& job = claim.job;
  const pg::Parameter parameters[] = {
      job.id,
      claim.lease_token,
      milliseconds(queue_.lease),
      job.total_records ? pg::Parameter(std::to_string(*job.total_records)) : std::nullopt,
      std::to_string(job.processed_records),
      std::to_string(job.bytes_uploaded),
      job.upload_id.empty() ? pg::Parameter() : job.upload_id};
  auto renewed = co_await run(R"(
    UPDATE export_jobs SET lease_expires_at = now() + $3::bigint * interval '1 millisecond',
      total_records = $4::bigint, processed_records = $5::bigint, bytes_uploaded = $6::bigint, upload_id = $7
    WHERE id = $1::uuid AND lease_token = $2::uuid AND status = 'RUNNING'
    RETURNING cancel_requested)", parameters);
  if (!renewed) co_return renewed.error();
  if (renewed->rows() == 0) co_return Error{errc::lease_lost, "job " + job.id + ": its lease is held by another attempt"};
  co_return LeaseRenewal{renewed->text(0, "cancel_requested") == "t"};
}

JobStore::Task<JobRecord> JobStore::finish(const Claim& claim) {
  const auto& job = claim.job;
  const pg::Parameter parameters[] = {
      job.id,
      claim.lease_token,
      std::string(to_string(job.status)),
      job.error_message.empty() ? pg::Parameter() : job.error_message,
      job.total_records ? pg::Parameter(std::to_string(*job.total_records)) : std::nullopt,
      std::to_string(job.processed_records),
      std::to_string(job.bytes_uploaded),
      job.upload_id.empty() ? pg::Parameter() : job.upload_id,
      job.files ? pg::Parameter(std::to_string(*job.files)) : std::nullopt};
  const std::string statement = sql({R"(
    UPDATE export_jobs SET status = $3, error_message = $4, finished_at = now(), total_records = $5::bigint,
      processed_records = $6::bigint, bytes_uploaded = $7::bigint, upload_id = $8, files = $9::integer,
      lease_token = NULL, lease_expires_at = NULL
    WHERE id = $1::uuid AND lease_token = $2::uuid AND status = 'RUNNING'
    RETURNING )", columns});
  auto finished = co_await run(statement, parameters);
  if (!finished) co_return finished.error();
  if (finished->rows() == 0) co_return Error{errc::lease_lost, "job " + job.id + ": its lease is held by another attempt"};
  co_return job_at(*finished, 0);
}

JobStore::Task<void> JobStore::hand_back(const Claim& claim) {
  const pg::Parameter parameters[] = {claim.job.id, claim.lease_token,
                                      claim.job.upload_id.empty() ? pg::Parameter() : claim.job.upload_id};
  const std::string statement = sql({R"(
    WITH handed_back AS (
      UPDATE export_jobs SET status = 'PENDING', attempt = attempt - 1, run_after = now(), upload_id = $3,
        lease_token = NULL, lease_expires_at = NULL, started_at = NULL, processed_records = 0, bytes_uploaded = 0
      WHERE id = $1::uuid AND lease_token = $2::uuid AND status = 'RUNNING'
      RETURNING id)
    SELECT pg_notify(')", jobs_channel, R"(', 'queued') FROM handed_back)"});
  auto handed_back = co_await run(statement, parameters);
  if (!handed_back) co_return handed_back.error();
  if (handed_back->rows() == 0)
    co_return Error{errc::lease_lost, "job " + claim.job.id + ": its lease is held by another attempt"};
  co_return Result<void>{};
}

JobStore::Task<std::vector<JobRecord>> JobStore::rescue() {
  const pg::Parameter parameters[] = {milliseconds(queue_.retry_backoff)};
  // The lease, timed by the database, is the only authority: nothing about sessions or connections (which a
  // pooler shares and a dropped connection loses while its process lives) takes a job from its runner. A
  // held job (run_after at infinity) is its process's alone: it fails with it, once its lease lapses (a
  // held row of a version without held leases, after a day). An attempt that ends here keeps its upload id
  // in the row: the sweep aborts it, or whoever runs the job next does first.
  const std::string statement = sql({R"(
    WITH expired AS MATERIALIZED (
      SELECT id AS expired_id FROM export_jobs
      WHERE (status = 'RUNNING' AND (lease_expires_at IS NULL OR lease_expires_at < now()))
         OR (status = 'PENDING' AND run_after = 'infinity' AND
             coalesce(lease_expires_at, created_at + interval '1 day') < now())
      LIMIT 100 FOR UPDATE SKIP LOCKED),
    reasoned AS (
      SELECT expired_id,
             CASE WHEN status = 'PENDING' THEN format('%s ended before it could start the export', owner_name)
                  ELSE format('attempt %s on %s: its lease expired (the process died, froze or lost the database)',
                              attempt, owner_name) END AS reason,
             attempt >= max_attempts OR run_after = 'infinity' AS ends
      FROM export_jobs JOIN expired ON id = expired_id,
           LATERAL (SELECT coalesce(runner, 'the process that held it') AS owner_name) AS named)
    UPDATE export_jobs SET
      errors = errors || jsonb_build_array(reason),
      status = CASE WHEN ends THEN 'FAILED' ELSE 'PENDING' END,
      error_message = CASE WHEN ends THEN 'interrupted: ' || reason END,
      finished_at = CASE WHEN ends THEN now() END,
      run_after = CASE WHEN ends THEN run_after ELSE now() +
        least($1::bigint * power(2, greatest(attempt - 1, 0)), 3600000) * interval '1 millisecond' END,
      lease_token = NULL, lease_expires_at = NULL
    FROM reasoned WHERE id = expired_id
    RETURNING )", columns});
  auto rescued = co_await run(statement, parameters);
  if (!rescued) co_return rescued.error();
  co_return jobs_in(*rescued);
}

JobStore::Task<std::vector<JobRecord>> JobStore::fail_unknown_datasets(std::span<const std::string> known_here) {
  const pg::Parameter parameters[] = {text_array(known_here), milliseconds(queue_.unknown_dataset_grace)};
  // The CTE's own inserts are invisible to the rest of the statement: this process's datasets count by
  // `known`, the other processes' by the table.
  const std::string statement = sql({R"(
    WITH known AS (
      INSERT INTO export_datasets (dataset, known_at)
      SELECT DISTINCT name, now() FROM unnest($1::text[]) AS name ORDER BY name  -- one order: no deadlock
      ON CONFLICT (dataset) DO UPDATE SET known_at = excluded.known_at
      RETURNING dataset),
    unknown AS MATERIALIZED (
      SELECT id AS unknown_id FROM export_jobs
      WHERE status = 'PENDING' AND run_after <> 'infinity'
        AND created_at < now() - $2::bigint * interval '1 millisecond'
        AND dataset NOT IN (SELECT dataset FROM known)
        AND NOT EXISTS (SELECT 1 FROM export_datasets AS d WHERE d.dataset = export_jobs.dataset
                        AND d.known_at > now() - $2::bigint * interval '1 millisecond')
      LIMIT 100 FOR UPDATE OF export_jobs SKIP LOCKED)
    UPDATE export_jobs SET status = 'FAILED', finished_at = now(), lease_token = NULL, lease_expires_at = NULL,
      error_message = format('no running process has dataset %s in its configuration, and none has had it for %s s',
                             dataset, $2::bigint / 1000)
    FROM unknown WHERE id = unknown_id
    RETURNING )", columns});
  auto failed = co_await run(statement, parameters);
  if (!failed) co_return failed.error();
  co_return jobs_in(*failed);
}

JobStore::Task<std::optional<JobRecord>> JobStore::request_cancel(std::string_view id) {
  const pg::Parameter parameters[] = {std::string(id)};
  const std::string statement = sql({R"(
    WITH cancelling AS (
      UPDATE export_jobs SET cancel_requested = true,
        status = CASE WHEN status = 'PENDING' THEN 'CANCELLED' ELSE status END,
        error_message = CASE WHEN status = 'PENDING' THEN 'cancelled' ELSE error_message END,
        finished_at = CASE WHEN status = 'PENDING' THEN now() ELSE finished_at END
      WHERE id = $1::uuid AND status IN ('PENDING', 'RUNNING')
      RETURNING *)
    SELECT )", columns, ", pg_notify('", jobs_channel, "', 'cancel ' || id::text) FROM cancelling"});
  auto rows = co_await run(statement, parameters);
  if (!rows) co_return rows.error();
  if (rows->rows() == 0) co_return std::optional<JobRecord>{};
  co_return job_at(*rows, 0);
}

JobStore::Task<std::optional<JobRecord>> JobStore::find(std::string_view id) {
  const pg::Parameter parameters[] = {std::string(id)};
  const std::string statement = sql({"SELECT ", columns, " FROM export_jobs WHERE id = $1::uuid"});
  auto rows = co_await run(statement, parameters);
  if (!rows) co_return rows.error();
  if (rows->rows() == 0) co_return std::optional<JobRecord>{};
  co_return job_at(*rows, 0);
}

JobStore::Task<JobRecord> JobStore::retry_later(const Claim& claim, std::string_view reason) {
  const pg::Parameter parameters[] = {claim.job.id, claim.lease_token, std::string(reason),
                                      milliseconds(queue_.retry_backoff),
                                      claim.job.upload_id.empty() ? pg::Parameter() : claim.job.upload_id};
  // The attempt stays spent; the wait doubles per attempt as a rescue's does.
  const std::string statement = sql({R"(
    UPDATE export_jobs SET status = 'PENDING', errors = errors || jsonb_build_array($3::text), upload_id = $5,
      run_after = now() + least($4::bigint * power(2, greatest(attempt - 1, 0)), 3600000) * interval '1 millisecond',
      lease_token = NULL, lease_expires_at = NULL, started_at = NULL, processed_records = 0, bytes_uploaded = 0
    WHERE id = $1::uuid AND lease_token = $2::uuid AND status = 'RUNNING'
    RETURNING )", columns});
  auto retried = co_await run(statement, parameters);
  if (!retried) co_return retried.error();
  if (retried->rows() == 0) co_return Error{errc::lease_lost, "job " + claim.job.id + ": its lease is held by another attempt"};
  co_return job_at(*retried, 0);
}

JobStore::Task<void> JobStore::renew_held(std::span<const std::string> ids) {
  const pg::Parameter parameters[] = {text_array(ids), milliseconds(queue_.lease)};
  auto renewed = co_await run(R"(
    UPDATE export_jobs SET lease_expires_at = now() + $2::bigint * interval '1 millisecond'
    WHERE id = ANY($1::uuid[]) AND status = 'PENDING' AND run_after = 'infinity')", parameters);
  if (!renewed) co_return renewed.error();
  co_return Result<void>{};
}

namespace {

pg::Parameter microseconds_or_null(const std::optional<TimePoint>& time) {
  if (!time) return std::nullopt;
  return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(time->time_since_epoch()).count());
}

}  // namespace

JobStore::Task<JobPage> JobStore::list(const JobQuery& query) {
  const pg::Parameter parameters[] = {
      query.status ? pg::Parameter(std::string(to_string(*query.status))) : std::nullopt,
      query.dataset,
      microseconds_or_null(query.since),
      microseconds_or_null(query.until),
      query.after ? pg::Parameter(std::to_string(query.after->created_us)) : std::nullopt,
      query.after ? pg::Parameter(query.after->id) : std::nullopt,
      std::to_string(query.limit + 1)};
  // A keyset on (created_at, id): a page starts where the last one ended whatever was added meanwhile.
  const std::string statement = sql({"SELECT ", columns, R"( FROM export_jobs
    WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR dataset = $2)
      AND ($3::bigint IS NULL OR created_at >= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond')
      AND ($4::bigint IS NULL OR created_at < 'epoch'::timestamptz + $4::bigint * interval '1 microsecond')
      AND ($5::bigint IS NULL OR
           (created_at, id) < ('epoch'::timestamptz + $5::bigint * interval '1 microsecond', $6::uuid))
    ORDER BY created_at DESC, id DESC LIMIT $7::int)"});
  auto rows = co_await run(statement, parameters);
  if (!rows) co_return rows.error();
  JobPage page{jobs_in(*rows), std::nullopt};
  if (page.jobs.size() > static_cast<std::size_t>(query.limit)) {
    page.jobs.resize(static_cast<std::size_t>(query.limit));
    page.next = position_of(page.jobs.back());
  }
  co_return page;
}

JobStore::Task<std::vector<JobRecord>> JobStore::with_open_uploads() {
  const pg::Parameter parameters[] = {"1000"};
  const std::string statement = sql({"SELECT ", columns, " FROM export_jobs WHERE upload_id IS NOT NULL "
                                     "AND status IN ('FAILED', 'CANCELLED') ORDER BY finished_at LIMIT $1::int"});
  auto rows = co_await run(statement, parameters);
  if (!rows) co_return rows.error();
  co_return jobs_in(*rows);
}

JobStore::Task<void> JobStore::forget_upload(std::string_view id, std::string_view upload_id) {
  const pg::Parameter parameters[] = {std::string(id), std::string(upload_id)};
  auto forgotten = co_await run("UPDATE export_jobs SET upload_id = NULL WHERE id = $1::uuid AND upload_id = $2",
                                parameters);
  if (!forgotten) co_return forgotten.error();
  co_return Result<void>{};
}

JobStore::Task<int> JobStore::delete_expired(int batch) {
  // finished_at before the cutoff implies created_at before it, which the created_at index finds.
  const pg::Parameter parameters[] = {std::to_string(queue_.retention_days), std::to_string(batch)};
  auto deleted = co_await run(R"(
    WITH expired AS (
      DELETE FROM export_jobs WHERE id IN (
        SELECT id FROM export_jobs
        WHERE created_at < now() - $1::integer * interval '1 day' AND finished_at < now() - $1::integer * interval '1 day'
          AND status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND upload_id IS NULL
        LIMIT $2::integer FOR UPDATE SKIP LOCKED)
      RETURNING 1)
    SELECT count(*) AS deleted FROM expired)", parameters);
  if (!deleted) co_return deleted.error();
  co_return static_cast<int>(deleted->int64(0, "deleted").value_or(0));
}

JobStore::Task<std::optional<std::string>> JobStore::refuse_value(std::string_view value, std::string_view type) {
  const pg::Parameter parameters[] = {hex(value)};
  const std::string statement = cast_check_sql(type);
  auto checked = co_await run(statement, parameters);
  if (checked) co_return std::optional<std::string>{};
  if (checked.error().code != pg::errc::server_error) co_return checked.error();
  // The server's words, which quote the value: cut short, for a value may be a megabyte.
  std::string words = checked.error().message;
  if (auto state = words.find("SQLSTATE "); state != std::string::npos) words.erase(0, state);
  if (words.size() > 300) words = words.substr(0, 300) + "...";
  co_return std::optional<std::string>(std::move(words));
}

JobStore::Task<void> JobStore::ping(std::chrono::milliseconds deadline) {
  auto answered = co_await run("SELECT 1", {}, deadline);
  if (!answered) co_return answered.error();
  co_return Result<void>{};
}

}  // namespace pg2s3::engine

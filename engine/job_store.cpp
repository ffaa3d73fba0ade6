#include "engine/job_store.hpp"

#include <boost/asio/error.hpp>

#include <random>

namespace pg2s3::engine {

namespace asio = boost::asio;

namespace {

constexpr std::string_view create_table = R"(
  SET client_min_messages = warning;
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
    finished_at timestamptz);
  ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS bytes_uploaded bigint NOT NULL DEFAULT 0;
  ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS compression text NOT NULL DEFAULT 'none';
  ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS upload_id text;
  ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS owner integer;
  ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS format text NOT NULL DEFAULT 'csv';
  CREATE INDEX IF NOT EXISTS export_jobs_created_at ON export_jobs (created_at DESC);
  RESET client_min_messages)";

// The first key of the advisory locks that mark a live owner ("pg2s").
constexpr std::string_view owner_lock_space = "1885811315";

// Times travel as milliseconds since the epoch.
constexpr std::string_view columns =
    "id::text, dataset, status, total_records, processed_records, bytes_uploaded, s3_key, format, compression, "
    "upload_id, error_message, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms, "
    "(extract(epoch FROM started_at) * 1000)::bigint AS started_ms, "
    "(extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms";

pg::Parameter millis(std::optional<TimePoint> time) {
  if (!time) return std::nullopt;
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count());
}

std::optional<TimePoint> time_at(const pg::QueryResult& rows, int row, std::string_view column) {
  auto ms = rows.int64(row, column);
  if (!ms) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(*ms));
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
  job.upload_id = rows.text(row, "upload_id").value_or("");
  job.error_message = rows.text(row, "error_message").value_or("");
  job.created_at = time_at(rows, row, "created_ms").value_or(TimePoint{});
  job.started_at = time_at(rows, row, "started_ms");
  job.finished_at = time_at(rows, row, "finished_ms");
  return job;
}

std::vector<JobRecord> jobs_in(const pg::QueryResult& rows) {
  std::vector<JobRecord> jobs;
  for (int row = 0; row < rows.rows(); ++row) jobs.push_back(job_at(rows, row));
  return jobs;
}

Error store_error(const pg::Error& error) { return {error.code, "export_jobs: " + error.message()}; }

}  // namespace

JobStore::JobStore(asio::any_io_executor executor, std::string database_url)
    : executor_(executor),
      database_url_(std::move(database_url)),
      owner_(static_cast<std::int32_t>(std::random_device{}() & 0x7FFFFFFF) | 1),
      turn_(executor) {}

std::unique_ptr<JobStore> JobStore::open(asio::any_io_executor executor, std::string database_url) {
  return std::unique_ptr<JobStore>(new JobStore(executor, std::move(database_url)));
}

JobStore::Task<void> JobStore::reconnect() {
  connection_.reset();
  auto connected = co_await pg::Connection::connect(executor_, database_url_);
  if (!connected) co_return store_error(connected.error());
  const std::string claim = "SELECT pg_advisory_lock(" + std::string(owner_lock_space) + ", " +
                            std::to_string(owner_) + ")";
  if (auto claimed = co_await connected->execute(claim); !claimed) co_return store_error(claimed.error());
  if (auto created = co_await connected->execute(create_table); !created) co_return store_error(created.error());
  connection_.emplace(std::move(*connected));
  co_return Result<void>{};
}

JobStore::Task<pg::QueryResult> JobStore::run(std::string_view sql, std::span<const pg::Parameter> parameters) {
  const auto turn = co_await turn_.take();
  if (!turn) co_return Error{asio::error::operation_aborted, "export_jobs: cancelled while waiting for the connection"};
  const bool reused = connection_ && connection_->is_open();
  auto outcome = co_await run_once(sql, parameters);
  // A connection that went idle before the database restarted fails at its next use: try once on a new one.
  // Every statement here may run twice.
  if (!outcome && reused && !(connection_ && connection_->is_open())) outcome = co_await run_once(sql, parameters);
  co_return outcome;
}

JobStore::Task<pg::QueryResult> JobStore::run_once(std::string_view sql, std::span<const pg::Parameter> parameters) {
  if (!connection_ || !connection_->is_open()) {
    if (auto connected = co_await reconnect(); !connected) co_return connected.error();
  }
  const bool multiple_statements = parameters.empty();
  if (multiple_statements) {
    auto done = co_await connection_->execute(sql);
    if (!done) co_return store_error(done.error());
    co_return pg::QueryResult{};
  }
  auto rows = co_await connection_->query(sql, parameters);
  if (!rows) co_return store_error(rows.error());
  co_return std::move(*rows);
}

JobStore::Task<void> JobStore::save(const JobRecord& job) {
  const pg::Parameter parameters[] = {
      job.id,
      job.dataset,
      std::string(to_string(job.status)),
      job.total_records ? pg::Parameter(std::to_string(*job.total_records)) : std::nullopt,
      std::to_string(job.processed_records),
      std::to_string(job.bytes_uploaded),
      job.s3_key,
      std::string(to_string(job.compression)),
      std::string(to_string(job.format)),
      job.upload_id.empty() ? pg::Parameter() : job.upload_id,
      job.error_message.empty() ? pg::Parameter() : job.error_message,
      millis(job.created_at),
      millis(job.started_at),
      millis(job.finished_at),
      std::to_string(owner_)};
  auto saved = co_await run(R"(
    INSERT INTO export_jobs (id, dataset, status, total_records, processed_records, bytes_uploaded, s3_key,
                             compression, format, upload_id, error_message, created_at, started_at, finished_at,
                             owner)
    VALUES ($1::uuid, $2, $3, $4::bigint, $5::bigint, $6::bigint, $7, $8, $9, $10, $11,
            to_timestamp($12::double precision / 1000), to_timestamp($13::double precision / 1000),
            to_timestamp($14::double precision / 1000), $15::integer)
    ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner,
      status = EXCLUDED.status, total_records = EXCLUDED.total_records,
      processed_records = EXCLUDED.processed_records, bytes_uploaded = EXCLUDED.bytes_uploaded,
      upload_id = EXCLUDED.upload_id, error_message = EXCLUDED.error_message,
      started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at)",
                            parameters);
  if (!saved) co_return saved.error();
  co_return Result<void>{};
}

JobStore::Task<std::optional<JobRecord>> JobStore::find(std::string_view id) {
  const pg::Parameter parameters[] = {std::string(id)};
  const std::string sql = "SELECT " + std::string(columns) + " FROM export_jobs WHERE id = $1::uuid";
  auto rows = co_await run(sql, parameters);
  if (!rows) co_return rows.error();
  if (rows->rows() == 0) co_return std::optional<JobRecord>{};
  co_return job_at(*rows, 0);
}

JobStore::Task<std::vector<JobRecord>> JobStore::list(int limit) {
  const pg::Parameter parameters[] = {std::to_string(limit)};
  const std::string sql =
      "SELECT " + std::string(columns) + " FROM export_jobs ORDER BY created_at DESC, id LIMIT $1::int";
  auto rows = co_await run(sql, parameters);
  if (!rows) co_return rows.error();
  co_return jobs_in(*rows);
}

JobStore::Task<std::vector<JobRecord>> JobStore::fail_interrupted() {
  const pg::Parameter parameters[] = {"interrupted: the server stopped before the export ended",
                                      std::to_string(owner_)};
  // An owner's lock that can be had (for this statement's transaction only) belongs to a session that is gone.
  const std::string sql = "UPDATE export_jobs SET status = 'FAILED', error_message = $1, finished_at = now() "
                          "WHERE status IN ('PENDING', 'RUNNING') AND owner IS DISTINCT FROM $2::integer "
                          "AND (owner IS NULL OR pg_try_advisory_xact_lock(" + std::string(owner_lock_space) +
                          ", owner)) RETURNING " + std::string(columns);
  auto rows = co_await run(sql, parameters);
  if (!rows) co_return rows.error();
  co_return jobs_in(*rows);
}

JobStore::Task<std::vector<JobRecord>> JobStore::with_open_uploads() {
  const pg::Parameter parameters[] = {"1000"};
  const std::string sql = "SELECT " + std::string(columns) + " FROM export_jobs WHERE upload_id IS NOT NULL "
                          "AND status IN ('FAILED', 'CANCELLED') ORDER BY finished_at LIMIT $1::int";
  auto rows = co_await run(sql, parameters);
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

JobStore::Task<void> JobStore::ping() {
  auto answered = co_await run("SELECT 1", {});
  if (!answered) co_return answered.error();
  co_return Result<void>{};
}

}  // namespace pg2s3::engine

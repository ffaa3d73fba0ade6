// What an Engine needs: where the data and the bucket are, which datasets exist, and its limits.
#pragma once

#include "engine/job.hpp"
#include "s3/client.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::engine {

// A typed value a request may give a dataset's query: its $1, $2... in the order declared.
struct DatasetParam {
  std::string name;
  std::string type;  // a PostgreSQL type name, checked by is_type_name (engine/dataset_params.hpp)
  bool required = false;
  std::optional<std::string> default_value = std::nullopt;  // none: NULL when the request leaves it out
};

// A name the operator binds to one query; callers choose datasets, never SQL.
struct Dataset {
  std::string name;
  std::string query;  // the whole SELECT; made by table_query() when the dataset names a table
  bool exact_count = false;  // count(*) in the export's snapshot rather than the planner's estimate
  Format format = Format::csv;  // when the request names none
  bool parquet_delta = false;   // Parquet integers as DELTA_BINARY_PACKED, which readers before Spark 3.3 refuse
  // The one table the dataset reads, when it reads one: what lets an export split it into ranges of pages.
  std::string table = {};
  std::vector<std::string> columns = {};  // of that table; empty: every column
  std::string where = {};            // a condition on that table's rows; empty: every row
  int parallelism = 1;          // backends reading it at once, when the request names none
  std::uint64_t max_file_size = 0;  // split output, when the request names none; 0: one object
  std::string description = {};
  std::vector<DatasetParam> params = {};  // of a query dataset
};

// "SELECT <columns> FROM <table> [WHERE <where>]", the table and columns quoted as identifiers (each part
// of a schema-qualified table name on its own).
std::string table_query(const Dataset& dataset);
// "name" with its double quotes doubled, as PostgreSQL reads an identifier.
std::string quote_identifier(std::string_view name);
// "schema"."table": each part of a dotted name quoted on its own.
std::string quote_table(std::string_view name);

// Backends one export may read with at once.
inline constexpr int max_parallelism = 64;

// `users`: the table users, columns id, email, name, created_at
std::vector<Dataset> default_datasets();

// How processes that share export_jobs share its jobs (see JobStore).
struct JobQueueConfig {
  // Take any PENDING job from the table, as `serve` does, woken by NOTIFY and polling. False: run only the
  // jobs started here (the export command, an embedding server), holding them PENDING meanwhile so that
  // no other process takes them. Either way a running job holds a lease, renewed by its heartbeat.
  bool claim_jobs = false;
  std::chrono::milliseconds lease{30'000};  // an attempt's hold on its job, renewed by every heartbeat
  std::chrono::milliseconds poll_interval{5'000};  // PENDING jobs are looked for this often besides NOTIFY
  std::chrono::milliseconds retry_backoff{10'000};  // before a rescued job may run again; doubles per attempt
  int max_attempts = 3;
  int retention_days = 30;  // ended jobs older than this are deleted by the sweep
  // PENDING jobs past which a new one is refused (errc::at_capacity), counted by the INSERT itself.
  int max_pending = 1000;
  // A PENDING job of a dataset that no claiming process has had in its configuration for this long fails
  // (a dataset renamed or removed, a job recorded by a process with other datasets). Long enough for a
  // rolling deploy that adds a dataset to reach a process that knows it.
  std::chrono::milliseconds unknown_dataset_grace{600'000};
  // Where export_jobs lives, when not with the exported data. Its statements are short and many processes
  // share it, so it may go through a transaction-mode pooler; an export holds one transaction (several,
  // parallel) for its whole length, which a pooler cannot share.
  std::string database_url;  // empty: EngineConfig::database_url
  // LISTEN needs a session of its own: set this when the jobs' database goes through a transaction-mode
  // pooler.
  std::string listen_url;  // empty: the jobs' database
  // How long one statement on export_jobs (connecting included) may go unanswered before its connection is
  // closed and the statement fails: a silent database must not hold heartbeats and the API behind it.
  std::chrono::milliseconds statement_timeout{5'000};
};

struct EngineConfig {
  std::string database_url;  // libpq conninfo; empty: libpq's PG* defaults
  std::string bucket;
  s3::ClientConfig s3;
  s3::UploadOptions upload;  // encryption, storage class, tags... of every upload
  std::map<std::string, s3::UploadOptions, std::less<>> dataset_uploads;  // a dataset's own, by its name
  std::vector<Dataset> datasets = default_datasets();
  std::string key_prefix = "exports/";  // where generated keys go, and the only place requested keys may go

  std::size_t part_size = 8 * 1024 * 1024;     // S3's minimum is 5 MiB
  std::size_t buffer_budget = 64 * 1024 * 1024;  // all part buffers of all exports together
  // Parts one export may upload at once. It starts at one; while the reader waits on the uploads it becomes
  // as many as the reader's rate needs of one upload's, as far as the budget has room, and a step that
  // brings no more throughput is undone (detail::InFlightLimit).
  int max_parts_in_flight = 8;
  // The output a parallel export's ranges of pages aim at. A reader reads about one range ahead of its
  // turn (its backend then waits), so this is about how much reading overlaps; smaller ranges balance better
  // and run more statements.
  std::size_t range_size = 8 * 1024 * 1024;
  // The most files one split export writes; the one past it fails the export, naming maxFileSize. The
  // manifest and the cleanup's lists stay bounded, and the five-digit file numbers keep listing order
  // equal to the manifest's (part-100000 would list before part-99999).
  std::size_t max_split_files = 10'000;
  int max_running_exports = 8;
  std::chrono::seconds download_url_lifetime{3600};
  // How often a running job's heartbeat renews its lease and carries its progress to export_jobs.
  std::chrono::milliseconds progress_interval{1000};
  // How often expired leases are rescued and left uploads aborted besides at start-up; 0: only at start-up.
  // A periodic sweep keeps a timer waiting on the executor for as long as the Engine lives.
  std::chrono::milliseconds sweep_interval{0};
  // A running export that has read no row and uploaded no byte for this long says so (status and metric).
  std::chrono::milliseconds stall_after{60'000};
  JobQueueConfig jobs;
};

// The database of export_jobs and of its LISTEN session.
const std::string& jobs_database_url(const EngineConfig& config);
const std::string& jobs_listen_url(const EngineConfig& config);

const Dataset* find_dataset(const EngineConfig& config, std::string_view name);
// The dataset's own upload options, else the configuration's.
const s3::UploadOptions& upload_options(const EngineConfig& config, std::string_view dataset);

}  // namespace pg2s3::engine

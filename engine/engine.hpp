// The export service as a library: start, watch and cancel exports with co_await on the caller's executor.
#pragma once

#include "engine/config.hpp"
#include "engine/dataset_params.hpp"
#include "engine/error.hpp"
#include "engine/job.hpp"
#include "engine/job_query.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::engine {

struct ExportRequest {
  std::string dataset;
  std::string key;  // empty: <key_prefix><jobId>.csv[.gz|.zst], or .parquet
  std::optional<Compression> compression = std::nullopt;  // none: the format's default (none for CSV, zstd for Parquet)
  std::string output_path;  // when set, the bytes go to this file ("-": stdout) instead of S3
  std::optional<Format> format = std::nullopt;  // none: the dataset's
  // Backends reading the dataset's table at once, in one snapshot (1..64); none: the dataset's.
  std::optional<int> parallelism = std::nullopt;
  // When set, the output is split into files of at most this many bytes under the key as a prefix (or in
  // the directory output_path), with a manifest; none: the dataset's, else one object.
  std::optional<std::uint64_t> max_file_size = std::nullopt;
  // When set, a second request under the same key returns the first one's job instead of starting
  // another; the same key with a different request is refused (errc::conflict).
  std::string idempotency_key = {};
  ParamArguments params = {};  // the dataset's parameters, by name
};

// One file of a split output, as GET /exports/{id}/download-url lists it.
struct FileDownload {
  std::string key;
  s3::PresignedUrl url;
  std::uint64_t bytes = 0;
  std::int64_t records = 0;
};

struct EngineMetrics {
  std::map<JobStatus, std::uint64_t> jobs_ended;  // by final status, since start
  std::uint64_t rows_exported = 0;
  std::uint64_t bytes_exported = 0;
  std::uint64_t parts_uploaded = 0;
  std::uint64_t s3_retries = 0;
  std::size_t buffer_bytes_in_use = 0;    // lent to exports
  std::size_t buffer_bytes_held = 0;      // lent, or kept for reuse
  std::size_t buffer_bytes_peak = 0;      // the most ever held: never over the budget
  std::size_t buffer_leases_overgrown = 0;  // buffers that grew past their reservation: should stay 0
  std::size_t exports_running = 0;
  std::size_t exports_waiting = 0;
  std::size_t exports_stalled = 0;  // running, with no progress for stall_after
};

// A requested key, checked and placed under the prefix; the reason it cannot be used otherwise.
Result<std::string> object_key(std::string_view requested, std::string_view prefix, std::string_view job_id,
                               Format format, Compression compression);

// Everything runs on the executor given to start(). Destroying the Engine cancels the exports it runs;
// their endings are still saved by the work itself, which the executor must run to its end. Jobs still
// waiting for room are left PENDING, and fail ("interrupted") at the next rescue by any process.
class Engine {
 public:
  template <class T>
  using Task = boost::asio::awaitable<Result<T>>;

  // Sweeps export_jobs (creating it when absent): jobs whose lease expired go back to PENDING, or FAILED
  // when their attempts are spent, uploads their attempts left are aborted, and ended jobs past the
  // retention are deleted; then again every sweep_interval when that is set. With config.jobs.claim_jobs
  // it then claims PENDING jobs while it has room, woken by NOTIFY and polling. A database that does not
  // answer yet is logged, not fatal: the engine reconnects at its next use. Fails only for S3 settings
  // that cannot work.
  static Task<std::unique_ptr<Engine>> start(boost::asio::any_io_executor executor, EngineConfig config);
  ~Engine();

  // Checks the request and records the job PENDING: for any process of the fleet to claim (claim_jobs),
  // or held for this one, which runs at most max_running_exports at once and the rest in arrival order.
  Task<JobRecord> start_export(ExportRequest request);
  // From memory while the job is active, from export_jobs after.
  Task<std::optional<JobRecord>> find_job(std::string_view id);
  // A page of the jobs the query asks for, newest first.
  Task<JobPage> list_jobs(const JobQuery& query);
  // Waits until the job is final.
  Task<JobRecord> wait(std::string_view id);
  // Cancels a PENDING or RUNNING job, wherever it runs: it ends CANCELLED with its upload aborted, or
  // COMPLETED when its object was already being completed. False when it is not active.
  Task<bool> cancel(std::string_view id);

  // Whether the database answers and S3 credentials are at hand; the reason when not.
  Task<void> check_health();
  // Starts and claims nothing more (start_export answers errc::shutting_down), cancels the jobs held for
  // this process, lets running ones finish for up to `drain`, then aborts the rest and hands them back
  // PENDING, their attempts unspent, for another process (or this one after a restart). Returns when
  // every ending is saved.
  boost::asio::awaitable<void> shutdown(std::chrono::steady_clock::duration drain);
  // Ends the drain of shutdown() now (or makes the next one end at once): running exports are handed back.
  void end_drain();

  // A presigned GET URL for a COMPLETED job's object (of a split output: its manifest), valid for
  // download_url_lifetime or until the credentials that sign it expire, whichever comes first.
  Result<s3::PresignedUrl> download_url(const JobRecord& job) const;
  // Of a COMPLETED split output: each file the manifest lists, with its presigned URL.
  Task<std::vector<FileDownload>> file_downloads(const JobRecord& job);
  EngineMetrics metrics() const;
  const EngineConfig& config() const;
  // The datasets from now on (a reload of the configuration): jobs already started keep the definition
  // they started with; new ones, and jobs claimed from now on, take these. Upload options stay as they
  // were: an upload being created holds on to them.
  void replace_datasets(std::vector<Dataset> datasets);

 private:
  struct Impl;
  explicit Engine(std::shared_ptr<Impl> impl);
  // The request's parameter values with the defaults, each one taken by PostgreSQL as its declared type.
  Task<ParamValues> checked_params(const Dataset& dataset, const ParamArguments& given);
  std::shared_ptr<Impl> impl_;
};

}  // namespace pg2s3::engine

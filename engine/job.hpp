// An export job as the API and export_jobs see it, and the rules of its life: states, progress, ids.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::engine {

// PENDING -> RUNNING -> COMPLETED | FAILED | CANCELLED; a PENDING job may also be cancelled or fail.
enum class JobStatus { pending, running, completed, failed, cancelled };

std::string_view to_string(JobStatus status);
std::optional<JobStatus> parse_job_status(std::string_view text);
bool is_final(JobStatus status);
bool can_transition(JobStatus from, JobStatus to);

enum class Format { csv, parquet };

std::string_view to_string(Format format);
std::optional<Format> parse_format(std::string_view text);

// Of the whole CSV stream; of each page for Parquet, which alone takes snappy.
enum class Compression { none, snappy, gzip, zstd };

std::string_view to_string(Compression compression);
std::optional<Compression> parse_compression(std::string_view text);
Compression default_compression(Format format);  // none for CSV, zstd for Parquet
// Why the format cannot take the compression, if it cannot.
std::optional<std::string> refuse_compression(Format format, Compression compression);
std::string_view file_extension(Format format, Compression compression);  // ".csv", ".csv.gz", ".csv.zst", ".parquet"
// "text/csv", "application/gzip", "application/zstd", "application/vnd.apache.parquet"
std::string_view content_type(Format format, Compression compression);

using TimePoint = std::chrono::system_clock::time_point;

// A dataset's parameters as a job runs with them, by name; nothing: SQL NULL.
using ParamValues = std::map<std::string, std::optional<std::string>, std::less<>>;

struct JobRecord {
  std::string id;  // a UUID
  std::string dataset;
  JobStatus status = JobStatus::pending;
  std::optional<std::int64_t> total_records;  // the planner's estimate, or an exact count
  std::int64_t processed_records = 0;
  std::uint64_t bytes_uploaded = 0;
  std::string s3_key;
  Format format = Format::csv;
  Compression compression = Compression::none;
  int parallelism = 1;  // backends reading the dataset at once
  // Split output: files of at most this many bytes under the prefix s3_key, then manifest_key; 0: one object.
  std::uint64_t max_file_size = 0;
  std::optional<int> files;  // of a split output: how many were written
  std::string manifest_key;
  bool local_output = false;  // s3_key names a local file or directory, written by the process that started it
  std::string upload_id;  // of the multipart upload while one is open, so that it can be aborted later
  std::string error_message;
  std::string retrying;  // the S3 request being retried and why, while it is; kept in memory only
  // While it runs here with no row read and no byte uploaded for EngineConfig::stall_after or longer: for
  // how long. Its lease stays fresh meanwhile (its heartbeats go on), so this is what says it is stuck (a
  // share of the buffer budget, a silent S3 or backend). Kept in memory only.
  std::optional<std::int64_t> stalled_seconds;
  int attempt = 0;  // 1 on the first run; 0 while it never ran
  int max_attempts = 3;
  std::string runner;  // "host:pid" of the process that runs it, or ran it last
  std::vector<std::string> errors;  // why earlier attempts ended without an outcome, oldest first
  ParamValues params;  // the dataset's parameters, defaults filled in: what any process that runs it binds
  TimePoint created_at{};
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
};

// 0..99 until COMPLETED, 100 then: an estimate may be exceeded, and "done" is said only by the status.
int progress_percent(const JobRecord& job);

// Whether the job writes one S3 object under the key made of its own id (no key was asked for): whatever
// stands there is this job's, which nobody could have named before the job existed.
bool writes_its_own_key(const JobRecord& job);
// The same for a split output in S3: its files are under a prefix made of its own id.
bool writes_its_own_prefix(const JobRecord& job);

// A random (version 4) UUID in its canonical lower-case form.
std::string new_job_id();
bool is_job_id(std::string_view text);

// "256MiB", "1GiB", "64KiB", "5000" (bytes): a size as people write it; nothing when it is not one.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// "2026-01-13T10:00:00Z"
std::string iso8601(TimePoint time);

}  // namespace pg2s3::engine

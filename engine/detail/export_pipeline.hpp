// One export from snapshot to object: COPY rows -> part buffers -> bounded channel -> part writer.
#pragma once

#include "engine/buffer_pool.hpp"
#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/job.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

namespace pg2s3::pg {
class Connection;
}

namespace pg2s3::engine::detail {

// What the pipeline reports as it goes; `changed` runs after every update.
struct ExportProgress {
  std::optional<std::int64_t> total_records;
  std::int64_t processed_records = 0;
  std::uint64_t bytes_uploaded = 0;
  std::uint64_t parts_uploaded = 0;
  std::optional<int> files;  // of a split output, written so far
  std::string upload_id;  // the upload still open: set once created, cleared once completed or aborted
  std::string abort_failure;  // why the upload could not be aborted, when it could not
  std::function<void()> changed;
  // Set by whoever cancels. The cancellation signal stops a waiting step; this flag is checked after
  // every part and before committing, so a cancelled export never completes even if the signal missed.
  bool cancel_requested = false;
  // Set when another attempt of the job owns its output now (this one lost its lease): stopping, this
  // attempt removes what is its own alone, its open upload, and no file under a key the other writes.
  bool output_taken_over = false;
  // When set, asked right before each CompleteMultipartUpload of the output (each file of a split output,
  // the last once the snapshot's transaction has ended): a failure stops the export.
  std::function<boost::asio::awaitable<Result<void>>()> before_complete;
  // When set, asked before a failed split output deletes the files it completed: true only when this
  // attempt is known to hold its job still. An attempt that learns of a takeover from S3 (its upload
  // aborted by the attempt that took over) has not been told by any heartbeat, and those keys are the
  // other attempt's now.
  std::function<boost::asio::awaitable<bool>()> output_still_ours;
};

// The outcome of an export stopped on request.
extern const Error cancelled;

struct ExportTarget {
  const Dataset* dataset;
  Format format;
  Compression compression;  // of the CSV stream, or of each Parquet page
  std::string s3_key;       // where the object goes
  std::string output_path;  // instead, when not empty: a local file, or "-" for stdout
  int parallelism = 1;      // backends reading the dataset's table at once, in one snapshot
  // When set, files of at most this many bytes under the prefix s3_key (or in the directory
  // output_path), then a manifest.
  std::uint64_t max_file_size = 0;
  std::string job_id;  // named in the manifest
};

class PartWriter;

// Opens where one output's bytes go: the local file `destination` when the target writes locally, else a
// multipart upload to the S3 key `destination`, with the dataset's upload options.
boost::asio::awaitable<Result<std::unique_ptr<PartWriter>>> open_part_writer(const EngineConfig& config,
                                                                             s3::Client& client,
                                                                             const ExportTarget& target,
                                                                             std::string destination);

class InFlightLimit;

// Sends one part to the writer, and counts it; the limit learns how long it took.
boost::asio::awaitable<Result<void>> upload_part(PartWriter& writer, BufferPool::Lease part, InFlightLimit& limit,
                                                 ExportProgress& progress);

// The parts the budget could still lend beside the one the reader fills next: how far the limit may grow.
int parts_with_room(const BufferPool& pool, std::size_t part_size);

// After the data: the snapshot's transaction ends, then the last word before the output appears. A cancel,
// or a failure of progress.before_complete, stops it there.
boost::asio::awaitable<Result<void>> end_snapshot(pg::Connection& connection, ExportProgress& progress);

// Runs the export in one REPEATABLE READ READ ONLY snapshot, on one backend or, with parallelism, on
// several that share it. The output appears only when every COPY ended cleanly and the snapshot's
// transaction committed; on any failure or cancellation it is aborted once.
boost::asio::awaitable<Result<void>> run_export(const EngineConfig& config, s3::Client& client, BufferPool& pool,
                                                const ExportTarget& target, ExportProgress& progress);

}  // namespace pg2s3::engine::detail

#include "engine/detail/sweep.hpp"

#include "engine/detail/log.hpp"
#include "engine/detail/split_output.hpp"
#include "engine/job_store.hpp"
#include "s3/client.hpp"

#include <vector>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {

// The uploads open at a rescued job's key, for an attempt that died before it recorded its own.
asio::awaitable<std::vector<s3::MultipartUploadListing>> uploads_at_key(s3::Client& client, const std::string& bucket,
                                                                        const JobRecord& job) {
  std::vector<s3::MultipartUploadListing> found;
  if (job.s3_key.empty() || !job.started_at || job.status == JobStatus::running) co_return found;
  auto listed = co_await client.list_multipart_uploads(bucket, job.s3_key);
  if (!listed) {
    log("listing the uploads of job " + job.id + ": " + listed.error().message());
    co_return found;
  }
  for (auto& upload : *listed)
    if (upload.key == job.s3_key) found.push_back(std::move(upload));
  co_return found;
}

// A split output's record names at most the upload of the file open last (or, after a cleanup that
// failed, that something is left). Once the job has ended without completing, everything under its
// prefix goes, when the prefix is its own; under a prefix the request named (which other jobs may
// share) only the recorded upload is aborted. The record is forgotten once that is done. A job that will
// run again is left to its next attempt, which cleans the prefix first and may already be writing there.
asio::awaitable<void> clean_split_output(JobStore& store, s3::Client& client, const std::string& bucket,
                                         const JobRecord& job) {
  if (job.status == JobStatus::running || job.status == JobStatus::pending) co_return;
  if (!job.started_at && job.upload_id.empty()) co_return;  // it never ran
  const bool unfinished = job.status != JobStatus::completed;
  Result<void> cleaned;
  if (unfinished && writes_its_own_prefix(job)) cleaned = co_await delete_split_output(client, bucket, job.s3_key);
  else if (!job.upload_id.empty()) cleaned = co_await abort_split_uploads(client, bucket, job.s3_key, job.upload_id);
  if (!cleaned) {
    log("job " + job.id + ": cleaning up its files: " + cleaned.error().message);
    co_return;
  }
  if (job.upload_id.empty()) co_return;
  if (auto forgotten = co_await store.forget_upload(job.id, job.upload_id); !forgotten) log(forgotten.error().message);
}

// The rescued or ended job's upload, or the uploads at its key for an attempt that died before it recorded
// its own; for a split output, what is under its prefix.
asio::awaitable<void> abort_uploads_of(JobStore& store, s3::Client& client, const std::string& bucket,
                                       const JobRecord& job) {
  if (job.max_file_size && !job.local_output) co_return co_await clean_split_output(store, client, bucket, job);
  std::vector<s3::MultipartUploadListing> uploads;
  if (!job.upload_id.empty()) uploads.push_back({job.s3_key, job.upload_id, {}});
  else uploads = co_await uploads_at_key(client, bucket, job);
  for (const auto& upload : uploads) {
    auto aborted = co_await client.abort_multipart_upload(bucket, upload.key, upload.upload_id);
    if (!aborted && aborted.error().s3_code != "NoSuchUpload") {
      log("aborting the upload of job " + job.id + ": " + aborted.error().message());
      continue;
    }
    if (auto forgotten = co_await store.forget_upload(job.id, upload.upload_id); !forgotten) log(forgotten.error().message);
  }
}

// Jobs whose lease expired run again elsewhere, or fail when their attempts are spent.
asio::awaitable<void> rescue(JobStore& store, s3::Client& client, const std::string& bucket) {
  auto rescued = co_await store.rescue();
  if (!rescued) {
    log(rescued.error().message);
    co_return;
  }
  for (const auto& job : *rescued) {
    log("job " + job.id + ": " + (job.errors.empty() ? std::string("its lease expired") : job.errors.back()) + ": " +
        (job.status == JobStatus::failed ? "FAILED, its attempts spent" : "PENDING again"));
    // An output that will not run again loses its files too (abort_uploads_of, for a split output), and an
    // object one of its attempts completed before its ending could be stored.
    co_await abort_uploads_of(store, client, bucket, job);
    if (job.status == JobStatus::failed) co_await delete_stray_object(client, bucket, job);
  }
}

// An upload is forgotten once aborted, or once S3 no longer knows it (another process aborted it first).
asio::awaitable<void> abort_left_uploads(JobStore& store, s3::Client& client, const std::string& bucket) {
  auto jobs = co_await store.with_open_uploads();
  if (!jobs) {
    log(jobs.error().message);
    co_return;
  }
  for (const auto& job : *jobs) co_await abort_uploads_of(store, client, bucket, job);
}

// Ended jobs past the retention, in small batches so that no statement holds many rows.
asio::awaitable<void> delete_expired(JobStore& store, const std::function<bool()>& accepting) {
  constexpr int batch = 500;
  for (int deleted = batch; deleted == batch && accepting();) {
    auto done = co_await store.delete_expired(batch);
    if (!done) {
      log(done.error().message);
      co_return;
    }
    deleted = *done;
  }
}

// Records the datasets this process claims, and fails PENDING jobs of datasets nobody has claimed for a
// while. First in the sweep: S3 work after it may take long, and a record that lapses fails live jobs.
asio::awaitable<void> fail_unknown_datasets(JobStore& store, const std::vector<std::string>& claimed_datasets) {
  if (claimed_datasets.empty()) co_return;
  auto failed = co_await store.fail_unknown_datasets(claimed_datasets);
  if (!failed) {
    log(failed.error().message);
    co_return;
  }
  for (const auto& job : *failed) log("job " + job.id + ": FAILED: " + job.error_message);
}

}  // namespace

asio::awaitable<void> delete_stray_object(s3::Client& client, const std::string& bucket, const JobRecord& job) {
  if (!writes_its_own_key(job)) co_return;
  auto stands = co_await client.head_object(bucket, job.s3_key);
  if (!stands) co_return;
  log("job " + job.id + ": an object an attempt completed stands at " + job.s3_key +
      ", but the job did not complete: deleting it");
  if (auto deleted = co_await client.delete_object(bucket, job.s3_key); !deleted)
    log("job " + job.id + ": deleting " + job.s3_key + ": " + deleted.error().message());
}

asio::awaitable<void> sweep(JobStore& store, s3::Client& client, const std::string& bucket,
                            std::function<bool()> accepting, std::vector<std::string> claimed_datasets) {
  co_await fail_unknown_datasets(store, claimed_datasets);
  co_await rescue(store, client, bucket);
  co_await abort_left_uploads(store, client, bucket);
  co_await delete_expired(store, accepting);
}

}  // namespace pg2s3::engine::detail

#include "engine/detail/sweep.hpp"

#include "engine/detail/log.hpp"
#include "engine/detail/split_output.hpp"
#include "engine/job_store.hpp"
#include "s3/client.hpp"

#include <vector>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {

// The uploads open at a rescued job's key, or under its prefix for a split output, for an attempt that
// died before it recorded its own.
asio::awaitable<std::vector<s3::MultipartUploadListing>> uploads_at_key(s3::Client& client, const std::string& bucket,
                                                                        const JobRecord& job) {
  std::vector<s3::MultipartUploadListing> found;
  if (job.s3_key.empty() || !job.started_at || job.status == JobStatus::running) co_return found;
  auto listed = co_await client.list_multipart_uploads(bucket, job.s3_key);
  if (!listed) {
    log("listing the uploads of job " + job.id + ": " + listed.error().message());
    co_return found;
  }
  const std::string files = job.s3_key + "/";
  for (auto& upload : *listed)
    if (upload.key == job.s3_key || (job.max_file_size && upload.key.starts_with(files))) found.push_back(std::move(upload));
  co_return found;
}

// The rescued job's upload, or the uploads at its key (under its prefix, for a split output) for an
// attempt that died before it recorded its own.
asio::awaitable<void> abort_uploads_of(JobStore& store, s3::Client& client, const std::string& bucket,
                                       const JobRecord& job) {
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
    co_await abort_uploads_of(store, client, bucket, job);
    // An output that will not run again: the files its attempts wrote go too, and an object one of them
    // completed before its ending could be stored.
    if (job.status == JobStatus::failed && job.max_file_size && !job.local_output) {
      if (auto deleted = co_await delete_split_output(client, bucket, job.s3_key); !deleted)
        log("job " + job.id + ": deleting the files of its attempts: " + deleted.error().message);
    }
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

asio::awaitable<void> fail_unknown_datasets(JobStore& store, const std::vector<std::string>& claimed_datasets) {
  if (claimed_datasets.empty()) co_return;
  auto failed = co_await store.fail_unknown_datasets(claimed_datasets);
  if (!failed) {
    log(failed.error().message);
    co_return;
  }
  for (const auto& job : *failed) log("job " + job.id + ": FAILED: " + job.error_message);
}

asio::awaitable<void> sweep(JobStore& store, s3::Client& client, const std::string& bucket,
                            std::function<bool()> accepting, std::vector<std::string> claimed_datasets) {
  co_await rescue(store, client, bucket);
  co_await fail_unknown_datasets(store, claimed_datasets);
  co_await abort_left_uploads(store, client, bucket);
  co_await delete_expired(store, accepting);
}

}  // namespace pg2s3::engine::detail

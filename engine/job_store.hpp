// export_jobs as a queue that any number of processes share, over a bookkeeping connection of its own.
//
// A job is claimed with FOR UPDATE SKIP LOCKED; the claim gives its attempt a fresh lease token and an
// expiry that the runner's heartbeat extends. Every write of a runner names its token, so a runner whose
// lease expired (its process froze or lost the database) and was rescued by another process changes
// nothing. Times come from the database's now(), never from the machines' clocks, and the lease is the only
// thing that decides a job is abandoned: no session state, which a transaction-mode pooler shares between
// processes and a dropped connection loses while its process lives.
#pragma once

#include "async/sync.hpp"
#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/job.hpp"
#include "engine/job_query.hpp"
#include "pg/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pg2s3::engine {

// The channel of the NOTIFYs that say a job was queued ("queued") or asked to stop ("cancel <id>").
inline constexpr std::string_view jobs_channel = "pg2s3_jobs";

// A job this process runs, with the token of its attempt's lease.
struct Claim {
  JobRecord job;
  std::string lease_token;
};

// What a heartbeat learns: whether someone asked the job to stop.
struct LeaseRenewal {
  bool cancel_requested = false;
};

// An Idempotency-Key and what identifies the request made under it.
struct Idempotency {
  std::string key;
  std::string request;
};

class JobStore {
 public:
  template <class T>
  using Task = boost::asio::awaitable<Result<T>>;

  // Connects at first use, and again whenever the connection was lost, so a store outlives a database
  // restart; the first connection creates export_jobs or adds what an older version lacks. `runner` names
  // this process in the jobs it runs ("host:pid").
  static std::unique_ptr<JobStore> open(boost::asio::any_io_executor executor, std::string database_url,
                                        JobQueueConfig queue, std::string runner);

  // Records a new PENDING job: for any process to claim (and notifies them), or held for this one, which
  // claims it with claim_held(). With an idempotency key already used, returns the job that key made, or
  // errc::conflict when another request made it.
  Task<JobRecord> enqueue(const JobRecord& job, bool held_here, const std::optional<Idempotency>& idempotency);
  // Claims up to `room` PENDING jobs due to run, of the datasets named, oldest first.
  Task<std::vector<Claim>> claim(int room, std::span<const std::string> datasets);
  // Claims a job enqueued held for this process; none when it is no longer PENDING (cancelled meanwhile).
  Task<std::optional<Claim>> claim_held(std::string_view id);
  // Extends the lease and records the progress; errc::lease_lost when the lease is no longer this runner's.
  Task<LeaseRenewal> heartbeat(const Claim& claim);
  // Records the attempt's ending (status, message, progress) and returns the job as stored.
  Task<JobRecord> finish(const Claim& claim);
  // Makes the job PENDING again without spending its attempt, for another process (this process stops).
  Task<void> hand_back(const Claim& claim);
  // Makes the job PENDING again after a backoff with its attempt spent and `reason` kept in its errors, for
  // an attempt that met trouble another attempt may not (see Error::transient). Returns the job as stored.
  Task<JobRecord> retry_later(const Claim& claim, std::string_view reason);
  // Extends the leases of jobs held for this process while they wait for room.
  Task<void> renew_held(std::span<const std::string> ids);
  // Jobs whose lease expired go back to PENDING after a backoff, or to FAILED when their attempts are spent,
  // each attempt's reason kept. Jobs held for a process whose held lease lapsed fail with it (its local
  // file, its waiting caller, are gone too). Returns them, with the uploads their dead attempts left open.
  Task<std::vector<JobRecord>> rescue();
  // Records that this process claims jobs of the datasets `known_here`, and fails PENDING jobs of a
  // dataset that no process has said so of for JobQueueConfig::unknown_dataset_grace: nobody would ever
  // claim them, and they count toward max_pending. Returns them.
  Task<std::vector<JobRecord>> fail_unknown_datasets(std::span<const std::string> known_here);
  // Asks a PENDING or RUNNING job to stop: a PENDING one is CANCELLED at once, a RUNNING one's runner is
  // notified (and its next heartbeat says so). Returns the job as it is then; none when it is not active.
  Task<std::optional<JobRecord>> request_cancel(std::string_view id);

  Task<std::optional<JobRecord>> find(std::string_view id);
  Task<JobPage> list(const JobQuery& query);  // newest first
  // Ended jobs whose upload could not be aborted when they ended (S3 was away), oldest first.
  Task<std::vector<JobRecord>> with_open_uploads();
  // Records that the job's upload `upload_id` is gone.
  Task<void> forget_upload(std::string_view id, std::string_view upload_id);
  // Deletes up to `batch` ended jobs older than the retention, without open uploads; returns how many.
  Task<int> delete_expired(int batch);
  // Why PostgreSQL does not take `value` as `type` (its own words), or nothing when it does: checked with
  // the value bound, never as SQL text, on this store's connection.
  Task<std::optional<std::string>> refuse_value(std::string_view value, std::string_view type);
  // Whether the database answers (reconnecting when needed) within `deadline`, once this store's
  // connection is free.
  Task<void> ping(std::chrono::milliseconds deadline);

 private:
  JobStore(boost::asio::any_io_executor executor, std::string database_url, JobQueueConfig queue, std::string runner);
  // One statement at a time on the one connection, reconnecting when it was lost, each given up past its
  // deadline (JobQueueConfig::statement_timeout unless said).
  Task<pg::QueryResult> run(std::string_view sql, std::span<const pg::Parameter> parameters);
  Task<pg::QueryResult> run(std::string_view sql, std::span<const pg::Parameter> parameters,
                            std::chrono::milliseconds deadline);
  Task<pg::QueryResult> run_with_retry(std::string_view sql, std::span<const pg::Parameter> parameters,
                                       std::chrono::milliseconds deadline);
  Task<pg::QueryResult> run_once(std::string_view sql, std::span<const pg::Parameter> parameters,
                                 std::chrono::milliseconds deadline);
  Task<pg::QueryResult> answer(std::string_view sql, std::span<const pg::Parameter> parameters);
  Task<void> reconnect();

  boost::asio::any_io_executor executor_;
  std::string database_url_;
  JobQueueConfig queue_;
  std::string runner_;
  std::optional<pg::Connection> connection_;
  std::int32_t owner_;  // written into the jobs it runs; the key of the advisory lock older versions read
  async::Turn turn_;  // one statement at a time on the one connection
};

}  // namespace pg2s3::engine

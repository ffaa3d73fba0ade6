// Jobs in the export_jobs table, over a bookkeeping connection of their own, so a status outlives the process.
//
// Several processes may share the table. Each store holds a session-level advisory lock on an owner id of
// its own and writes that id into its jobs; a job is taken for interrupted only when its owner's lock can
// be had, that is when the session that ran it is gone.
#pragma once

#include "engine/error.hpp"
#include "engine/job.hpp"
#include "engine/sync.hpp"
#include "pg/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::engine {

class JobStore {
 public:
  template <class T>
  using Task = boost::asio::awaitable<Result<T>>;

  // Connects at first use, and again whenever the connection was lost, so a store outlives a database
  // restart; each new connection creates export_jobs when absent (later columns are added the same way).
  static std::unique_ptr<JobStore> open(boost::asio::any_io_executor executor, std::string database_url);

  Task<void> save(const JobRecord& job);  // insert or update
  Task<std::optional<JobRecord>> find(std::string_view id);
  Task<std::vector<JobRecord>> list(int limit);  // newest first
  // Jobs that a process now gone left PENDING or RUNNING become FAILED ("interrupted"); returns them,
  // with the upload ids that still need aborting. Jobs of live processes are left alone.
  Task<std::vector<JobRecord>> fail_interrupted();
  // Ended jobs whose upload could not be aborted when they ended (S3 was away), oldest first.
  Task<std::vector<JobRecord>> with_open_uploads();
  // Records that the job's upload `upload_id` is gone.
  Task<void> forget_upload(std::string_view id, std::string_view upload_id);
  // Whether the database answers (reconnecting when needed).
  Task<void> ping();

 private:
  JobStore(boost::asio::any_io_executor executor, std::string database_url);
  // One statement at a time on the one connection, reconnecting when it was lost.
  Task<pg::QueryResult> run(std::string_view sql, std::span<const pg::Parameter> parameters);
  Task<pg::QueryResult> run_once(std::string_view sql, std::span<const pg::Parameter> parameters);
  Task<void> reconnect();

  boost::asio::any_io_executor executor_;
  std::string database_url_;
  std::optional<pg::Connection> connection_;
  std::int32_t owner_;  // this store's advisory lock key, written into its jobs
  Turn turn_;  // one statement at a time on the one connection
};

}  // namespace pg2s3::engine

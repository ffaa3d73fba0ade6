#include "engine/engine.hpp"

#include "async/sync.hpp"
#include "engine/buffer_pool.hpp"
#include "engine/compressor.hpp"
#include "engine/detail/export_pipeline.hpp"
#include "engine/detail/failure.hpp"
#include "engine/detail/job_ending.hpp"
#include "engine/detail/log.hpp"
#include "engine/detail/manifest.hpp"
#include "engine/detail/page_ranges.hpp"
#include "engine/detail/parallel_export.hpp"
#include "engine/detail/part_plan.hpp"
#include "engine/detail/split_output.hpp"
#include "engine/detail/sweep.hpp"
#include "engine/job_store.hpp"
#include "s3/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <cstdio>
#include <deque>

namespace pg2s3::engine {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t max_key_length = 1024;

bool has_control_character(std::string_view text) {
  return std::ranges::any_of(text, [](unsigned char c) { return c < 0x20 || c == 0x7F; });
}

}  // namespace

using detail::log;

Result<std::string> object_key(std::string_view requested, std::string_view prefix, std::string_view job_id,
                               Format format, Compression compression) {
  if (requested.empty()) return std::string(prefix) + std::string(job_id) + std::string(file_extension(format, compression));
  auto refuse = [](std::string why) { return Error{errc::invalid_request, "key " + why}; };
  if (requested.front() == '/') return refuse("must not start with '/'");
  if (has_control_character(requested)) return refuse("must not hold control characters");
  if (requested == ".." || requested.starts_with("../") || requested.ends_with("/..") ||
      requested.find("/../") != std::string_view::npos)
    return refuse("must not hold '..' segments");
  std::string key = requested.starts_with(prefix) ? std::string(requested) : std::string(prefix) + std::string(requested);
  if (key.size() > max_key_length) return refuse("must be at most 1024 bytes with its prefix");
  return key;
}

using detail::Stop;

// A job of this process that has not ended: held here waiting for room, or running under a lease.
struct ActiveJob {
  ActiveJob(asio::any_io_executor executor, JobRecord job)
      : claim{std::move(job), {}}, finished(executor), heartbeat(executor) {}
  Claim claim;  // the record, and the lease token once claimed
  // The definition it runs with, its parameters bound: kept whatever the configuration becomes meanwhile.
  std::shared_ptr<const Dataset> dataset;
  std::string unrunnable;  // why it cannot run here, when the dataset is gone or no longer fits its parameters
  detail::ExportTarget target;
  detail::ExportProgress progress;
  asio::cancellation_signal cancel;  // stops a running export's waiting step (progress.cancel_requested is the record)
  async::Event finished;  // set once the job's ending is saved
  async::Doorbell heartbeat;  // rung for a heartbeat now: a new upload id to record, or the export's end
  bool exported = false;  // run_export returned: the heartbeat stops
  bool holds_place = false;  // counts toward max_running_exports
  bool from_queue = false;  // claimed from the fleet's queue, not held for this process: another may retry it
  Stop stop = Stop::none;
  Clock::time_point renewed_at{};  // when the last heartbeat that renewed the lease was sent
  Clock::time_point moved_at = Clock::now();  // when its export last read a row or uploaded a byte
};

// The job's dataset as configured now, its query bound to the job's parameters.
Result<std::shared_ptr<const Dataset>> bound_dataset(const EngineConfig& config, const JobRecord& job) {
  const Dataset* dataset = find_dataset(config, job.dataset);
  if (!dataset) return Error{errc::unknown_dataset, "no dataset named '" + job.dataset + "' any more"};
  auto bound = bind_params(*dataset, job.params);
  if (!bound) return bound.error();
  return std::make_shared<const Dataset>(std::move(*bound));
}

// "host:pid", for an operator to find the process that runs a job.
std::string runner_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return std::string(host) + ":" + std::to_string(getpid());
}

// Shared by the Engine and the work it spawns, so that work still under way when the Engine is destroyed
// (a sweep, a job's last save) ends on its own without using freed memory.
struct Engine::Impl : std::enable_shared_from_this<Engine::Impl> {
  Impl(asio::any_io_executor executor, EngineConfig config, s3::Client client)
      : executor(executor),
        config(std::move(config)),
        client(std::move(client)),
        store(JobStore::open(executor, jobs_database_url(this->config), this->config.jobs, runner_name())),
        pool(executor, this->config.buffer_budget, this->config.part_size + Compressor::max_overshoot),
        sweep_timer(executor),
        drain_timer(executor),
        claim_bell(executor),
        listen_retry(executor),
        held_timer(executor) {}

  asio::any_io_executor executor;
  EngineConfig config;
  s3::Client client;
  std::unique_ptr<JobStore> store;
  BufferPool pool;
  std::map<std::string, std::shared_ptr<ActiveJob>, std::less<>> active;
  std::deque<std::shared_ptr<ActiveJob>> waiting;  // held for this process, in arrival order
  std::size_t running = 0;
  bool draining = false;
  EngineMetrics counters;
  asio::steady_timer sweep_timer;
  bool closed = false;  // the Engine is gone: the periodic work stops
  asio::steady_timer drain_timer;  // the end of a drain; end_drain() brings it forward
  bool drain_ended = false;
  async::Doorbell claim_bell;  // a job was queued, or room was made
  asio::steady_timer listen_retry;
  asio::steady_timer held_timer;  // paces renew_held_leases(), which runs while jobs wait here
  bool renewing_held = false;
  asio::cancellation_signal stop_listening;  // whatever the listener waits on: connect, LISTEN, a notification
  std::string listen_failure;  // why LISTEN is down, while it is

  bool accepting() const { return !closed && !draining; }
  std::size_t room() const {
    const auto most = static_cast<std::size_t>(config.max_running_exports);
    return running < most ? most - running : 0;
  }

  static void take_progress(ActiveJob& job) {
    auto& record = job.claim.job;
    record.total_records = job.progress.total_records;
    record.processed_records = job.progress.processed_records;
    record.bytes_uploaded = job.progress.bytes_uploaded;
    record.upload_id = job.progress.upload_id;
    record.files = job.progress.files;
  }

  void on_progress(ActiveJob& job) {
    const auto& record = job.claim.job;
    if (job.progress.processed_records != record.processed_records || job.progress.bytes_uploaded != record.bytes_uploaded)
      job.moved_at = Clock::now();
    // A new upload is recorded at once: its id is what lets a later process abort it.
    if (job.claim.job.upload_id != job.progress.upload_id) job.heartbeat.ring();
    if (job.progress.bytes_uploaded != job.claim.job.bytes_uploaded) job.claim.job.retrying.clear();  // a part got through
    take_progress(job);
  }

  // Stops a running job for `why`, the first reason given winning.
  void stop_here(ActiveJob& job, Stop why) {
    if (job.stop == Stop::none) job.stop = why;
    if (why == Stop::lease_lost) job.progress.output_taken_over = true;
    job.progress.cancel_requested = true;
    job.cancel.emit(asio::cancellation_type::terminal);
  }

  // Jobs held here wait under a lease of their own, renewed as a running job's is, so that a rescue fails
  // them only once this process is gone. Runs while any wait, and ends with the last one.
  void hold(std::shared_ptr<ActiveJob> job) {
    waiting.push_back(std::move(job));
    schedule();
    if (waiting.empty() || std::exchange(renewing_held, true)) return;
    asio::co_spawn(executor, [self = shared_from_this()] { return self->renew_held_leases(); }, asio::detached);
  }

  asio::awaitable<void> renew_held_leases() {
    while (!waiting.empty() && !closed) {
      held_timer.expires_after(config.progress_interval);
      co_await held_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      std::vector<std::string> ids;
      for (const auto& job : waiting) ids.push_back(job->claim.job.id);
      if (ids.empty()) break;
      if (auto renewed = co_await store->renew_held(ids); !renewed) log("renewing held jobs: " + renewed.error().message);
    }
    renewing_held = false;
  }

  // The job as this process knows it now, with how long it has been stalled.
  JobRecord current(const ActiveJob& job) const {
    JobRecord record = job.claim.job;
    if (stalled(job))
      record.stalled_seconds = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - job.moved_at).count();
    return record;
  }

  bool stalled(const ActiveJob& job) const {
    return job.claim.job.status == JobStatus::running && !job.exported && Clock::now() - job.moved_at >= config.stall_after;
  }

  // Claims the held jobs in arrival order while there is room.
  void schedule() {
    while (!draining && room() > 0 && !waiting.empty()) {
      auto job = std::move(waiting.front());
      waiting.pop_front();
      take_place(*job);
      spawn_job([self = shared_from_this(), job]() -> asio::awaitable<void> {
        co_await asio::this_coro::throw_if_cancelled(false);  // a cancel while claiming is seen by run_job
        auto claimed = co_await self->store->claim_held(job->claim.job.id);
        if (claimed && *claimed) {
          job->claim = std::move(**claimed);
          co_return co_await self->run_job(job);
        }
        // Cancelled through another process meanwhile, or the database is away: it ends as stored.
        if (!claimed) job->claim.job.error_message = claimed.error().message;
        job->claim.job.status = claimed ? JobStatus::cancelled : JobStatus::failed;
        self->retire(*job);
      }, job);
    }
  }

  // An exception that escapes a job's work (run_job catches the export's own) ends that job here, never the
  // process: it stops, and its row is left to the rescue once its lease lapses.
  template <class Work>
  void spawn_job(Work work, const std::shared_ptr<ActiveJob>& job) {
    auto ended = [self = shared_from_this(), job](std::exception_ptr thrown) {
      if (!thrown || job->finished.is_set()) return;
      const auto error = internal_error(thrown);
      log("job " + job->claim.job.id + ": " + error.message);
      job->exported = true;  // its heartbeat stops
      job->heartbeat.ring();
      job->claim.job.error_message = error.message;  // not a final status: none was stored
      self->retire(*job);
    };
    asio::co_spawn(executor, std::move(work), asio::bind_cancellation_slot(job->cancel.slot(), std::move(ended)));
  }

  // A claimed job of the fleet's: runs here as any job started here would, with the parameters recorded.
  void start_claimed(Claim claim) {
    auto job = std::make_shared<ActiveJob>(executor, std::move(claim.job));
    job->claim.lease_token = std::move(claim.lease_token);
    auto bound = bound_dataset(config, job->claim.job);
    if (bound) job->dataset = std::move(*bound);
    else job->unrunnable = bound.error().message;
    const auto& record = job->claim.job;
    job->target = {job->dataset.get(), record.format, record.compression, record.s3_key, {}, record.parallelism,
                   record.max_file_size, record.id};
    job->from_queue = true;
    watch(job);
    take_place(*job);
    spawn_job([self = shared_from_this(), job] { return self->run_job(job); }, job);
  }

  void watch(const std::shared_ptr<ActiveJob>& job) {
    job->progress.changed = [this, raw = job.get()] { on_progress(*raw); };
    // Plain pointers: the job must not own the Impl that owns it (run_job holds both while these run).
    job->progress.before_complete = [this, raw = job.get()] { return confirm_lease(*raw); };
    job->progress.output_still_ours = [this, raw = job.get()] { return holds_lease(*raw); };
    active.emplace(job->claim.job.id, job);
  }

  asio::awaitable<void> run_job(std::shared_ptr<ActiveJob> job) {
    co_await asio::this_coro::throw_if_cancelled(false);
    job->renewed_at = job->moved_at = Clock::now();
    job->progress.upload_id = job->claim.job.upload_id;  // an earlier attempt's, kept on record until aborted
    asio::co_spawn(executor, [self = shared_from_this(), job] { return self->keep_lease(job); }, asio::detached);
    co_await clear_earlier_attempt(*job);
    Result<void> outcome = detail::cancelled;
    if (!job->unrunnable.empty())
      outcome = Error{errc::invalid_request, job->unrunnable};
    else if (!job->progress.cancel_requested)  // cancelled between being claimed and starting
      outcome = co_await export_guarded(*job);
    co_await asio::this_coro::reset_cancellation_state();  // the ending is recorded even after a cancel
    job->exported = true;
    job->heartbeat.ring();
    take_progress(*job);
    co_await end_job(job, std::move(outcome));
  }

  // The export, with an exception in it (a bug, memory exhausted) as this job's failure alone. Its upload,
  // which the unwinding did not abort, stays on record for the sweep to abort once the job has ended.
  asio::awaitable<Result<void>> export_guarded(ActiveJob& job) {
    try {
      co_return co_await detail::run_export(config, client, pool, job.target, job.progress);
    } catch (...) {
      co_return internal_error(std::current_exception());
    }
  }

  // What an earlier attempt of the job left when its process died goes first: its open upload, and the
  // files of a split output, some of which this attempt might not write again.
  asio::awaitable<void> clear_earlier_attempt(ActiveJob& job) {
    const auto& record = job.claim.job;
    if (!record.upload_id.empty() && !record.max_file_size) {
      auto aborted = co_await client.abort_multipart_upload(config.bucket, record.s3_key, record.upload_id);
      if (!aborted && aborted.error().s3_code != "NoSuchUpload")
        log("job " + record.id + ": aborting the upload of its earlier attempt (left to S3's lifecycle rules): " +
            aborted.error().message());
      job.progress.upload_id.clear();
    }
    if (record.attempt > 1 && record.max_file_size && !record.local_output) {
      auto deleted = co_await detail::delete_split_output(client, config.bucket, record.s3_key);
      if (deleted) job.progress.upload_id.clear();  // what it named is gone with them
      else log("job " + record.id + ": deleting the files of its earlier attempt: " + deleted.error().message);
    }
  }

  // Renews the job's lease every progress_interval, carrying its progress, until its export has ended.
  asio::awaitable<void> keep_lease(std::shared_ptr<ActiveJob> job) {
    for (;;) {
      co_await job->heartbeat.wait_for(config.progress_interval);
      if (job->exported) co_return;
      co_await renew_lease(*job);
    }
  }

  // One heartbeat. A lost lease stops the export at once (its upload aborted, the job untouched); a
  // cancel requested elsewhere stops it too. A database that does not answer is logged: the export goes
  // on, and its lease may expire meanwhile, which the next heartbeat learns.
  asio::awaitable<Result<void>> renew_lease(ActiveJob& job) {
    const auto sent = Clock::now();
    take_progress(job);
    auto renewed = co_await store->heartbeat(job.claim);
    if (job.exported) co_return Result<void>{};
    if (!renewed) {
      if (renewed.error().code == errc::lease_lost) {
        log("job " + job.claim.job.id + ": another process holds it now: stopping without writing to it");
        stop_here(job, Stop::lease_lost);
      } else {
        log("job " + job.claim.job.id + ": renewing its lease: " + renewed.error().message);
      }
      co_return renewed.error();
    }
    job.renewed_at = sent;
    if (renewed->cancel_requested) stop_here(job, Stop::cancel);
    co_return Result<void>{};
  }

  static constexpr int lease_checks = 3;

  // A heartbeat, tried again while the database does not answer (while nobody took the job its token still
  // renews it), but not once the lease is lost. Returns how long the one that answered took, measured on
  // this machine's monotonic clock from before it was sent.
  asio::awaitable<Result<Clock::duration>> renew_lease_retrying(ActiveJob& job) {
    for (int attempt = 1;; ++attempt) {
      const auto sent = Clock::now();
      auto renewed = co_await renew_lease(job);
      if (renewed) co_return Clock::now() - sent;
      if (renewed.error().code == errc::lease_lost || attempt == lease_checks) co_return renewed.error();
    }
  }

  // Asked right before CompleteMultipartUpload: it is sent only after a heartbeat that leaves at least half
  // the lease. A slow heartbeat (the database stalled) is tried again.
  asio::awaitable<Result<void>> confirm_lease(ActiveJob& job) {
    for (int attempt = 1;; ++attempt) {
      auto took = co_await renew_lease_retrying(job);
      if (!took) co_return took.error();
      if (job.progress.cancel_requested) co_return detail::cancelled;
      if (*took <= config.jobs.lease / 2) co_return Result<void>{};
      if (attempt == lease_checks)
        co_return Error{errc::lease_lost, "the lease was renewed too slowly to complete the upload safely", true};
    }
  }

  // Whether this attempt still holds its job: false when another holds it, and when the database cannot
  // say so after a few tries (what is left then goes with the job's next attempt or the sweep).
  asio::awaitable<bool> holds_lease(ActiveJob& job) {
    auto renewed = co_await renew_lease_retrying(job);
    co_return renewed.has_value();
  }

  // Shows the retry in the status of the job whose object it is for, and logs it once.
  void on_retry(const s3::RetryNotice& notice) {
    const auto it = std::ranges::find_if(active, [&](const auto& entry) {
      return !entry.second->target.s3_key.empty() && entry.second->target.s3_key == notice.key;
    });
    const std::string description = notice.describe();
    if (it == active.end()) {
      log("retrying " + description);
      return;
    }
    log("job " + it->first + ": retrying " + description);
    it->second->claim.job.retrying = description;
  }

  // Records how the attempt ended: its outcome, or why it was stopped. Whoever waits for the job is woken
  // only once that is saved.
  asio::awaitable<void> end_job(std::shared_ptr<ActiveJob> job, Result<void> outcome) {
    auto& record = job->claim.job;
    record.retrying.clear();
    if (!job->progress.abort_failure.empty())
      log("job " + record.id + " could not clean up its output (an upload left open is aborted by a later "
          "sweep): " + job->progress.abort_failure);
    const auto ending = detail::ending_of(outcome, {job->stop, job->progress.cancel_requested, job->from_queue,
                                                    record.attempt, record.max_attempts});
    switch (ending) {
      case detail::Ending::walk_away:
        break;
      case detail::Ending::hand_back:
        if (auto handed = co_await store->hand_back(job->claim); !handed) log(handed.error().message);
        record.status = JobStatus::pending;
        break;
      case detail::Ending::retry_later:
        co_await retry_later(*job, outcome.error());
        break;
      default:
        // No object behind a job that did not complete: this attempt aborted its own upload, but another
        // attempt may have completed one past its lease (frozen between its last heartbeat and
        // CompleteMultipartUpload), or this one's answer was lost. It goes while this attempt holds the
        // lease. One that completes after this is not stopped: that needs S3's conditional writes.
        if (ending != detail::Ending::completed) co_await detail::delete_stray_object(client, config.bucket, record);
        co_await save_ending(*job, ending, outcome);
    }
    retire(*job);
  }

  // A transient failure: the job goes back PENDING for another attempt (here or elsewhere). Should that not
  // be stored, its lease lapses and the rescue does the same.
  asio::awaitable<void> retry_later(ActiveJob& job, const Error& error) {
    auto& record = job.claim.job;
    const std::string reason = "attempt " + std::to_string(record.attempt) + ": " + error.message;
    log("job " + record.id + ": " + reason + ": it runs again later");
    auto retried = co_await store->retry_later(job.claim, reason);
    if (!retried) log("job " + record.id + ": handing it back for a retry: " + retried.error().message);
    record = retried ? std::move(*retried) : record;
    record.status = JobStatus::pending;
  }

  // Records the final status. The status changes in memory only once it is stored, with its time: never
  // final without it. A database that fails meanwhile is tried again for as long as the lease, renewed last
  // at renewed_at, keeps the job this attempt's; past that it stays RUNNING, and the rescue decides.
  asio::awaitable<void> save_ending(ActiveJob& job, detail::Ending ending, const Result<void>& outcome) {
    auto& record = job.claim.job;
    Claim final_claim = job.claim;
    final_claim.job.status = ending == detail::Ending::completed ? JobStatus::completed
                             : ending == detail::Ending::cancelled ? JobStatus::cancelled
                                                                   : JobStatus::failed;
    final_claim.job.error_message = outcome ? std::string()
                                    : ending == detail::Ending::cancelled ? "cancelled"
                                                                          : outcome.error().message;
    auto finished = co_await store->finish(final_claim);
    asio::steady_timer pause(executor);
    for (auto wait = std::chrono::milliseconds(100); !finished && finished.error().code != errc::lease_lost &&
                                                     Clock::now() + wait < job.renewed_at + config.jobs.lease;
         wait = std::min(wait * 2, std::chrono::milliseconds(2000))) {
      log("job " + record.id + ": recording its ending: " + finished.error().message + ": trying again");
      pause.expires_after(wait);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      finished = co_await store->finish(final_claim);
    }
    if (!finished) {
      log("job " + record.id + ": its ending (" + std::string(to_string(final_claim.job.status)) +
          ") could not be recorded: " + finished.error().message);
      record.error_message = "its ending could not be recorded: " + finished.error().message;
      co_return;  // RUNNING in memory too: whoever waits learns it did not end as far as anyone can know
    }
    record = std::move(*finished);
    ++counters.jobs_ended[record.status];
    if (record.status == JobStatus::completed) {
      counters.rows_exported += static_cast<std::uint64_t>(record.processed_records);
      counters.bytes_exported += record.bytes_uploaded;
    }
    counters.parts_uploaded += job.progress.parts_uploaded;
  }

  // The job counts toward max_running_exports until retire() gives its place back.
  void take_place(ActiveJob& job) {
    ++running;
    job.holds_place = true;
  }

  // The job is no longer this process's: its place goes to the next one.
  void retire(ActiveJob& job) {
    active.erase(job.claim.job.id);  // callers hold the job until this returns
    if (std::exchange(job.holds_place, false)) --running;
    job.finished.set();
    schedule();
    claim_bell.ring();
  }

  // As configured now: a reload may change them.
  std::vector<std::string> dataset_names() const {
    std::vector<std::string> names;
    for (const auto& dataset : config.datasets) names.push_back(dataset.name);
    return names;
  }

  // Claims PENDING jobs while there is room, woken by a notification, a job's end, or the poll interval.
  asio::awaitable<void> claim_jobs() {
    while (accepting()) {
      while (accepting() && room() > 0) {
        const auto datasets = dataset_names();  // named: async/README.md, GCC 12
        auto claims = co_await store->claim(static_cast<int>(room()), datasets);
        if (!claims) log("claiming jobs: " + claims.error().message);
        if (!claims || claims->empty()) break;
        if (!accepting()) co_return co_await hand_back_all(*claims);  // claimed as this process began to stop
        for (auto& claim : *claims) start_claimed(std::move(claim));
      }
      co_await claim_bell.wait_for(config.jobs.poll_interval);
    }
  }

  asio::awaitable<void> hand_back_all(const std::vector<Claim>& claims) {
    for (const auto& claim : claims)
      if (auto handed = co_await store->hand_back(claim); !handed) log(handed.error().message);
  }

  // LISTENs for queued jobs and cancel requests on a session of its own, reconnecting when it is lost.
  asio::awaitable<void> listen_for_jobs() {
    co_await asio::this_coro::throw_if_cancelled(false);
    while (accepting()) {
      auto stopped = co_await listen_once();
      if (!accepting()) co_return;
      const std::string why = stopped ? std::string("the connection ended") : stopped.error().message();
      if (why != listen_failure) log("listening for jobs: " + why + ": polling until it is back");  // once per outage
      listen_failure = why;
      listen_retry.expires_after(config.jobs.poll_interval);
      co_await listen_retry.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // Connects, LISTENs, and hands each notification on until the connection fails; returns why.
  pg::Connection::Task<void> listen_once() {
    const std::string& url = jobs_listen_url(config);
    auto connection = co_await pg::Connection::connect(executor, url);
    if (!connection) co_return connection.error();
    if (auto listening = co_await connection->execute("LISTEN " + std::string(jobs_channel)); !listening)
      co_return listening.error();
    listen_failure.clear();
    claim_bell.ring();  // for what was queued while nobody listened
    for (;;) {
      auto notification = co_await connection->next_notification();
      if (!notification) co_return notification.error();
      on_notification(*notification);
    }
  }

  void on_notification(const pg::Notification& notification) {
    const std::string_view payload = notification.payload;
    if (payload == "queued") claim_bell.ring();
    if (!payload.starts_with("cancel ")) return;
    if (auto it = active.find(payload.substr(7)); it != active.end() && !it->second->exported)
      stop_here(*it->second, Stop::cancel);
  }

  // Sweeps again every sweep_interval until shutdown or the Engine's destruction.
  asio::awaitable<void> sweep_periodically() {
    while (accepting()) {
      sweep_timer.expires_after(config.sweep_interval);
      auto [ec] = co_await sweep_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      co_await sweep();
    }
  }

  // Waits until each of `jobs` has ended and been saved, or until cancelled.
  static asio::awaitable<void> wait_all(const std::vector<std::shared_ptr<ActiveJob>>& jobs) {
    co_await asio::this_coro::throw_if_cancelled(false);
    for (const auto& job : jobs) {
      co_await job->finished.wait();
      if (!job->finished.is_set()) co_return;  // cancelled
    }
  }

  // Stops deleting expired jobs once this process stops accepting work.
  asio::awaitable<void> sweep() {
    auto sweeping = detail::sweep(*store, client, config.bucket, [this] { return accepting(); },
                                  config.jobs.claim_jobs ? dataset_names() : std::vector<std::string>{});
    co_await std::move(sweeping);
  }
};

Engine::Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  impl_->closed = true;
  impl_->sweep_timer.cancel();
  impl_->held_timer.cancel();
  impl_->claim_bell.ring();
  impl_->stop_listening.emit(asio::cancellation_type::terminal);
  for (const auto& job : impl_->waiting) impl_->active.erase(job->claim.job.id);  // never started: left PENDING
  impl_->waiting.clear();
  for (const auto& [id, job] : impl_->active) impl_->stop_here(*job, Stop::cancel);  // their endings are still saved
}

Engine::Task<std::unique_ptr<Engine>> Engine::start(asio::any_io_executor executor, EngineConfig config) {
  auto client = s3::Client::create(executor, config.s3);
  if (!client) co_return detail::failure(client.error());
  std::unique_ptr<Engine> engine(new Engine(std::make_shared<Impl>(executor, std::move(config), std::move(*client))));
  const auto& impl = engine->impl_;
  impl->client.on_retry([weak = std::weak_ptr(impl)](const s3::RetryNotice& notice) {
    if (auto alive = weak.lock()) alive->on_retry(notice);
  });
  co_await impl->sweep();
  if (impl->config.sweep_interval.count() > 0)
    asio::co_spawn(executor, [self = impl] { return self->sweep_periodically(); }, asio::detached);
  if (impl->config.jobs.claim_jobs) {
    asio::co_spawn(executor, [self = impl] { return self->claim_jobs(); }, asio::detached);
    asio::co_spawn(executor, [self = impl] { return self->listen_for_jobs(); },
                   asio::bind_cancellation_slot(impl->stop_listening.slot(), asio::detached));
  }
  co_return std::move(engine);
}

namespace {

constexpr std::uint64_t least_file_size = 1024;

// Why a split output cannot be written as asked, if it cannot.
std::optional<std::string> refuse_max_file_size(const JobRecord& record) {
  if (!record.max_file_size) return std::nullopt;
  if (record.max_file_size < least_file_size || record.max_file_size > detail::max_object_size)
    return "maxFileSize must be from 1KiB to 5TiB, not " + std::to_string(record.max_file_size) + " bytes";
  if (record.format == Format::parquet) return "a Parquet export is one file: maxFileSize is for CSV";
  return std::nullopt;
}

// What makes two requests under one Idempotency-Key the same request.
std::string fingerprint(const ExportRequest& request) {
  auto named = [](auto value) { return value ? std::string(to_string(*value)) : std::string("-"); };
  std::string text = "dataset=" + request.dataset + "\nkey=" + request.key + "\nformat=" + named(request.format) +
                     "\ncompression=" + named(request.compression);
  if (request.parallelism) text += "\nparallelism=" + std::to_string(*request.parallelism);
  if (request.max_file_size) text += "\nmax_file_size=" + std::to_string(*request.max_file_size);
  for (const auto& [name, value] : request.params) text += "\nparam " + name + "=" + hex(value);
  return text;
}

}  // namespace

Engine::Task<ParamValues> Engine::checked_params(const Dataset& dataset, const ParamArguments& given) {
  auto values = resolve_params(dataset, given);
  if (!values) co_return values.error();
  for (const auto& param : dataset.params) {
    const auto& value = values->at(param.name);
    if (!value) continue;
    auto refused = co_await impl_->store->refuse_value(*value, param.type);
    if (!refused) co_return refused.error();
    if (*refused) co_return Error{errc::invalid_request, "parameter '" + param.name + "' is not a valid " + param.type + ": " + **refused};
  }
  co_return std::move(*values);
}

Engine::Task<JobRecord> Engine::start_export(ExportRequest request) {
  if (impl_->draining) co_return Error{errc::shutting_down, "the server is shutting down"};
  const Dataset* configured = find_dataset(impl_->config, request.dataset);
  if (!configured) co_return Error{errc::unknown_dataset, "no dataset named '" + request.dataset + "'"};
  // A copy: a reload may replace the configuration's datasets while this waits on the database.
  const auto dataset = std::make_shared<const Dataset>(*configured);
  JobRecord record;
  record.id = new_job_id();
  record.dataset = dataset->name;
  record.format = request.format.value_or(dataset->format);
  record.compression = request.compression.value_or(default_compression(record.format));
  record.max_attempts = impl_->config.jobs.max_attempts;
  auto params = co_await checked_params(*dataset, request.params);
  if (!params) co_return params.error();
  record.params = std::move(*params);
  auto bound = bind_params(*dataset, record.params);
  if (!bound) co_return bound.error();
  if (auto refused = refuse_compression(record.format, record.compression)) co_return Error{errc::invalid_request, *refused};
  record.parallelism = request.parallelism.value_or(dataset->parallelism);
  if (auto refused = detail::refuse_parallelism(*dataset, record.format, record.parallelism))
    co_return Error{errc::invalid_request, *refused};
  if (auto refused = detail::refuse_parallel_budget(record.parallelism, impl_->config.part_size, impl_->config.buffer_budget))
    co_return Error{errc::invalid_request, refused->message};
  record.max_file_size = request.max_file_size.value_or(dataset->max_file_size);
  if (auto refused = refuse_max_file_size(record)) co_return Error{errc::invalid_request, *refused};
  if (request.output_path.empty()) {
    auto key = object_key(request.key, impl_->config.key_prefix, record.id, record.format, record.compression);
    if (!key) co_return key.error();
    record.s3_key = std::move(*key);
    if (record.max_file_size && request.key.empty()) record.s3_key = impl_->config.key_prefix + record.id;  // a prefix
  } else {
    record.s3_key = request.output_path;
    record.local_output = true;
  }
  if (record.max_file_size) record.manifest_key = detail::manifest_key(record.s3_key);
  // A local file is written by this process, whatever the others do.
  const bool held_here = !impl_->config.jobs.claim_jobs || !request.output_path.empty();
  std::optional<Idempotency> idempotency;
  if (!request.idempotency_key.empty()) idempotency = Idempotency{request.idempotency_key, fingerprint(request)};
  auto queued = co_await impl_->store->enqueue(record, held_here, idempotency);
  if (!queued) co_return queued.error();
  if (queued->id != record.id || !held_here) {  // an earlier request's job, or the fleet's to claim
    impl_->claim_bell.ring();
    co_return std::move(*queued);
  }
  auto job = std::make_shared<ActiveJob>(impl_->executor, *queued);
  job->dataset = std::make_shared<const Dataset>(std::move(*bound));
  job->target = {job->dataset.get(), record.format, record.compression,
                 request.output_path.empty() ? record.s3_key : std::string(), request.output_path, record.parallelism,
                 record.max_file_size, record.id};
  impl_->watch(job);
  impl_->hold(std::move(job));
  co_return std::move(*queued);
}

Engine::Task<std::optional<JobRecord>> Engine::find_job(std::string_view id) {
  if (auto it = impl_->active.find(id); it != impl_->active.end()) co_return std::optional(impl_->current(*it->second));
  co_return co_await impl_->store->find(id);
}

Engine::Task<JobPage> Engine::list_jobs(const JobQuery& query) {
  auto page = co_await impl_->store->list(query);
  if (!page) co_return page.error();
  for (auto& job : page->jobs)  // the stored progress may lag behind memory by up to a heartbeat
    if (auto it = impl_->active.find(job.id); it != impl_->active.end()) job = impl_->current(*it->second);
  co_return page;
}

Engine::Task<JobRecord> Engine::wait(std::string_view id) {
  asio::steady_timer poll(impl_->executor);
  for (;;) {
    if (auto it = impl_->active.find(id); it != impl_->active.end()) {
      auto job = it->second;
      co_await job->finished.wait();
      if (job->claim.job.status != JobStatus::pending) co_return job->claim.job;  // else handed back: go on
    }
    auto stored = co_await impl_->store->find(id);
    if (!stored) co_return stored.error();
    if (!*stored) co_return Error{errc::unknown_job, "no job " + std::string(id)};
    if (is_final((*stored)->status)) co_return std::move(**stored);
    poll.expires_after(impl_->config.progress_interval);  // running elsewhere, or waiting to be claimed
    if (auto [ec] = co_await poll.async_wait(asio::as_tuple(asio::use_awaitable)); ec)
      co_return Error{ec, "waiting for job " + std::string(id)};
  }
}

Engine::Task<bool> Engine::cancel(std::string_view id) {
  const std::string job_id(id);
  auto local = impl_->active.find(job_id);
  const bool here = local != impl_->active.end() && !local->second->exported;
  auto job = here ? local->second : nullptr;
  const bool held = job && std::erase(impl_->waiting, job) > 0;
  if (job && !held) impl_->stop_here(*job, Stop::cancel);  // running here: stopped now, whatever the database says
  auto requested = co_await impl_->store->request_cancel(job_id);
  if (held) {
    if (requested && *requested) job->claim.job = **requested;
    job->claim.job.status = JobStatus::cancelled;
    impl_->retire(*job);
  }
  if (!requested) {
    if (here) co_return true;
    co_return requested.error();
  }
  co_return here || requested->has_value();
}

Engine::Task<void> Engine::check_health() {
  using namespace asio::experimental::awaitable_operators;
  // An answer within seconds whatever the store is doing: the wait for its connection, which a statement on a
  // silent database holds until that statement's own deadline, is cut short here.
  constexpr std::chrono::milliseconds deadline{2'000};
  asio::steady_timer timer(impl_->executor, deadline);
  auto raced = co_await (impl_->store->ping(deadline) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (raced.index() == 1)
    co_return Error{asio::error::timed_out, "the database does not answer: export_jobs is busy with a statement "
                                            "that has had no answer for a while"};
  if (auto answered = std::get<0>(std::move(raced)); !answered)
    co_return Error{answered.error().code, "the database does not answer: " + answered.error().message};
  if (auto credentials = co_await impl_->client.check_credentials(); !credentials)
    co_return detail::failure(credentials.error());
  co_return Result<void>{};
}

asio::awaitable<void> Engine::shutdown(std::chrono::steady_clock::duration drain) {
  using namespace asio::experimental::awaitable_operators;
  impl_->draining = true;
  impl_->sweep_timer.cancel();
  impl_->claim_bell.ring();
  impl_->stop_listening.emit(asio::cancellation_type::terminal);
  for (auto held = impl_->waiting; const auto& job : held) co_await cancel(job->claim.job.id);

  std::vector<std::shared_ptr<ActiveJob>> jobs;
  for (const auto& [id, job] : impl_->active) jobs.push_back(job);
  impl_->drain_timer.expires_after(impl_->drain_ended ? Clock::duration::zero() : drain);
  co_await (Impl::wait_all(jobs) || impl_->drain_timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  for (const auto& job : jobs)
    if (!job->finished.is_set()) impl_->stop_here(*job, Stop::hand_back);  // still running after the drain
  co_await Impl::wait_all(jobs);
}

void Engine::end_drain() {
  impl_->drain_ended = true;
  impl_->drain_timer.cancel();
}

Result<s3::PresignedUrl> Engine::download_url(const JobRecord& job) const {
  const std::string& key = job.manifest_key.empty() ? job.s3_key : job.manifest_key;
  auto url = impl_->client.presign_get(impl_->config.bucket, key, impl_->config.download_url_lifetime);
  if (!url) return detail::failure(url.error());
  return std::move(*url);
}

Engine::Task<std::vector<FileDownload>> Engine::file_downloads(const JobRecord& job) {
  const auto& config = impl_->config;
  std::string manifest;
  s3::Client::BodySink collect = [&](std::string_view bytes) { manifest.append(bytes); };
  auto read = co_await impl_->client.get_object(config.bucket, job.manifest_key, collect);
  if (!read) co_return detail::failure(read.error());
  auto files = detail::manifest_files(manifest, config.bucket);
  if (!files) co_return Error{errc::invalid_request, "the manifest " + job.manifest_key + " is not pg2s3's"};
  std::vector<FileDownload> downloads;
  for (const auto& file : *files) {
    auto url = impl_->client.presign_get(config.bucket, file.key, config.download_url_lifetime);
    if (!url) co_return detail::failure(url.error());
    downloads.push_back({file.key, std::move(*url), file.bytes, file.records});
  }
  co_return downloads;
}

EngineMetrics Engine::metrics() const {
  EngineMetrics metrics = impl_->counters;
  metrics.s3_retries = impl_->client.stats().retries;
  metrics.buffer_bytes_in_use = impl_->pool.bytes_in_use();
  metrics.buffer_bytes_held = impl_->pool.bytes_held();
  metrics.buffer_bytes_peak = impl_->pool.peak_bytes_held();
  metrics.buffer_leases_overgrown = impl_->pool.leases_overgrown();
  metrics.exports_running = impl_->running;
  metrics.exports_waiting = impl_->waiting.size();
  metrics.exports_stalled = static_cast<std::size_t>(
      std::ranges::count_if(impl_->active, [&](const auto& entry) { return impl_->stalled(*entry.second); }));
  return metrics;
}

const EngineConfig& Engine::config() const { return impl_->config; }

void Engine::replace_datasets(std::vector<Dataset> datasets) {
  impl_->config.datasets = std::move(datasets);
  impl_->claim_bell.ring();  // jobs of a dataset new here may be waiting
}

}  // namespace pg2s3::engine

#include "engine/engine.hpp"

#include "engine/buffer_pool.hpp"
#include "engine/compressor.hpp"
#include "engine/detail/export_pipeline.hpp"
#include "engine/job_store.hpp"
#include "engine/sync.hpp"
#include "s3/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <iostream>

namespace pg2s3::engine {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t max_key_length = 1024;

bool has_control_character(std::string_view text) {
  return std::ranges::any_of(text, [](unsigned char c) { return c < 0x20 || c == 0x7F; });
}

void log(std::string_view line) { std::clog << "pg2s3: " << line << std::endl; }

}  // namespace

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

// A job that has not ended: its record, what it exports, and how to stop or await it.
struct ActiveJob {
  ActiveJob(asio::any_io_executor executor, JobRecord job) : record(std::move(job)), finished(std::move(executor)) {}
  JobRecord record;
  detail::ExportTarget target;
  detail::ExportProgress progress;
  asio::cancellation_signal cancel;  // stops a running export's waiting step (progress.cancel_requested is the record)
  Event finished;  // set once the job's ending is saved
  bool holds_running_slot = false;  // taken when scheduled, given back when it ends
  Clock::time_point last_saved{};
};

// Shared by the Engine and the work it spawns, so that work still under way when the Engine is destroyed
// (a sweep, a job's last save) ends on its own without using freed memory.
struct Engine::Impl : std::enable_shared_from_this<Engine::Impl> {
  Impl(asio::any_io_executor executor, EngineConfig config, s3::Client client, std::unique_ptr<JobStore> store)
      : executor(executor),
        config(std::move(config)),
        client(std::move(client)),
        store(std::move(store)),
        pool(executor, this->config.buffer_budget, this->config.part_size + Compressor::max_overshoot),
        sweep_timer(executor),
        drain_timer(executor) {}

  asio::any_io_executor executor;
  EngineConfig config;
  s3::Client client;
  std::unique_ptr<JobStore> store;
  BufferPool pool;
  std::map<std::string, std::shared_ptr<ActiveJob>, std::less<>> active;
  std::deque<std::shared_ptr<ActiveJob>> waiting;  // PENDING, in arrival order
  std::size_t running = 0;
  bool draining = false;
  EngineMetrics counters;
  asio::steady_timer sweep_timer;
  bool closed = false;  // the Engine is gone: the periodic sweep stops
  asio::steady_timer drain_timer;  // the end of a drain; end_drain() brings it forward
  bool drain_ended = false;

  // Writes the job as it is now; failures are logged, the export goes on.
  void save_soon(const JobRecord& record) {
    asio::co_spawn(executor, [self = shared_from_this(), record]() -> asio::awaitable<void> {
      if (auto saved = co_await self->store->save(record); !saved) log(saved.error().message);
    }, asio::detached);
  }

  static void take_progress(ActiveJob& job) {
    job.record.total_records = job.progress.total_records;
    job.record.processed_records = job.progress.processed_records;
    job.record.bytes_uploaded = job.progress.bytes_uploaded;
    job.record.upload_id = job.progress.upload_id;
  }

  void on_progress(ActiveJob& job) {
    // A new upload is saved at once: its id is what lets a later process abort it.
    const bool new_upload = job.record.upload_id != job.progress.upload_id;
    if (job.progress.bytes_uploaded != job.record.bytes_uploaded) job.record.retrying.clear();  // a part got through
    take_progress(job);
    const auto now = Clock::now();
    if (!new_upload && now - job.last_saved < config.progress_interval) return;
    job.last_saved = now;
    save_soon(job.record);
  }

  void schedule() {
    while (!draining && running < static_cast<std::size_t>(config.max_running_exports) && !waiting.empty()) {
      auto job = std::move(waiting.front());
      waiting.pop_front();
      ++running;
      job->holds_running_slot = true;
      asio::co_spawn(executor, [self = shared_from_this(), job] { return self->run_job(job); },
                     asio::bind_cancellation_slot(job->cancel.slot(), [](std::exception_ptr failure) {
                       if (failure) std::rethrow_exception(failure);  // a bug: let it be seen
                     }));
    }
  }

  asio::awaitable<void> run_job(std::shared_ptr<ActiveJob> job) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (job->progress.cancel_requested) {  // cancelled between being scheduled and starting
      co_await end_job(job, JobStatus::cancelled, "cancelled");
      co_return;
    }
    job->record.status = JobStatus::running;
    job->record.started_at = std::chrono::system_clock::now();
    job->last_saved = Clock::now();
    save_soon(job->record);
    auto outcome = co_await detail::run_export(config, client, pool, job->target, job->progress);
    co_await asio::this_coro::reset_cancellation_state();  // the ending is recorded even after a cancel
    take_progress(*job);  // no save of its own: a RUNNING record saved after the ending would undo it
    if (outcome) co_await end_job(job, JobStatus::completed, {});
    else if (job->progress.cancel_requested) co_await end_job(job, JobStatus::cancelled, "cancelled");
    else co_await end_job(job, JobStatus::failed, outcome.error().message);
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
    it->second->record.retrying = description;
  }

  // Records the final state, frees the job's place and lets the next one run. Whoever waits for the job
  // is woken only once the ending is saved.
  asio::awaitable<void> end_job(std::shared_ptr<ActiveJob> job, JobStatus status, std::string message) {
    job->record.status = status;
    job->record.error_message = std::move(message);
    job->record.retrying.clear();
    if (!job->progress.abort_failure.empty())
      log("job " + job->record.id + " could not clean up its output (an upload left open is aborted by a later "
          "sweep): " + job->progress.abort_failure);
    job->record.finished_at = std::chrono::system_clock::now();
    if (auto saved = co_await store->save(job->record); !saved) log(saved.error().message);
    ++counters.jobs_ended[status];
    if (status == JobStatus::completed) {
      counters.rows_exported += static_cast<std::uint64_t>(job->record.processed_records);
      counters.bytes_exported += job->record.bytes_uploaded;
    }
    counters.parts_uploaded += job->progress.parts_uploaded;
    active.erase(job->record.id);
    if (job->holds_running_slot) --running;
    job->finished.set();
    schedule();
  }

  // Sweeps again every sweep_interval until shutdown or the Engine's destruction.
  asio::awaitable<void> sweep_periodically() {
    while (!closed && !draining) {
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

  // Jobs that a process now gone left unfinished become FAILED, and uploads that ended jobs left open are
  // aborted, theirs included.
  asio::awaitable<void> sweep() {
    co_await fail_interrupted();
    co_await abort_left_uploads();
  }

  asio::awaitable<void> fail_interrupted() {
    auto interrupted = co_await store->fail_interrupted();
    if (!interrupted) {
      log(interrupted.error().message);
      co_return;
    }
    for (const auto& job : *interrupted) {
      log("job " + job.id + " was left unfinished by a process that is gone: marked FAILED");
      if (!job.upload_id.empty()) continue;  // aborted with the other recorded uploads
      const auto uploads = co_await uploads_at_key(job);  // named: GCC 12 mishandles temporaries across co_await
      for (const auto& upload_id : uploads)
        if (auto aborted = co_await client.abort_multipart_upload(config.bucket, job.s3_key, upload_id); !aborted)
          log("aborting the upload of job " + job.id + ": " + aborted.error().message());
    }
  }

  // An upload is forgotten once aborted, or once S3 no longer knows it (another process aborted it first).
  asio::awaitable<void> abort_left_uploads() {
    auto jobs = co_await store->with_open_uploads();
    if (!jobs) {
      log(jobs.error().message);
      co_return;
    }
    for (const auto& job : *jobs) {
      auto aborted = co_await client.abort_multipart_upload(config.bucket, job.s3_key, job.upload_id);
      if (!aborted && aborted.error().s3_code != "NoSuchUpload") {
        log("aborting the upload of job " + job.id + ": " + aborted.error().message());
        continue;
      }
      if (auto forgotten = co_await store->forget_upload(job.id, job.upload_id); !forgotten)
        log(forgotten.error().message);
    }
  }

  // The uploads open at an interrupted job's key, for a job that died before it recorded its own.
  asio::awaitable<std::vector<std::string>> uploads_at_key(const JobRecord& job) {
    std::vector<std::string> found;
    if (job.s3_key.empty() || !job.started_at) co_return found;
    auto listed = co_await client.list_multipart_uploads(config.bucket, job.s3_key);
    if (!listed) {
      log("listing the uploads of job " + job.id + ": " + listed.error().message());
      co_return found;
    }
    for (const auto& upload : *listed)
      if (upload.key == job.s3_key) found.push_back(upload.upload_id);
    co_return found;
  }
};

Engine::Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  impl_->closed = true;
  impl_->sweep_timer.cancel();
  std::vector<std::string> ids;  // their endings are still saved, by the work itself
  for (const auto& [id, job] : impl_->active) ids.push_back(id);
  for (const auto& id : ids) cancel(id);
}

Engine::Task<std::unique_ptr<Engine>> Engine::start(asio::any_io_executor executor, EngineConfig config) {
  auto client = s3::Client::create(executor, config.s3);
  if (!client) co_return Error{client.error().code, client.error().message()};
  auto store = JobStore::open(executor, config.database_url);
  std::unique_ptr<Engine> engine(
      new Engine(std::make_shared<Impl>(executor, std::move(config), std::move(*client), std::move(store))));
  engine->impl_->client.on_retry([weak = std::weak_ptr(engine->impl_)](const s3::RetryNotice& notice) {
    if (auto impl = weak.lock()) impl->on_retry(notice);
  });
  co_await engine->impl_->sweep();
  if (engine->impl_->config.sweep_interval.count() > 0)
    asio::co_spawn(executor, [self = engine->impl_] { return self->sweep_periodically(); }, asio::detached);
  co_return std::move(engine);
}

Engine::Task<JobRecord> Engine::start_export(ExportRequest request) {
  if (impl_->draining) co_return Error{errc::shutting_down, "the server is shutting down"};
  const Dataset* dataset = find_dataset(impl_->config, request.dataset);
  if (!dataset) co_return Error{errc::unknown_dataset, "no dataset named '" + request.dataset + "'"};
  JobRecord record;
  record.id = new_job_id();
  record.dataset = dataset->name;
  record.format = request.format.value_or(dataset->format);
  record.compression = request.compression.value_or(default_compression(record.format));
  if (auto refused = refuse_compression(record.format, record.compression)) co_return Error{errc::invalid_request, *refused};
  record.created_at = std::chrono::system_clock::now();
  if (request.output_path.empty()) {
    auto key = object_key(request.key, impl_->config.key_prefix, record.id, record.format, record.compression);
    if (!key) co_return key.error();
    record.s3_key = std::move(*key);
  } else {
    record.s3_key = request.output_path;
  }
  if (auto saved = co_await impl_->store->save(record); !saved) co_return saved.error();

  auto job = std::make_shared<ActiveJob>(impl_->executor, record);
  job->target = {dataset, record.format, record.compression,
                 request.output_path.empty() ? record.s3_key : std::string(), request.output_path};
  job->progress.changed = [impl = impl_.get(), raw = job.get()] { impl->on_progress(*raw); };
  impl_->active.emplace(record.id, job);
  impl_->waiting.push_back(job);
  impl_->schedule();
  co_return record;
}

Engine::Task<std::optional<JobRecord>> Engine::find_job(std::string_view id) {
  if (auto it = impl_->active.find(id); it != impl_->active.end()) co_return std::optional(it->second->record);
  co_return co_await impl_->store->find(id);
}

Engine::Task<std::vector<JobRecord>> Engine::list_jobs(int limit) {
  auto jobs = co_await impl_->store->list(limit);
  if (!jobs) co_return jobs.error();
  for (auto& job : *jobs)  // the stored progress may lag behind memory by up to a second
    if (auto it = impl_->active.find(job.id); it != impl_->active.end()) job = it->second->record;
  co_return jobs;
}

Engine::Task<JobRecord> Engine::wait(std::string_view id) {
  if (auto it = impl_->active.find(id); it != impl_->active.end()) {
    auto job = it->second;
    co_await job->finished.wait();
    co_return job->record;
  }
  auto stored = co_await impl_->store->find(id);
  if (!stored) co_return stored.error();
  if (!*stored) co_return Error{errc::unknown_job, "no job " + std::string(id)};
  co_return std::move(**stored);
}

bool Engine::cancel(std::string_view id) {
  auto it = impl_->active.find(id);
  // A job whose ending is being saved is still listed, but too late to cancel.
  if (it == impl_->active.end() || is_final(it->second->record.status)) return false;
  auto job = it->second;
  if (job->progress.cancel_requested) return true;
  job->progress.cancel_requested = true;
  if (std::erase(impl_->waiting, job) > 0) {  // still queued: it never ran
    asio::co_spawn(impl_->executor, [self = impl_, job] { return self->end_job(job, JobStatus::cancelled, "cancelled"); },
                   asio::detached);
  } else {  // running, or scheduled and about to run
    job->cancel.emit(asio::cancellation_type::terminal);
  }
  return true;
}

Engine::Task<void> Engine::check_health() {
  if (auto answered = co_await impl_->store->ping(); !answered)
    co_return Error{answered.error().code, "the database does not answer: " + answered.error().message};
  if (auto credentials = co_await impl_->client.check_credentials(); !credentials)
    co_return Error{credentials.error().code, credentials.error().message()};
  co_return Result<void>{};
}

asio::awaitable<void> Engine::shutdown(std::chrono::steady_clock::duration drain) {
  using namespace asio::experimental::awaitable_operators;
  impl_->draining = true;
  impl_->sweep_timer.cancel();
  for (auto waiting = impl_->waiting; const auto& job : waiting) cancel(job->record.id);

  std::vector<std::shared_ptr<ActiveJob>> jobs;
  for (const auto& [id, job] : impl_->active) jobs.push_back(job);
  impl_->drain_timer.expires_after(impl_->drain_ended ? Clock::duration::zero() : drain);
  co_await (Impl::wait_all(jobs) || impl_->drain_timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  for (const auto& job : jobs) cancel(job->record.id);  // those still running after the drain
  co_await Impl::wait_all(jobs);
}

void Engine::end_drain() {
  impl_->drain_ended = true;
  impl_->drain_timer.cancel();
}

Result<s3::PresignedUrl> Engine::download_url(const JobRecord& job) const {
  auto url = impl_->client.presign_get(impl_->config.bucket, job.s3_key, impl_->config.download_url_lifetime);
  if (!url) return Error{url.error().code, url.error().message()};
  return std::move(*url);
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
  return metrics;
}

const EngineConfig& Engine::config() const { return impl_->config; }

}  // namespace pg2s3::engine

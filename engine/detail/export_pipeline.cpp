#include "engine/detail/export_pipeline.hpp"

#include "async/cancellation.hpp"
#include "async/sync.hpp"
#include "engine/detail/in_flight_limit.hpp"
#include "engine/detail/parallel_export.hpp"
#include "engine/detail/part_plan.hpp"
#include "engine/detail/part_source.hpp"
#include "engine/detail/part_writer.hpp"
#include "engine/detail/row_estimate.hpp"
#include "engine/detail/split_output.hpp"
#include "engine/detail/task_group.hpp"
#include "pg/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

asio::awaitable<Result<void>> upload_part(PartWriter& writer, BufferPool::Lease part, InFlightLimit& limit,
                                          ExportProgress& progress) {
  const auto start = InFlightLimit::Clock::now();
  auto written = co_await writer.write(part.bytes());
  if (!written) co_return written.error();
  limit.part_uploaded(part.bytes().size(), InFlightLimit::Clock::now() - start);
  progress.bytes_uploaded += part.bytes().size();
  ++progress.parts_uploaded;
  progress.changed();
  co_return Result<void>{};
}

int parts_with_room(const BufferPool& pool, std::size_t part_size) {
  return static_cast<int>(std::min<std::size_t>(pool.room_for(part_size), 1024)) - 1;
}

asio::awaitable<Result<std::unique_ptr<PartWriter>>> open_part_writer(const EngineConfig& config, s3::Client& client,
                                                                      const ExportTarget& target,
                                                                      std::string destination) {
  if (!target.output_path.empty()) {
    auto file = FilePartWriter::open(co_await asio::this_coro::executor, std::move(destination));
    if (!file) co_return file.error();
    co_return std::unique_ptr<PartWriter>(std::move(*file));
  }
  auto upload = co_await s3::MultipartUpload::create(client, config.bucket, destination,
                                                     content_type(target.format, target.compression),
                                                     upload_options(config, target.dataset->name));
  if (!upload) co_return failure(upload.error());
  co_return std::unique_ptr<PartWriter>(std::make_unique<S3PartWriter>(std::move(*upload)));
}

namespace {

// The planner's estimate of the rows and bytes, with the rows counted in the snapshot when the dataset asks.
asio::awaitable<Result<PlanEstimate>> estimate_output(pg::Connection& connection, const Dataset& dataset) {
  const std::string explain = "EXPLAIN (FORMAT JSON) " + dataset.query;
  auto plan = co_await connection.query(explain);
  if (!plan) co_return failure("estimating rows", plan.error());
  auto estimate = plan_estimate(plan->text(0, "QUERY PLAN").value_or("")).value_or(PlanEstimate{});
  if (!dataset.exact_count) co_return estimate;
  const std::string count = "SELECT count(*) AS n FROM (" + dataset.query + ") AS dataset";
  auto counted = co_await connection.query(count);
  if (!counted) co_return failure("counting rows", counted.error());
  estimate.rows = counted->int64(0, "n");
  co_return estimate;
}

using async::use_tuple;
using Clock = std::chrono::steady_clock;

// A filled part buffer, or nothing: the end of the data.
using PartChannel = asio::experimental::channel<void(boost::system::error_code, std::optional<BufferPool::Lease>)>;

// The COPY, made into the target's format. A Parquet row group is about a part: bytes are handed out a
// row group at a time, so a part rarely waits for more than one.
asio::awaitable<Result<std::unique_ptr<PartSource>>> start_source(pg::Connection& connection, const ExportTarget& target,
                                                                  const PartPlan& plan, BufferPool& pool) {
  if (target.format == Format::parquet)
    return start_parquet(connection, target.dataset->query, target.compression,
                         ParquetLayout{plan.first_size(), target.dataset->parquet_delta}, pool);
  return start_csv(connection, target.dataset->query, target.compression, CsvLayout{});
}

// What the reader and the writer measure of each other: how long the reader has waited to hand parts over.
struct Flow {
  Clock::duration reader_waiting{};
};

// Hands a part (or, with nothing, the end of the data) to the writer, timing the wait.
asio::awaitable<Result<void>> hand_over(PartChannel& parts, std::optional<BufferPool::Lease> part, Flow& flow) {
  const auto start = Clock::now();
  auto [ec] = co_await parts.async_send(boost::system::error_code{}, std::move(part), use_tuple);
  flow.reader_waiting += Clock::now() - start;
  if (ec) co_return Error{ec, "the part writer stopped"};
  co_return Result<void>{};
}

// Fills parts from the COPY and hands them to the writer, then the end of the data.
asio::awaitable<Result<void>> send_parts(const PartPlan& plan, PartSource& source, PartChannel& parts,
                                         BufferPool& pool, Flow& flow, ExportProgress& progress) {
  std::uint64_t filled = 0;
  for (std::size_t number = 1;; ++number) {
    const std::size_t size = plan.size_of(number);
    auto lease = co_await pool.acquire(size + source.overshoot());
    if (!lease) co_return lease.error();
    auto more = co_await source.fill(lease->bytes(), size);
    if (!more) co_return more.error();
    progress.processed_records = source.rows();
    progress.changed();
    if (progress.cancel_requested) co_return cancelled;
    filled += lease->bytes().size();
    if (*more) {
      if (auto refused = plan.refuse_more(number, filled)) co_return *refused;
    }
    const bool only_part = number == 1;
    if (*more || !lease->bytes().empty() || only_part) {
      if (auto sent = co_await hand_over(parts, std::move(*lease), flow); !sent) co_return sent;
    }
    if (!*more) co_return co_await hand_over(parts, std::nullopt, flow);
  }
}

// Uploads the parts the reader hands over, as many at once as the link needs, until the end of the data.
// Parts take their numbers as their uploads start, so the object keeps the reader's order whatever order
// the uploads end in.
asio::awaitable<Result<void>> receive_parts(PartWriter& writer, PartChannel& parts, TaskGroup& uploads,
                                            InFlightLimit& limit, const BufferPool& pool, std::size_t part_size,
                                            const Flow& flow, ExportProgress& progress) {
  for (;;) {
    // Room first, then the part: a part taken with no room to send it would be one more buffer held while
    // the reader fills the next.
    co_await uploads.wait_below(static_cast<std::size_t>(limit.current()));
    if (uploads.failure()) co_return *uploads.failure();
    auto [ec, part] = co_await parts.async_receive(use_tuple);
    if (ec) co_return Error{ec, "the row reader stopped"};
    if (!part) co_return Result<void>{};  // the end of the data
    const bool stopped = co_await async::is_cancelled();
    if (stopped) co_return cancelled;
    const std::uint64_t bytes = part->bytes().size();
    uploads.start(upload_part(writer, std::move(*part), limit, progress));
    limit.part_started(Clock::now(), bytes, flow.reader_waiting, parts_with_room(pool, part_size));
  }
}

// The reader and the writer are branches of their own, and either may stop first, for a reason of its own
// or because a cancel reached it (a cancel reaches only the operation each branch waits on at that moment).
// Whichever stops early stops the channel, so the other never waits on it forever: close() wakes a waiting
// receiver, cancel() a waiting sender.
asio::awaitable<Result<void>> read_parts(const PartPlan& plan, PartSource& source, PartChannel& parts,
                                         BufferPool& pool, Flow& flow, ExportProgress& progress) {
  co_await asio::this_coro::throw_if_cancelled(false);  // cancellation comes as a value
  auto sent = co_await send_parts(plan, source, parts, pool, flow, progress);
  if (!sent) parts.close();
  co_return sent;
}

// Every upload the writer started has ended before it returns, whatever stopped it.
asio::awaitable<Result<void>> write_parts(const EngineConfig& config, const PartPlan& plan, PartWriter& writer,
                                          PartChannel& parts, const BufferPool& pool, const Flow& flow,
                                          ExportProgress& progress) {
  co_await asio::this_coro::throw_if_cancelled(false);
  TaskGroup uploads(co_await asio::this_coro::executor);
  InFlightLimit limit(writer.writes_in_parallel() ? config.max_parts_in_flight : 1);
  auto received = co_await receive_parts(writer, parts, uploads, limit, pool, plan.first_size(), flow, progress);
  if (!received) {
    uploads.cancel();
    parts.cancel();
    parts.close();
  }
  co_await uploads.all_ended();
  if (received && uploads.failure()) received = *uploads.failure();
  co_return received;
}

// The reader's or writer's own failure, rather than the other side's echo of it.
Error first_cause(const Result<void>& read, const Result<void>& written) {
  if (!read && read.error().code != asio::experimental::error::channel_closed &&
      read.error().code != asio::experimental::error::channel_cancelled)
    return read.error();
  return written ? read.error() : written.error();
}

// The reader and the writer at once, until the end of the data; on failure the caller aborts the output.
asio::awaitable<Result<void>> transfer(const EngineConfig& config, const PartPlan& plan, PartSource& source,
                                       PartWriter& writer, BufferPool& pool, ExportProgress& progress) {
  using namespace asio::experimental::awaitable_operators;
  // A hand-over: the parts an export holds are the one filling and those uploading.
  PartChannel parts(co_await asio::this_coro::executor, 0);
  Flow flow;
  auto [read, written] = co_await (read_parts(plan, source, parts, pool, flow, progress) &&
                                   write_parts(config, plan, writer, parts, pool, flow, progress));
  if (!read || !written) co_return first_cause(read, written);
  co_return Result<void>{};
}

// After the data: the snapshot's transaction ends, and the output appears unless the export was stopped.
asio::awaitable<Result<void>> commit(pg::Connection& connection, PartWriter& writer, ExportProgress& progress) {
  if (auto ended = co_await end_snapshot(connection, progress); !ended) co_return ended;
  // Uninterrupted: a CompleteMultipartUpload cut short may still take effect at S3, leaving an object of a
  // job that says CANCELLED. A cancel that comes meanwhile is seen afterwards, through cancel_requested.
  auto completing = writer.complete();
  co_return co_await async::uninterrupted(std::move(completing));
}

// Opens the output, fills it by `transfer(writer)`, and commits it; aborts it on any failure.
template <class Transfer>
asio::awaitable<Result<void>> write_output(const EngineConfig& config, s3::Client& client, const ExportTarget& target,
                                           pg::Connection& connection, ExportProgress& progress, Transfer transfer) {
  const bool local = !target.output_path.empty();
  auto opening = open_part_writer(config, client, target, local ? target.output_path : target.s3_key);
  auto writer = co_await async::uninterrupted(std::move(opening));  // else an upload nobody knows of may be left
  if (!writer) co_return writer.error();
  if (const auto upload_id = (*writer)->upload_id(); !upload_id.empty()) {
    progress.upload_id = upload_id;
    progress.changed();
  }

  Result<void> finished = cancelled;
  if (!progress.cancel_requested) finished = co_await transfer(**writer);
  if (finished) finished = co_await commit(connection, **writer, progress);
  if (finished) {
    progress.upload_id.clear();
    co_return finished;
  }
  // An upload that cannot be aborted now (S3 is away) keeps its id in the job for a later sweep.
  if (auto aborted = co_await (*writer)->abort(); aborted) progress.upload_id.clear();
  else progress.abort_failure = aborted.error().message;
  co_return finished;
}

}  // namespace

const Error cancelled{asio::error::operation_aborted, "cancelled"};

asio::awaitable<Result<void>> end_snapshot(pg::Connection& connection, ExportProgress& progress) {
  if (auto committed = co_await connection.execute("COMMIT"); !committed)
    co_return failure("committing the snapshot", committed.error());
  if (progress.cancel_requested) co_return cancelled;  // the last word before the output appears
  if (progress.before_complete) {
    if (auto confirmed = co_await progress.before_complete(); !confirmed) co_return confirmed;
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> run_export(const EngineConfig& config, s3::Client& client, BufferPool& pool,
                                         const ExportTarget& target, ExportProgress& progress) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto executor = co_await asio::this_coro::executor;

  auto connection = co_await pg::Connection::connect(executor, config.database_url);
  if (!connection) co_return failure("connecting to PostgreSQL", connection.error());
  if (auto begun = co_await pg::begin_read_only_snapshot(*connection); !begun)
    co_return failure("starting the snapshot", begun.error());
  auto estimate = co_await estimate_output(*connection, *target.dataset);
  if (!estimate) co_return estimate.error();
  progress.total_records = estimate->rows;
  auto plan = PartPlan::choose(config.part_size, estimate->bytes(), pool.budget());
  if (!plan) co_return plan.error();

  if (auto refused = refuse_parallel_budget(target.parallelism, plan->first_size(), pool.budget())) co_return *refused;
  // Readers' pieces wait in the budget while the writer waits for a part: such an export runs only once its
  // share fits beside the others' (BufferPool::admit), or they could hold the whole budget in pieces.
  std::optional<BufferPool::Admission> admitted;
  if (target.parallelism > 1 || target.max_file_size > 0) {
    auto admission = co_await pool.admit(parallel_budget_share(target.parallelism, plan->first_size()));
    if (!admission) co_return admission.error();
    admitted.emplace(std::move(*admission));
  }
  if (target.max_file_size > 0)
    co_return co_await export_files(config, client, pool, target, *connection, estimate->bytes(), *plan, progress);
  if (target.parallelism > 1) {
    auto snapshot = co_await export_snapshot(*connection);
    if (!snapshot) co_return snapshot.error();
    auto ranges = co_await range_queries(*connection, *target.dataset, estimate->bytes(), config.range_size);
    if (!ranges) co_return ranges.error();
    const ParallelRead read{std::move(*snapshot), std::move(*ranges)};
    co_return co_await write_output(config, client, target, *connection, progress,
                                    [&](PartWriter& writer) -> asio::awaitable<Result<void>> {
                                      auto parts = object_parts(executor, writer, pool, *plan, config.max_parts_in_flight, progress);
                                      co_return co_await transfer_in_parallel(config, target, read, *parts, pool, progress);
                                    });
  }
  auto source = co_await start_source(*connection, target, *plan, pool);
  if (!source) co_return source.error();
  co_return co_await write_output(config, client, target, *connection, progress, [&](PartWriter& writer) {
    return transfer(config, *plan, **source, writer, pool, progress);
  });
}

}  // namespace pg2s3::engine::detail

#include "engine/detail/parallel_export.hpp"

#include "async/cancellation.hpp"
#include "async/sync.hpp"
#include "engine/compressor.hpp"

#include "engine/detail/in_flight_limit.hpp"
#include "engine/detail/part_source.hpp"
#include "engine/detail/task_group.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <numeric>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {

// A reader's pieces that may wait for their range's turn: past them it stops reading, and its backend
// waits on the socket. A range of the default size makes about two pieces, so a reader reads a whole one
// ahead of its turn.
constexpr int pieces_ahead = 3;
// Parts a parallel export must be able to hold beside its pieces: the one filled and one uploading. More
// go up at once only while the budget has room (InFlightLimit).
constexpr std::size_t least_parts = 2;
constexpr auto until_woken = std::chrono::hours(24);  // a wait that a ring or a cancel ends
using Clock = InFlightLimit::Clock;

std::size_t piece_capacity() { return largest_piece + Compressor::max_overshoot; }

// A piece of a range, handed over by the reader that filled it.
struct Piece {
  BufferPool::Lease bytes;
  int reader;
  bool last;  // the range ends with it
  std::int64_t rows;
};

// Where the readers' pieces wait until the writer takes them, range after range in order.
class RangeSequencer {
 public:
  RangeSequencer(asio::any_io_executor executor, int readers) : writer_bell_(executor) {
    for (int reader = 0; reader < readers; ++reader) readers_.emplace_back(executor);
  }

  void deliver(std::size_t range, Piece piece) {
    ++readers_[piece.reader].waiting;
    queues_[range].push_back(std::move(piece));
    writer_bell_.ring();
  }

  // Wakes every waiter for good: the export stops. (A cancellation alone may reach a task while it is in
  // a step that cancellation does not cut short, which then forgets it.)
  void stop() {
    stopped_ = true;
    writer_bell_.ring();
    for (auto& reader : readers_) reader.bell.ring();
  }

  // Waits while the reader has pieces_ahead pieces waiting; false when stopped or cancelled.
  asio::awaitable<bool> room(int reader) {
    auto& state = readers_[reader];
    for (;;) {
      const bool cancelled_here = co_await async::is_cancelled();
      if (stopped_ || cancelled_here) co_return false;
      if (state.waiting < pieces_ahead) co_return true;
      co_await state.bell.wait_for(until_woken);
    }
  }

  // The next piece of `range`, once it is there; nothing when stopped or cancelled.
  asio::awaitable<std::optional<Piece>> next(std::size_t range) {
    for (;;) {
      const bool cancelled_here = co_await async::is_cancelled();
      if (stopped_ || cancelled_here) co_return std::nullopt;
      if (auto queue = queues_.find(range); queue != queues_.end() && !queue->second.empty()) {
        Piece piece = std::move(queue->second.front());
        queue->second.pop_front();
        if (queue->second.empty()) queues_.erase(queue);
        auto& reader = readers_[piece.reader];
        --reader.waiting;
        reader.bell.ring();
        co_return std::optional(std::move(piece));
      }
      co_await writer_bell_.wait_for(until_woken);
    }
  }

 private:
  struct Reader {
    explicit Reader(asio::any_io_executor executor) : bell(executor) {}
    async::Doorbell bell;
    int waiting = 0;
  };
  std::deque<Reader> readers_;
  std::map<std::size_t, std::deque<Piece>> queues_;  // by range
  async::Doorbell writer_bell_;
  bool stopped_ = false;
};

// The parts of one object, cut from the pieces in order.
class ObjectParts final : public PieceSink {
 public:
  ObjectParts(asio::any_io_executor executor, PartWriter& writer, BufferPool& pool, const PartPlan& plan,
              int max_parts_in_flight, ExportProgress& progress)
      : writer_(writer), pool_(pool), plan_(plan), progress_(progress),
        limit_(writer.writes_in_parallel() ? max_parts_in_flight : 1), uploads_(executor) {}

  asio::awaitable<Result<void>> take(std::string_view bytes, std::int64_t) override {
    while (!bytes.empty()) {
      const std::size_t size = plan_.size_of(number_);
      if (!part_) {
        if (number_ > 1) {
          if (auto refused = plan_.refuse_more(number_ - 1, filled_)) co_return *refused;
        }
        if (auto started = co_await start_part(size); !started) co_return started;
      }
      auto& part = part_->bytes();
      const std::size_t taken = std::min(bytes.size(), size - part.size());
      part.append(bytes.substr(0, taken));
      bytes.remove_prefix(taken);
      if (part.size() == size) {
        if (auto sent = co_await send_part(); !sent) co_return sent;
      }
    }
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> end() override {
    if (!part_ && number_ == 1) {  // nothing at all: an empty object is still one part
      if (auto started = co_await start_part(0); !started) co_return started;
    }
    if (part_) co_return co_await send_part();
    co_return Result<void>{};
  }

  void stop() override { uploads_.cancel(); }

  asio::awaitable<Result<void>> settle() override {
    co_await uploads_.all_ended();
    if (uploads_.failure()) co_return *uploads_.failure();
    co_return Result<void>{};
  }

 private:
  asio::awaitable<Result<void>> start_part(std::size_t size) {
    auto lease = co_await pool_.acquire(size);
    if (!lease) co_return lease.error();
    part_ = std::move(*lease);
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> send_part() {
    const auto start = Clock::now();
    co_await uploads_.wait_below(static_cast<std::size_t>(limit_.current()));
    waited_ += Clock::now() - start;
    if (uploads_.failure()) co_return *uploads_.failure();
    const bool stopped = co_await async::is_cancelled();
    if (stopped) co_return cancelled;
    const std::uint64_t bytes = part_->bytes().size();
    filled_ += bytes;
    ++number_;
    uploads_.start(upload_part(writer_, std::move(*part_), limit_, progress_));
    part_.reset();
    limit_.part_started(Clock::now(), bytes, waited_, parts_with_room(pool_, plan_.size_of(number_)));
    co_return Result<void>{};
  }

  PartWriter& writer_;
  BufferPool& pool_;
  const PartPlan& plan_;
  ExportProgress& progress_;
  InFlightLimit limit_;  // before the uploads that tell it their times
  TaskGroup uploads_;
  Clock::duration waited_{};  // for room to upload the part filled: what InFlightLimit measures
  std::optional<BufferPool::Lease> part_;  // being filled
  std::size_t number_ = 1;                 // of that part
  std::uint64_t filled_ = 0;               // bytes in the parts before it
};

// Takes the ranges' pieces in order into the sink, and ends it.
asio::awaitable<Result<void>> write_in_order(RangeSequencer& order, std::size_t ranges, PieceSink& sink) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (std::size_t range = 0; range < ranges; ++range) {
    for (bool last = false; !last;) {
      auto piece = co_await order.next(range);
      if (!piece) co_return cancelled;
      last = piece->last;
      if (auto taken = co_await sink.take(piece->bytes.bytes(), piece->rows); !taken) co_return taken;
    }
  }
  co_return co_await sink.end();
}

// What the readers share.
struct Readers {
  const EngineConfig& config;
  const ExportTarget& target;
  const ParallelRead& read;
  BufferPool& pool;
  ExportProgress& progress;
  RangeSequencer& order;
  std::size_t next_range = 0;
  std::vector<std::int64_t> rows;  // by reader
};

asio::awaitable<Result<void>> read_range(Readers& readers, pg::Connection& connection, int reader, std::size_t range) {
  const auto& read = readers.read;
  const CsvLayout layout{read.header && range == 0, read.whole_rows};  // one header, at the start
  auto source = co_await start_csv(connection, read.range_queries[range], readers.target.compression, layout);
  if (!source) co_return source.error();
  const std::int64_t rows_before = readers.rows[reader];
  for (std::int64_t rows_sent = 0;;) {
    const bool room = co_await readers.order.room(reader);
    if (!room) co_return cancelled;
    auto lease = co_await readers.pool.acquire(read.piece_size + (*source)->overshoot());
    if (!lease) co_return lease.error();
    auto more = co_await (*source)->fill(lease->bytes(), read.piece_size);
    if (!more) co_return more.error();
    const std::int64_t rows = (*source)->rows();
    readers.rows[reader] = rows_before + rows;
    readers.progress.processed_records = std::accumulate(readers.rows.begin(), readers.rows.end(), std::int64_t{0});
    readers.progress.changed();
    if (readers.progress.cancel_requested) co_return cancelled;
    readers.order.deliver(range, {std::move(*lease), reader, !*more, rows - std::exchange(rows_sent, rows)});
    if (!*more) co_return Result<void>{};
  }
}

// Rows of a range in the order of their pages, as a sequential scan of the table reads them.
constexpr std::string_view page_order_plans =
    "SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off";

// One reader: its own backend in the shared snapshot, taking the next range until none is left.
asio::awaitable<Result<void>> read_ranges(Readers& readers, int reader) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto connection = co_await pg::Connection::connect(co_await asio::this_coro::executor, readers.config.database_url);
  if (!connection) co_return failure("connecting a reader", connection.error());
  if (auto joined = co_await pg::join_snapshot(*connection, readers.read.snapshot); !joined)
    co_return failure("joining the export's snapshot", joined.error());
  if (auto set = co_await connection->execute(page_order_plans); !set) co_return failure("setting up a reader", set.error());
  for (std::size_t range; (range = readers.next_range++) < readers.read.range_queries.size();) {
    if (auto read = co_await read_range(readers, *connection, reader, range); !read) co_return read;
  }
  co_return Result<void>{};
}

}  // namespace

asio::awaitable<Result<std::string>> export_snapshot(pg::Connection& coordinator) {
  auto exported = co_await coordinator.query("SELECT pg_export_snapshot() AS snapshot");
  if (!exported) co_return failure("exporting the snapshot", exported.error());
  co_return std::string(exported->text(0, "snapshot").value_or(""));
}

asio::awaitable<Result<std::vector<std::string>>> range_queries(pg::Connection& coordinator, const Dataset& dataset,
                                                                std::optional<std::uint64_t> estimated_bytes,
                                                                std::size_t range_size) {
  const std::vector<pg::Parameter> table{quote_table(dataset.table)};
  auto counted = co_await coordinator.query(
      "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8 AS pages", table);
  if (!counted) co_return failure("counting the pages of table " + dataset.table, counted.error());
  const auto pages = static_cast<std::uint64_t>(std::max<std::int64_t>(counted->int64(0, "pages").value_or(0), 0));
  std::vector<std::string> queries;
  for (const auto& range : split_pages(pages, estimated_bytes, range_size)) queries.push_back(range_query(dataset, range));
  co_return queries;
}

std::unique_ptr<PieceSink> object_parts(asio::any_io_executor executor, PartWriter& writer, BufferPool& pool,
                                        const PartPlan& plan, int max_parts_in_flight, ExportProgress& progress) {
  return std::make_unique<ObjectParts>(std::move(executor), writer, pool, plan, max_parts_in_flight, progress);
}

std::size_t parallel_budget_share(int parallelism, std::size_t part_size) {
  // Each reader's waiting pieces, the one the writer is copying, the part it fills.
  return static_cast<std::size_t>(parallelism * pieces_ahead + 1) * piece_capacity() + part_size + Compressor::max_overshoot;
}

std::size_t parallel_buffer_need(int parallelism, std::size_t part_size) {
  return parallel_budget_share(parallelism, part_size) + (least_parts - 1) * (part_size + Compressor::max_overshoot);
}

std::optional<Error> refuse_parallel_budget(int parallelism, std::size_t part_size, std::size_t budget) {
  const std::size_t need = parallel_buffer_need(parallelism, part_size);
  if (parallelism <= 1 || need <= budget) return std::nullopt;
  constexpr std::size_t mebibyte = 1024 * 1024;
  return Error{errc::over_budget, "parallelism " + std::to_string(parallelism) + " needs " +
                                      std::to_string((need + mebibyte - 1) / mebibyte) +
                                      " MiB of part buffers, more than the budget of " +
                                      std::to_string(budget / mebibyte) +
                                      " MiB: lower it, or raise [export] buffer_budget_mib"};
}

asio::awaitable<Result<void>> transfer_in_parallel(const EngineConfig& config, const ExportTarget& target,
                                                   const ParallelRead& read, PieceSink& sink, BufferPool& pool,
                                                   ExportProgress& progress) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto executor = co_await asio::this_coro::executor;
  RangeSequencer order(executor, target.parallelism);
  Readers readers{config, target, read, pool, progress, order, 0, std::vector<std::int64_t>(target.parallelism)};

  TaskGroup tasks(executor);
  tasks.start(write_in_order(order, read.range_queries.size(), sink));
  for (int reader = 0; reader < target.parallelism; ++reader) tasks.start(read_ranges(readers, reader));
  co_await tasks.wait_below(1);  // all ended, or one failed (which cancels the others), or this was cancelled
  order.stop();
  tasks.cancel();
  co_await tasks.all_ended();
  if (tasks.failure()) sink.stop();
  auto settled = co_await sink.settle();
  if (tasks.failure()) co_return *tasks.failure();
  co_return settled;
}

}  // namespace pg2s3::engine::detail

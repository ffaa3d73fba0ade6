#include "engine/detail/parallel_export.hpp"

#include "engine/compressor.hpp"
#include "engine/sync.hpp"

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

constexpr std::size_t piece_size = 4 * 1024 * 1024;  // what a reader fills at a time
// A reader's pieces that may wait for their range's turn: past them it stops reading, and its backend
// waits on the socket. A range of the default size makes about two pieces, so a reader reads a whole one
// ahead of its turn.
constexpr int pieces_ahead = 3;
constexpr std::size_t uploads_at_once = 2;
constexpr auto until_woken = std::chrono::hours(24);  // a wait that a ring or a cancel ends

std::size_t piece_capacity() { return piece_size + Compressor::max_overshoot; }

asio::awaitable<bool> is_cancelled() {
  const auto state = co_await asio::this_coro::cancellation_state;  // named: GCC 12 miscompiles it inline
  co_return state.cancelled() != asio::cancellation_type::none;
}

// A piece of a range, handed over by the reader that filled it.
struct Piece {
  BufferPool::Lease bytes;
  int reader;
  bool last;  // the range ends with it
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

  // Waits while the reader has pieces_ahead pieces waiting; false when cancelled.
  asio::awaitable<bool> room(int reader) {
    auto& state = readers_[reader];
    while (state.waiting >= pieces_ahead) {
      co_await state.bell.wait_for(until_woken);
      const bool stopped = co_await is_cancelled();  // named: GCC 12 mishandles a co_await in a condition
      if (stopped) co_return false;
    }
    const bool stopped = co_await is_cancelled();
    co_return !stopped;
  }

  // The next piece of `range`, once it is there; nothing when cancelled.
  asio::awaitable<std::optional<Piece>> next(std::size_t range) {
    for (;;) {
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
      const bool stopped = co_await is_cancelled();
      if (stopped) co_return std::nullopt;
    }
  }

 private:
  struct Reader {
    explicit Reader(asio::any_io_executor executor) : bell(executor) {}
    Doorbell bell;
    int waiting = 0;
  };
  std::deque<Reader> readers_;
  std::map<std::size_t, std::deque<Piece>> queues_;  // by range
  Doorbell writer_bell_;
};

// The parts being cut from the pieces in range order.
struct Assembly {
  PartWriter& writer;
  BufferPool& pool;
  const PartPlan& plan;
  ExportProgress& progress;
  TaskGroup& uploads;
  std::size_t uploads_at_once;
  std::optional<BufferPool::Lease> part;  // being filled
  std::size_t number = 1;                 // of that part
  std::uint64_t filled = 0;               // bytes in the parts before it
};

asio::awaitable<Result<void>> send_part(Assembly& parts) {
  co_await parts.uploads.wait_below(parts.uploads_at_once);
  if (parts.uploads.failure()) co_return *parts.uploads.failure();
  const bool stopped = co_await is_cancelled();
  if (stopped) co_return cancelled;
  parts.filled += parts.part->bytes().size();
  ++parts.number;
  parts.uploads.start(upload_part(parts.writer, std::move(*parts.part), parts.progress));
  parts.part.reset();
  co_return Result<void>{};
}

asio::awaitable<Result<void>> append(Assembly& parts, std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t size = parts.plan.size_of(parts.number);
    if (!parts.part) {
      if (parts.number > 1) {
        if (auto refused = parts.plan.refuse_more(parts.number - 1, parts.filled)) co_return *refused;
      }
      auto lease = co_await parts.pool.acquire(size);
      if (!lease) co_return lease.error();
      parts.part = std::move(*lease);
    }
    auto& part = parts.part->bytes();
    const std::size_t taken = std::min(bytes.size(), size - part.size());
    part.append(bytes.substr(0, taken));
    bytes.remove_prefix(taken);
    if (part.size() == size) {
      if (auto sent = co_await send_part(parts); !sent) co_return sent;
    }
  }
  co_return Result<void>{};
}

// Takes the ranges' pieces in order into parts, and sends the last part.
asio::awaitable<Result<void>> write_in_order(RangeSequencer& order, std::size_t ranges, Assembly& parts) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (std::size_t range = 0; range < ranges; ++range) {
    for (bool last = false; !last;) {
      auto piece = co_await order.next(range);
      if (!piece) co_return cancelled;
      last = piece->last;
      if (auto appended = co_await append(parts, piece->bytes.bytes()); !appended) co_return appended;
    }
  }
  if (!parts.part && parts.number == 1) {  // nothing at all: an empty object is still one part
    auto lease = co_await parts.pool.acquire(0);
    if (!lease) co_return lease.error();
    parts.part = std::move(*lease);
  }
  if (parts.part) co_return co_await send_part(parts);
  co_return Result<void>{};
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
  const bool first = range == 0;  // the header comes once, at the start
  const std::string query = range_query(*readers.target.dataset, readers.read.ranges[range]);
  auto source = co_await start_csv(connection, query, readers.target.compression, first);
  if (!source) co_return source.error();
  const std::int64_t rows_before = readers.rows[reader];
  for (;;) {
    const bool room = co_await readers.order.room(reader);
    if (!room) co_return cancelled;
    auto lease = co_await readers.pool.acquire(piece_size + (*source)->overshoot());
    if (!lease) co_return lease.error();
    auto more = co_await (*source)->fill(lease->bytes(), piece_size);
    if (!more) co_return more.error();
    readers.rows[reader] = rows_before + (*source)->rows();
    readers.progress.processed_records = std::accumulate(readers.rows.begin(), readers.rows.end(), std::int64_t{0});
    readers.progress.changed();
    if (readers.progress.cancel_requested) co_return cancelled;
    readers.order.deliver(range, {std::move(*lease), reader, !*more});
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
  for (std::size_t range; (range = readers.next_range++) < readers.read.ranges.size();) {
    if (auto read = co_await read_range(readers, *connection, reader, range); !read) co_return read;
  }
  co_return Result<void>{};
}

}  // namespace

asio::awaitable<Result<ParallelRead>> plan_parallel_read(pg::Connection& coordinator, const Dataset& dataset,
                                                         std::optional<std::uint64_t> estimated_bytes,
                                                         std::size_t range_size) {
  auto exported = co_await coordinator.query("SELECT pg_export_snapshot() AS snapshot");
  if (!exported) co_return failure("exporting the snapshot", exported.error());
  const std::vector<pg::Parameter> table{quote_table(dataset.table)};
  auto counted = co_await coordinator.query(
      "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8 AS pages", table);
  if (!counted) co_return failure("counting the pages of table " + dataset.table, counted.error());
  const auto pages = static_cast<std::uint64_t>(std::max<std::int64_t>(counted->int64(0, "pages").value_or(0), 0));
  co_return ParallelRead{std::string(exported->text(0, "snapshot").value_or("")),
                         split_pages(pages, estimated_bytes, range_size)};
}

std::size_t parallel_buffer_need(int parallelism, std::size_t part_size) {
  const std::size_t part = part_size + Compressor::max_overshoot;
  // Each reader's waiting pieces, the one the writer is copying, the part it fills, the parts uploading.
  return static_cast<std::size_t>(parallelism * pieces_ahead + 1) * piece_capacity() + (1 + uploads_at_once) * part;
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
                                                   const ParallelRead& read, const PartPlan& plan, PartWriter& writer,
                                                   BufferPool& pool, ExportProgress& progress) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto executor = co_await asio::this_coro::executor;
  RangeSequencer order(executor, target.parallelism);
  TaskGroup uploads(executor);
  Assembly parts{writer, pool, plan, progress, uploads, writer.writes_in_parallel() ? uploads_at_once : std::size_t{1}, {}};
  Readers readers{config, target, read, pool, progress, order, 0, std::vector<std::int64_t>(target.parallelism)};

  TaskGroup tasks(executor);
  tasks.start(write_in_order(order, read.ranges.size(), parts));
  for (int reader = 0; reader < target.parallelism; ++reader) tasks.start(read_ranges(readers, reader));
  co_await tasks.wait_below(1);  // all ended, or one failed (which cancels the others), or this was cancelled
  tasks.cancel();
  co_await tasks.all_ended();
  if (tasks.failure()) uploads.cancel();
  co_await uploads.all_ended();
  if (tasks.failure()) co_return *tasks.failure();
  if (uploads.failure()) co_return *uploads.failure();
  co_return Result<void>{};
}

}  // namespace pg2s3::engine::detail

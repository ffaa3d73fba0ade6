// An export read by several backends at once: ranges of the table's pages, each read by one COPY in the
// snapshot every backend shares, and put back in range order into one output.
#pragma once

#include "engine/detail/export_pipeline.hpp"
#include "engine/detail/page_ranges.hpp"
#include "engine/detail/part_plan.hpp"
#include "engine/detail/part_writer.hpp"
#include "pg/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::engine::detail {

// What a reader fills at a time, at most.
inline constexpr std::size_t largest_piece = 4 * 1024 * 1024;

// What the readers share: the snapshot the coordinator exported, and the statements to read in turn.
struct ParallelRead {
  std::string snapshot;
  std::vector<std::string> range_queries;  // in output order
  bool header = true;       // the first range starts with the CSV header
  bool whole_rows = false;  // pieces of whole rows, each compressed on its own (CsvLayout::whole_rows)
  std::size_t piece_size = largest_piece;
};

// Exports the snapshot of `coordinator`, which must stay in its REPEATABLE READ transaction until the
// readers are done.
boost::asio::awaitable<Result<std::string>> export_snapshot(pg::Connection& coordinator);

// The dataset's table split into ranges of about `range_size` of output, as statements.
boost::asio::awaitable<Result<std::vector<std::string>>> range_queries(pg::Connection& coordinator,
                                                                       const Dataset& dataset,
                                                                       std::optional<std::uint64_t> estimated_bytes,
                                                                       std::size_t range_size);

// Where the readers' pieces go, one range after the other in order.
class PieceSink {
 public:
  virtual ~PieceSink() = default;
  // The next bytes of the output, holding `rows` rows (whole rows when the read asked for them).
  virtual boost::asio::awaitable<Result<void>> take(std::string_view bytes, std::int64_t rows) = 0;
  // After the last piece: what is still held goes out.
  virtual boost::asio::awaitable<Result<void>> end() = 0;
  // Stops what is under way (a failure elsewhere); then settle() as always.
  virtual void stop() = 0;
  // Waits, uninterrupted, until nothing is under way; the first failure of what was.
  virtual boost::asio::awaitable<Result<void>> settle() = 0;
};

// The pieces cut into the parts of one object, of the plan's sizes, up to `max_parts_in_flight` of them
// uploading at once as InFlightLimit finds they pay.
std::unique_ptr<PieceSink> object_parts(boost::asio::any_io_executor executor, PartWriter& writer, BufferPool& pool,
                                        const PartPlan& plan, int max_parts_in_flight, ExportProgress& progress);

// The buffer bytes an export of `parallelism` readers must be able to hold: each reader's pieces waiting
// for their turn, the part being filled, and one uploading (more go up only while the budget has room).
std::size_t parallel_buffer_need(int parallelism, std::size_t part_size);
// What of that it may hold while it waits on the pool, its share in BufferPool::admit: the pieces and the
// part being filled. Parts uploading are not counted: they come back whatever the pool does.
std::size_t parallel_budget_share(int parallelism, std::size_t part_size);

// Why a parallel export of `parallelism` readers with parts of `part_size` does not fit the budget, if it
// does not.
std::optional<Error> refuse_parallel_budget(int parallelism, std::size_t part_size, std::size_t budget);

// Reads the ranges on target.parallelism backends and hands their bytes, in range order, to `sink`.
// Returns once every reader has ended and the sink has settled.
boost::asio::awaitable<Result<void>> transfer_in_parallel(const EngineConfig& config, const ExportTarget& target,
                                                          const ParallelRead& read, PieceSink& sink,
                                                          BufferPool& pool, ExportProgress& progress);

}  // namespace pg2s3::engine::detail

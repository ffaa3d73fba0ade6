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
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::engine::detail {

// What the readers share: the snapshot the coordinator exported, and the ranges to read.
struct ParallelRead {
  std::string snapshot;
  std::vector<PageRange> ranges;
};

// Exports the snapshot of `coordinator` (in its REPEATABLE READ transaction, which must stay open until
// the readers are done) and splits the dataset's table into ranges of about `range_size` of output.
boost::asio::awaitable<Result<ParallelRead>> plan_parallel_read(pg::Connection& coordinator, const Dataset& dataset,
                                                                std::optional<std::uint64_t> estimated_bytes,
                                                                std::size_t range_size);

// The most buffer bytes an export of `parallelism` readers holds: each reader's pieces waiting for their
// turn, the part being filled, and the parts uploading.
std::size_t parallel_buffer_need(int parallelism, std::size_t part_size);

// Why a parallel export of `parallelism` readers with parts of `part_size` does not fit the budget, if it
// does not.
std::optional<Error> refuse_parallel_budget(int parallelism, std::size_t part_size, std::size_t budget);

// Reads the ranges on target.parallelism backends and writes their bytes, in range order, to `writer`
// in parts of the plan's sizes. Returns once every reader and every upload has ended.
boost::asio::awaitable<Result<void>> transfer_in_parallel(const EngineConfig& config, const ExportTarget& target,
                                                          const ParallelRead& read, const PartPlan& plan,
                                                          PartWriter& writer, BufferPool& pool,
                                                          ExportProgress& progress);

}  // namespace pg2s3::engine::detail

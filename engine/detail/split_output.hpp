// An export split into files of at most maxFileSize, each complete with its own header, then a manifest
// written last as the commit point.
#pragma once

#include "engine/detail/export_pipeline.hpp"
#include "engine/detail/part_plan.hpp"
#include "pg/connection.hpp"
#include "s3/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pg2s3::engine::detail {

// "<prefix>/part-00000.csv[.gz|.zst]"
std::string split_file_key(std::string_view prefix, std::size_t index, Format format, Compression compression);
// "<prefix>/manifest.json"
std::string manifest_key(std::string_view prefix);

// Aborts the uploads open under a split output's prefix (a file's upload is on record only while it is the
// open one, so they are found by listing): every one, or only `only_upload_id` when it is not empty.
boost::asio::awaitable<Result<void>> abort_split_uploads(s3::Client& client, const std::string& bucket,
                                                         std::string_view prefix, std::string_view only_upload_id);

// Deletes a split output in `bucket` that its export did not complete, as a process that died mid-export
// leaves it: its manifest first, so that no reader finds one naming files about to go, then every file.
boost::asio::awaitable<Result<void>> delete_split_output(s3::Client& client, const std::string& bucket,
                                                         std::string_view prefix);

// The export of target (max_file_size set) read in the snapshot of `coordinator`, on target.parallelism
// backends. The files appear as they fill; on any failure or cancel every one of them is removed and
// the open upload aborted, and no manifest is written.
boost::asio::awaitable<Result<void>> export_files(const EngineConfig& config, s3::Client& client, BufferPool& pool,
                                                  const ExportTarget& target, pg::Connection& coordinator,
                                                  std::optional<std::uint64_t> estimated_bytes, const PartPlan& plan,
                                                  ExportProgress& progress);

}  // namespace pg2s3::engine::detail

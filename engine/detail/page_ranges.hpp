// How a parallel export splits its table: ranges of heap pages, each read by one COPY with a TID range scan.
#pragma once

#include "engine/config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::engine::detail {

// Pages [first, end) of the table; the last range has no end, so that pages added after they were
// counted are read too (a row the snapshot sees is on a page that existed when it was taken, but the
// count is taken after).
struct PageRange {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> end;
};

// Ranges of about `range_bytes` of output each, from the table's page count and the planner's estimate
// of the whole output (a page is taken to hold about the same output as any other); at least one.
std::vector<PageRange> split_pages(std::uint64_t pages, std::optional<std::uint64_t> estimated_bytes,
                                   std::uint64_t range_bytes);

// The dataset's query restricted to the range: its rows in the order of the pages that hold them.
std::string range_query(const Dataset& dataset, const PageRange& range);

// Why the dataset cannot be read by `parallelism` backends, when it cannot.
std::optional<std::string> refuse_parallelism(const Dataset& dataset, Format format, int parallelism);

}  // namespace pg2s3::engine::detail

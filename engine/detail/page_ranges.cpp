#include "engine/detail/page_ranges.hpp"

#include <algorithm>

namespace pg2s3::engine::detail {

namespace {

constexpr std::uint64_t page_bytes = 8192;  // output a page is taken to make when the planner has no estimate

std::string tid(std::uint64_t page) { return "'(" + std::to_string(page) + ",0)'::tid"; }

}  // namespace

std::vector<PageRange> split_pages(std::uint64_t pages, std::optional<std::uint64_t> estimated_bytes,
                                   std::uint64_t range_bytes) {
  const std::uint64_t bytes = estimated_bytes.value_or(pages * page_bytes);
  const std::uint64_t wanted = std::max<std::uint64_t>(1, (bytes + range_bytes - 1) / std::max<std::uint64_t>(range_bytes, 1));
  const std::uint64_t count = std::min(wanted, std::max<std::uint64_t>(pages, 1));
  const std::uint64_t pages_each = std::max<std::uint64_t>(1, pages / count);
  std::vector<PageRange> ranges;
  for (std::uint64_t first = 0; ranges.size() + 1 < count; first += pages_each) ranges.push_back({first, first + pages_each});
  ranges.push_back({ranges.empty() ? 0 : *ranges.back().end, std::nullopt});
  return ranges;
}

std::string range_query(const Dataset& dataset, const PageRange& range) {
  Dataset part = dataset;
  std::string condition = "ctid >= " + tid(range.first);
  if (range.end) condition += " AND ctid < " + tid(*range.end);
  part.where = dataset.where.empty() ? condition : condition + " AND (" + dataset.where + ")";
  return table_query(part);
}

std::optional<std::string> refuse_parallelism(const Dataset& dataset, Format format, int parallelism) {
  if (parallelism < 1 || parallelism > max_parallelism)
    return "parallelism must be 1 to " + std::to_string(max_parallelism) + ", not " + std::to_string(parallelism);
  if (parallelism == 1) return std::nullopt;
  if (dataset.table.empty())
    return "dataset " + dataset.name + " is a query, which cannot be split: parallelism needs a dataset that names its table";
  if (format == Format::parquet) return "a Parquet export is written by one backend: parallelism must be 1";
  return std::nullopt;
}

}  // namespace pg2s3::engine::detail

#include "engine/detail/part_plan.hpp"

#include <algorithm>
#include <string>

namespace pg2s3::engine::detail {

namespace {

constexpr std::size_t mebibyte = 1024 * 1024;

std::string in_mib(std::uint64_t bytes) { return std::to_string((bytes + mebibyte - 1) / mebibyte) + " MiB"; }
std::string in_gib(std::uint64_t bytes) { return std::to_string((bytes + (mebibyte << 10) - 1) / (mebibyte << 10)) + " GiB"; }

Error too_large(std::string why) {
  return {errc::output_too_large, std::move(why) + ": narrow the query, or split the output into files (maxFileSize)"};
}

}  // namespace

Result<PartPlan> PartPlan::choose(std::size_t configured, std::optional<std::uint64_t> estimated_bytes,
                                  std::size_t budget) {
  if (estimated_bytes && *estimated_bytes > max_object_size)
    return too_large("the planner estimates " + in_gib(*estimated_bytes) + " of output, more than the 5 TiB S3 holds in one object");
  const std::uint64_t needed = estimated_bytes ? 2 * *estimated_bytes / max_parts : 0;
  const std::size_t size =
      std::min<std::uint64_t>(std::max<std::uint64_t>(configured, (needed + mebibyte - 1) / mebibyte * mebibyte), max_part_size);
  if (size > budget)
    return Error{errc::over_budget, "parts of " + in_mib(size) + " (for an estimated " + in_gib(estimated_bytes.value_or(0)) +
                                        " of output) do not fit the buffer budget of " + in_mib(budget) +
                                        ": raise [export] buffer_budget_mib"};
  return PartPlan(size);
}

std::size_t PartPlan::size_of(std::size_t number) const {
  return std::min(first_size_ * (1 + (number - 1) / 1000), max_part_size);
}

std::optional<Error> PartPlan::refuse_more(std::size_t parts, std::uint64_t bytes) const {
  if (parts >= max_parts)
    return too_large("the output fills S3's 10,000 parts (" + in_gib(bytes) + " so far, parts from " + in_mib(first_size_) +
                     ") and more rows follow");
  if (bytes >= max_object_size) return too_large("the output reaches the 5 TiB S3 holds in one object and more rows follow");
  return std::nullopt;
}

}  // namespace pg2s3::engine::detail

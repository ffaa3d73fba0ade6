// The planner's estimate of a query's output, read from EXPLAIN (FORMAT JSON) without running the query.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pg2s3::engine::detail {

struct PlanEstimate {
  std::optional<std::int64_t> rows;
  std::optional<std::int64_t> width;  // average bytes of a row

  // rows x width: what the output's size is planned from (CSV text is often somewhat wider).
  std::optional<std::uint64_t> bytes() const;
};

// "Plan Rows" and "Plan Width" of the top plan node; nothing when the text is not such a plan.
std::optional<PlanEstimate> plan_estimate(std::string_view explain_json);

}  // namespace pg2s3::engine::detail

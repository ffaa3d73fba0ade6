// The planner's row estimate, read from EXPLAIN (FORMAT JSON) without running the query.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pg2s3::engine::detail {

// "Plan Rows" of the top plan node; nothing when the text is not such a plan.
std::optional<std::int64_t> plan_rows(std::string_view explain_json);

}  // namespace pg2s3::engine::detail

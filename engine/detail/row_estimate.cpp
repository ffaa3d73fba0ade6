#include "engine/detail/row_estimate.hpp"

#include <simdjson.h>

namespace pg2s3::engine::detail {

std::optional<std::uint64_t> PlanEstimate::bytes() const {
  if (!rows || !width || *rows < 0 || *width < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*rows) * static_cast<std::uint64_t>(*width);
}

std::optional<PlanEstimate> plan_estimate(std::string_view explain_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element plan;
  if (parser.parse(explain_json.data(), explain_json.size()).at(0)["Plan"].get(plan)) return std::nullopt;
  double rows = 0;
  if (plan["Plan Rows"].get(rows)) return std::nullopt;
  PlanEstimate estimate{static_cast<std::int64_t>(rows), std::nullopt};
  double width = 0;
  if (!plan["Plan Width"].get(width)) estimate.width = static_cast<std::int64_t>(width);
  return estimate;
}

}  // namespace pg2s3::engine::detail

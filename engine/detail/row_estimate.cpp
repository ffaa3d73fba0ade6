#include "engine/detail/row_estimate.hpp"

#include <simdjson.h>

namespace pg2s3::engine::detail {

std::optional<std::int64_t> plan_rows(std::string_view explain_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element plan;
  if (parser.parse(explain_json.data(), explain_json.size()).at(0)["Plan"].get(plan)) return std::nullopt;
  double rows = 0;
  if (plan["Plan Rows"].get(rows)) return std::nullopt;
  return static_cast<std::int64_t>(rows);
}

}  // namespace pg2s3::engine::detail

// Which jobs a listing asks for, and where its pages start: newest first, in (createdAt, id) order.
#pragma once

#include "engine/job.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pg2s3::engine {

// A job's place in the listing order: its creation time as stored (microseconds since the epoch) and its id.
struct JobPosition {
  std::int64_t created_us = 0;
  std::string id;
  bool operator==(const JobPosition&) const = default;
};

JobPosition position_of(const JobRecord& job);

struct JobQuery {
  std::optional<JobStatus> status = std::nullopt;
  std::optional<std::string> dataset = std::nullopt;
  std::optional<TimePoint> since = std::nullopt;  // createdAt at or after
  std::optional<TimePoint> until = std::nullopt;  // createdAt before
  int limit = 20;
  std::optional<JobPosition> after = std::nullopt;  // the page starts with the job after this one
};

struct JobPage {
  std::vector<JobRecord> jobs;
  std::optional<JobPosition> next;  // where the next page starts; none on the last page
};

}  // namespace pg2s3::engine

#include "engine/job_query.hpp"

namespace pg2s3::engine {

JobPosition position_of(const JobRecord& job) {
  return {std::chrono::duration_cast<std::chrono::microseconds>(job.created_at.time_since_epoch()).count(), job.id};
}

}  // namespace pg2s3::engine

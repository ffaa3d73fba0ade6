#include "engine/detail/job_ending.hpp"

namespace pg2s3::engine::detail {

Ending ending_of(const Result<void>& outcome, const AttemptFacts& facts) {
  if (outcome) return Ending::completed;
  if (facts.stop == Stop::lease_lost) return Ending::walk_away;
  if (facts.stop == Stop::hand_back) return Ending::hand_back;
  if (facts.cancel_requested) return Ending::cancelled;
  if (outcome.error().transient && facts.from_queue && facts.attempt < facts.max_attempts) return Ending::retry_later;
  return Ending::failed;
}

}  // namespace pg2s3::engine::detail

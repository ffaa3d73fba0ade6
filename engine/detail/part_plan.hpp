// How large an export's S3 parts are, chosen at its start from the planner's estimate of its output, and
// where S3's limits on one object stop it.
#pragma once

#include "engine/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace pg2s3::engine::detail {

// S3's limits on one multipart object.
inline constexpr std::size_t max_parts = 10'000;
inline constexpr std::uint64_t max_object_size = 5ull << 40;  // 5 TiB
inline constexpr std::size_t max_part_size = 5ull << 30;      // 5 GiB

class PartPlan {
 public:
  // Parts of the configured size, or larger when 10,000 of them would not hold twice the estimated output
  // (the estimate may be off); whole MiB. Refused, with the reason, when the estimate alone passes S3's
  // 5 TiB or a part would not fit the buffer budget.
  static Result<PartPlan> choose(std::size_t configured, std::optional<std::uint64_t> estimated_bytes,
                                 std::size_t budget);

  // The size of part `number` (from 1): the chosen size for the first thousand parts, growing by that much
  // every thousand more, so that an output the estimate made too small still fits in 10,000 parts.
  std::size_t size_of(std::size_t number) const;

  // Why the output cannot go on in one object once `parts` parts holding `bytes` are full and more follows;
  // nothing while it can.
  std::optional<Error> refuse_more(std::size_t parts, std::uint64_t bytes) const;

  std::size_t first_size() const { return first_size_; }

 private:
  explicit PartPlan(std::size_t first_size) : first_size_(first_size) {}
  std::size_t first_size_;
};

}  // namespace pg2s3::engine::detail

#include "engine/detail/in_flight_limit.hpp"

#include <algorithm>
#include <cmath>

namespace pg2s3::engine::detail {

namespace {
constexpr double reader_waits = 0.1;   // the uploads are the limit when the reader waits this share or more
constexpr double headroom = 1.25;      // uploads vary: enough in flight for a quarter more than the reader fills
constexpr double surplus = 1.5;        // and one fewer once half as many again as the reader needs are in flight
constexpr double worth_it = 1.1;       // a step up must bring 10% more
constexpr int hold_after_no_gain = 8;  // windows to stay put after a step that bought nothing

double seconds(InFlightLimit::Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }
}  // namespace

void InFlightLimit::part_uploaded(std::uint64_t bytes, Clock::duration took) {
  uploaded_bytes_ += bytes;
  uploading_ += seconds(took);
}

void InFlightLimit::part_started(Clock::time_point now, std::uint64_t bytes, Clock::duration reader_waited,
                                 int parts_with_room) {
  if (window_.parts >= 0) {
    window_.bytes += bytes;
    if (++window_.parts < window()) return;
    const double elapsed = seconds(now - window_.start);
    const double waited = seconds(reader_waited - window_.reader_waited);
    filled_ += window_.bytes;
    reader_working_ += elapsed - waited;
    if (uploading_ > 0) upload_rate_ = static_cast<double>(uploaded_bytes_) / uploading_;
    if (elapsed > 0 && reader_working_ > 0 && upload_rate_ > 0) {
      const double reader_rate = static_cast<double>(filled_) / reader_working_;
      window_ended({reader_rate, waited / elapsed, upload_rate_, static_cast<double>(window_.bytes) / elapsed},
                   parts_with_room);
    }
  }
  window_ = {now, reader_waited, 0, 0};
  uploaded_bytes_ = 0;
  uploading_ = 0;
}

void InFlightLimit::window_ended(const Measured& measured, int parts_with_room) {
  const bool uploads_are_the_limit = measured.reader_waiting_share >= reader_waits;
  if (step_) {
    const Step step = *step_;
    step_.reset();
    if (uploads_are_the_limit && measured.throughput < step.throughput * worth_it) {
      current_ = step.from;  // more uploads at once did not go faster: they share one bottleneck
      windows_to_hold_ = hold_after_no_gain;
      return;
    }
  }
  const double uploads_per_reader = measured.reader_rate / measured.upload_rate;
  if (!uploads_are_the_limit && std::ceil(uploads_per_reader * surplus) < current_) {
    --current_;  // a step at a time: one upload's rate varies from window to window
    return;
  }
  if (windows_to_hold_ > 0) {
    --windows_to_hold_;
    return;
  }
  const int needed = static_cast<int>(std::clamp(std::ceil(uploads_per_reader * headroom), 1.0, static_cast<double>(max_)));
  const int affordable = current_ + std::max(parts_with_room, 0);
  if (uploads_are_the_limit && needed > current_ && affordable > current_) {
    step_ = Step{current_, measured.throughput};
    current_ = std::min(needed, affordable);
  }
}

}  // namespace pg2s3::engine::detail

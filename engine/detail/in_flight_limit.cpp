#include "engine/detail/in_flight_limit.hpp"

namespace pg2s3::engine::detail {

namespace {
constexpr double reader_waits = 0.2;   // the uploads are the limit when the reader waits this share or more
constexpr double worth_it = 1.1;       // a step up must bring 10% more
constexpr int hold_after_no_gain = 8;  // windows to stay put after a step that bought nothing
}  // namespace

void InFlightLimit::part_started(Clock::time_point now, Clock::duration reader_waited, std::uint64_t bytes_uploaded,
                                 bool budget_has_room) {
  const bool first = window_.parts < 0;
  if (!first && ++window_.parts < window()) return;
  if (!first) {
    const double seconds = std::chrono::duration<double>(now - window_.start).count();
    const double waited = std::chrono::duration<double>(reader_waited - window_.reader_waited).count();
    if (seconds > 0)
      window_ended(waited / seconds, static_cast<double>(bytes_uploaded - window_.bytes_uploaded) / seconds,
                   budget_has_room);
  }
  window_ = {now, reader_waited, bytes_uploaded, 0};
}

void InFlightLimit::window_ended(double reader_waiting_share, double upload_rate, bool budget_has_room) {
  if (trying_step_) {
    trying_step_ = false;
    if (upload_rate < rate_before_step_ * worth_it) {  // the link was not the limit: step back, and wait
      --current_;
      windows_to_hold_ = hold_after_no_gain;
      return;
    }
  }
  if (reader_waiting_share < reader_waits) {  // the reader is the limit: fewer buffers do as well
    if (current_ > 1) --current_;
    windows_to_hold_ = 0;
    return;
  }
  if (windows_to_hold_ > 0) {
    --windows_to_hold_;
    return;
  }
  if (current_ < max_ && budget_has_room) {
    rate_before_step_ = upload_rate;
    trying_step_ = true;
    ++current_;
  }
}

}  // namespace pg2s3::engine::detail

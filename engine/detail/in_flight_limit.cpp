#include "engine/detail/in_flight_limit.hpp"

namespace pg2s3::engine::detail {

namespace {
constexpr double reader_waits = 0.2;   // the uploads are the limit when the reader waits this share or more
constexpr double worth_it = 1.1;       // a step up must bring 10% more
constexpr int hold_after_no_gain = 8;  // windows to stay put after a step that bought nothing
}  // namespace

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

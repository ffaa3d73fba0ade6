// How many parts one export keeps uploading at once, chosen by what the upload needs rather than fixed.
#pragma once

namespace pg2s3::engine::detail {

// More parts go up at once while the reader waits on the uploads and each step up brings more throughput
// (one connection carries a few tens of MB/s across a region); fewer when the reader is the limit, so on a
// fast link an export holds no more buffers than it needs. Plain arithmetic over what each window of
// parts measured, so it is tested without sockets.
class InFlightLimit {
 public:
  explicit InFlightLimit(int max) : max_(max < 1 ? 1 : max) {}

  int current() const { return current_; }
  // Parts to measure before deciding again.
  int window() const { return 2 * current_; }

  // A window ended: the share of its time the reader spent waiting for the uploads (0..1), the bytes per
  // second the uploads achieved, and whether the buffer budget has room for another part.
  void window_ended(double reader_waiting_share, double upload_rate, bool budget_has_room);

 private:
  int max_;
  int current_ = 1;
  double rate_before_step_ = 0;  // while trying a step up: the rate it has to beat
  bool trying_step_ = false;
  int windows_to_hold_ = 0;  // after a step that bought nothing: windows before trying again
};

}  // namespace pg2s3::engine::detail

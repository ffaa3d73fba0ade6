// How many parts one export keeps uploading at once, chosen by what the upload needs rather than fixed.
#pragma once

#include <chrono>
#include <cstdint>

namespace pg2s3::engine::detail {

// More parts go up at once while the reader waits on the uploads and each step up brings more throughput
// (one connection carries a few tens of MB/s across a region); fewer when the reader is the limit, so on a
// fast link an export holds no more buffers than it needs. Plain arithmetic over what each window of
// parts measured, so it is tested without sockets.
class InFlightLimit {
 public:
  using Clock = std::chrono::steady_clock;

  explicit InFlightLimit(int max) : max_(max < 1 ? 1 : max) {}

  int current() const { return current_; }
  // Parts to measure before deciding again.
  int window() const { return 2 * current_; }

  // A part's upload started. `reader_waited` is all the time the reader has waited for the uploads so far,
  // `bytes_uploaded` all the bytes uploaded so far; every window() parts this decides again from what the
  // window measured.
  void part_started(Clock::time_point now, Clock::duration reader_waited, std::uint64_t bytes_uploaded,
                    bool budget_has_room);

  // A window ended: the share of its time the reader spent waiting for the uploads (0..1), the bytes per
  // second the uploads achieved, and whether the buffer budget has room for another part.
  void window_ended(double reader_waiting_share, double upload_rate, bool budget_has_room);

 private:
  struct Window {
    Clock::time_point start{};
    Clock::duration reader_waited{};
    std::uint64_t bytes_uploaded = 0;
    int parts = -1;  // -1 until the first part starts it
  };

  int max_;
  int current_ = 1;
  double rate_before_step_ = 0;  // while trying a step up: the rate it has to beat
  bool trying_step_ = false;
  int windows_to_hold_ = 0;  // after a step that bought nothing: windows before trying again
  Window window_;
};

}  // namespace pg2s3::engine::detail

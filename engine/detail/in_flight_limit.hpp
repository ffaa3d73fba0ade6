// How many parts one export keeps uploading at once, chosen by what the upload needs rather than fixed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace pg2s3::engine::detail {

// Sized from two rates measured directly: how fast the reader fills parts while it is not waiting, and
// how fast one upload carries a part (one connection carries a few tens of MB/s across a region). The
// uploads keep up when rate of the reader / rate of one upload are in flight, so that many, with some
// headroom, go up at once while the reader waits on them; fewer once the reader is the limit. A step up
// must raise the throughput, else uploads share one bottleneck (a busy server) and it is undone. On a
// fast link one upload outruns the reader, so an export holds no more buffers than it needs. Plain
// arithmetic over what each window of parts measured, so it is tested without sockets.
class InFlightLimit {
 public:
  using Clock = std::chrono::steady_clock;

  explicit InFlightLimit(int max) : max_(max < 1 ? 1 : max) {}

  int current() const { return current_; }
  // Parts to start before deciding again: about two rounds of the uploads in flight, and at first one
  // part, so that a slow link is seen after one upload.
  int window() const { return 2 * current_ - 1; }

  // One part's upload ended: `bytes` carried in `took`.
  void part_uploaded(std::uint64_t bytes, Clock::duration took);

  // A part of `bytes` was handed to the uploads. `reader_waited` is all the time the reader has waited for
  // the uploads so far; `parts_with_room` how many more parts the buffer budget could lend now. Every
  // window() parts this decides again from what the window measured.
  void part_started(Clock::time_point now, std::uint64_t bytes, Clock::duration reader_waited, int parts_with_room);

  struct Measured {
    double reader_rate;           // bytes per second the reader filled while not waiting, so far
    double reader_waiting_share;  // of the window's time, waiting for the uploads (0..1)
    double upload_rate;           // bytes per second of one upload
    double throughput;            // bytes per second handed to the uploads over the window
  };
  // The decision at the end of a window.
  void window_ended(const Measured& measured, int parts_with_room);

 private:
  struct Window {
    Clock::time_point start{};
    Clock::duration reader_waited{};
    std::uint64_t bytes = 0;
    int parts = -1;  // -1 until the first part starts it
  };
  struct Step {
    int from;
    double throughput;  // before it: what the window after it must beat
  };

  int max_;
  int current_ = 1;
  Window window_;
  std::optional<Step> step_;  // a step up, judged by the next window
  int windows_to_hold_ = 0;   // after a step that bought nothing: windows before stepping up again
  // The reader's rate over the whole export: a window's alone runs high after a wait, when the COPY's
  // rows that queued meanwhile are read at once.
  std::uint64_t filled_ = 0;
  double reader_working_ = 0;  // seconds
  // One upload's rate over the window: it changes with the link and with how many share it.
  std::uint64_t uploaded_bytes_ = 0;  // by the uploads that ended since the last decision
  double uploading_ = 0;              // seconds those uploads took, summed
  double upload_rate_ = 0;            // the last measured
};

}  // namespace pg2s3::engine::detail

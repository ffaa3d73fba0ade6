// A loopback HTTP proxy in front of RGW that drops, loses, holds or slows down requests, or answers them as a
// load balancer would, for the fault tests.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace pg2s3::test {

enum class S3Operation { create_multipart_upload, upload_part, complete_multipart_upload };

// What a load balancer in front of S3 sends with an answer of its own: an HTML page, or nothing; never S3's XML.
enum class LoadBalancerBody { html, empty };

// Runs on a thread of its own until destroyed; its faults may be set from any thread at any time.
// Requests it forwards keep their Host header, so RGW checks the signature the client made for the proxy.
class S3FaultProxy {
 public:
  explicit S3FaultProxy(const std::string& upstream_endpoint);  // "http://127.0.0.1:57480"
  ~S3FaultProxy();

  std::string endpoint() const;  // "http://127.0.0.1:<port>"

  // Answers 503 SlowDown, rather than forwarding, to every other UploadPart until `count` were answered so.
  void slow_down_parts(int count);
  // Once `after_parts` more UploadParts went through, RGW is away: every request is read and its connection
  // closed without an answer, `count` times, or (count < 0) until come_back().
  void go_away(int after_parts, int count);
  void come_back();
  // From now on every request is read and never answered, its connection held open: an S3 that hangs.
  void hang();
  // The next `count` CompleteMultipartUploads reach RGW, which completes the object, but their answers are
  // lost: the connection closes instead.
  void lose_complete_answers(int count);
  // Answers the next `count` requests of `operation` itself, with `status` (502, 504, 429...) and `body`, as a
  // load balancer in front of S3 does: they never reach RGW.
  void answer_status(S3Operation operation, unsigned status, int count, LoadBalancerBody body);
  // Holds every UploadPart this long before passing it on, as a slow link would.
  void delay_parts(std::chrono::milliseconds delay);
  // From now on each request, with `probability` (0 stops it), is not forwarded: it is answered 503
  // SlowDown, 502 (an HTML page) or 500 (no body), or its connection is closed without an answer, the
  // choices drawn from a generator seeded with `seed`, so that a run can be replayed.
  void fail_at_random(double probability, unsigned seed);

  struct RandomFaults {
    int slow_downs = 0;  // 503
    int bad_gateways = 0;  // 502
    int internal_errors = 0;  // 500
    int dropped = 0;
  };
  RandomFaults random_faults() const;  // sent by fail_at_random()
  // Every upload id that RGW completed, by the path it completed it at ("/bucket/key").
  std::map<std::string, std::set<std::string>> completed_uploads() const;

  int slow_downs_sent() const;
  int status_answers_sent() const;  // by answer_status()
  int requests_dropped() const;
  int aborts_forwarded() const;  // AbortMultipartUpload requests that reached RGW
  int complete_answers_lost() const;
  int parts_at_once() const;    // the most UploadParts that were under way at the same time
  int parts_forwarded() const;  // UploadParts that came in, not answered SlowDown nor dropped

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pg2s3::test

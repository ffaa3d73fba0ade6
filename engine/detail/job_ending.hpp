// How one attempt of a job ends, decided from what happened and nothing else (no I/O), so that the rules
// are read, and tested, in one place.
#pragma once

#include "engine/error.hpp"

namespace pg2s3::engine::detail {

// Why a running job is being stopped before its export ends.
enum class Stop {
  none,
  cancel,      // asked to: it ends CANCELLED
  hand_back,   // this process is leaving: it goes back to PENDING for another
  lease_lost,  // another process holds it now: this one writes nothing more to it
};

enum class Ending {
  completed,    // the output is there: COMPLETED, whatever stop was asked meanwhile (too late to undo)
  cancelled,    // CANCELLED
  failed,       // FAILED with the attempt's error
  retry_later,  // PENDING again after a backoff, the attempt spent: it met trouble another attempt may not
  hand_back,    // PENDING again at once, the attempt unspent: this process is leaving
  walk_away,    // another attempt holds the job: nothing is written to it
};

struct AttemptFacts {
  Stop stop = Stop::none;
  bool cancel_requested = false;
  bool from_queue = false;  // claimed from the fleet's queue: any process may run it again
  int attempt = 0;
  int max_attempts = 0;
};

// A transient failure (Error::transient) of a job from the queue is retried while attempts remain; a job
// held for its process (a local file, the export command) has no other process to run it, and fails.
Ending ending_of(const Result<void>& outcome, const AttemptFacts& facts);

}  // namespace pg2s3::engine::detail

#pragma once

// Background sweeping of lapsed seat holds (emitting seat.expired) and of sessions whose
// application deadline has passed (re-indexing their rotations for search). Every seat
// script also sweeps its own session lazily, and every search sweeps a little first; this
// thread makes sure seats come back and events go out even when nobody is looking. Several
// replicas may sweep at once: each entry is taken by exactly one script run.

#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "services/catalog/seat_store.h"

namespace clerkship::catalog {

class SeatSweeper {
 public:
  SeatSweeper(SeatStore* store, Clock* clock, absl::Duration interval, int batch = 500);
  ~SeatSweeper();

  void Start();
  void Stop();
  // Sweeps until a pass finds less than a batch due. Returns the entries processed.
  // Blocks the calling thread (not for use on gRPC or Redis callback threads).
  absl::StatusOr<int> SweepOnce();

 private:
  void Run();

  SeatStore* store_;
  Clock* clock_;
  absl::Duration interval_;
  int batch_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace clerkship::catalog

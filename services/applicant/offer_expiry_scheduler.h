#pragma once

// Moves OFFERED applications whose offer has lapsed to EXPIRED (releasing their seats), and
// retries seat releases left in the outbox by a crash or a catalog outage.
//
// Both schedules are sorted sets in Redis (app:offers:expiry, app:seats:release), scored by
// when each entry is due on the injected clock. A pass claims due entries atomically (one
// Lua script moves each claimed entry a lease into the future), so any number of replicas
// can run a scheduler: each entry is worked on by one of them, and if that one dies the
// lease runs out and another takes the entry over. Expiring is itself a compare-and-set on
// the application, so a claim that races an acceptance changes nothing twice.

#include <atomic>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "services/applicant/applicant_store.h"
#include "services/applicant/application_lifecycle.h"

namespace clerkship::applicant {

struct SchedulerOptions {
  absl::Duration interval = absl::Seconds(5);  // between passes when idle
  absl::Duration lease = absl::Seconds(30);    // how long a claim is exclusive
  int batch = 100;                             // entries claimed per pass and schedule
};

class OfferExpiryScheduler {
 public:
  struct PassResult {
    int offers_expired = 0;
    int releases_retried = 0;
    int claimed = 0;  // entries claimed from both schedules
  };

  OfferExpiryScheduler(ApplicantStore* store, ApplicationLifecycle* lifecycle, Clock* clock,
                       SchedulerOptions options = {});
  ~OfferExpiryScheduler();

  // Runs passes on a thread of its own until Stop().
  void Start();
  void Stop();

  // One pass over both schedules; blocks until its work is done. For tests and the thread.
  absl::StatusOr<PassResult> RunOnce();

 private:
  ApplicantStore* store_;
  ApplicationLifecycle* lifecycle_;
  Clock* clock_;
  SchedulerOptions options_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace clerkship::applicant

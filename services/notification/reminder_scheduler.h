#pragma once

// Fires due reminders (sorted set ntf:reminders, by due time). Any number of replicas run
// one: a replica claims due reminders with a lease in one script, and the write that
// creates the reminder's notification removes the reminder (ZREM) in the same script only
// while that claim still holds, deduplicated on member + due time. A reminder therefore
// fires once, and a replica that dies holding a claim only delays it by the lease.

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "services/notification/event_processor.h"
#include "services/notification/notification_store.h"

namespace clerkship::notification {

struct ReminderOptions {
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration lease = absl::Minutes(2);
  int batch_size = 32;
};

class ReminderScheduler {
 public:
  ReminderScheduler(NotificationStore* store, NotificationComposer* composer, Clock* clock,
                    ReminderOptions options);
  ~ReminderScheduler();

  void Start();
  void Stop();
  // One claim-and-fire pass on the calling thread; returns how many were claimed.
  absl::StatusOr<int> RunOnce();

 private:
  void Loop();

  NotificationStore* store_;
  NotificationComposer* composer_;
  Clock* clock_;
  ReminderOptions options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace clerkship::notification

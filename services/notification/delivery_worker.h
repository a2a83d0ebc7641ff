#pragma once

// Delivers queued notifications by e-mail and webhook on threads of its own. The queue is
// the sorted set ntf:delivery_due in Redis (so it survives restarts); a worker claims due
// entries with a lease, checks the recipient's current settings (channel still on, quiet
// hours), makes one attempt and records it: delivered, retry later (exponential backoff
// with jitter), deferred to the end of quiet hours, or failed for good.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "services/notification/channel_senders.h"
#include "services/notification/notification_metrics.h"
#include "services/notification/notification_store.h"
#include "services/notification/recipient_directory.h"

namespace clerkship::notification {

struct DeliveryOptions {
  int threads = 2;
  int batch_size = 16;
  absl::Duration poll_interval = absl::Milliseconds(200);
  absl::Duration lease = absl::Minutes(5);  // longer than any single attempt can take
  int max_attempts = 8;
  absl::Duration backoff_initial = absl::Seconds(30);
  absl::Duration backoff_max = absl::Hours(1);
  std::string email_from = "Clerkship <no-reply@clerkship.example>";
};

class DeliveryWorker {
 public:
  // email may be null (no SMTP server configured: e-mail deliveries fail).
  DeliveryWorker(NotificationStore* store, RecipientDirectory* directory, EmailSender* email,
                 WebhookSender* webhook, Clock* clock, DeliveryOptions options,
                 NotificationMetrics* metrics);
  ~DeliveryWorker();

  void Start();
  void Stop();
  // Claims and processes one batch on the calling thread; returns how many were claimed.
  absl::StatusOr<int> RunOnce();

  // Delay before retry number `attempts` (1 = after the first failure): doubling from
  // backoff_initial up to backoff_max, then randomised to 50-100% of that.
  absl::Duration Backoff(int attempts) const;

 private:
  void Loop();
  void Process(const ClaimedDelivery& claim);
  void Save(const ClaimedDelivery& claim, const v1::Delivery& updated,
            std::optional<absl::Time> next_due);

  NotificationStore* store_;
  RecipientDirectory* directory_;
  EmailSender* email_;
  WebhookSender* webhook_;
  Clock* clock_;
  DeliveryOptions options_;
  NotificationMetrics* metrics_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace clerkship::notification

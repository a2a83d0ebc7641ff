#pragma once

// Everything one notification process runs, wired together: the Redis store, the
// composer, the event consumers (one consumer-group member per stream), the delivery
// workers, the reminder scheduler, the live-stream hub and the gRPC service. main.cc and
// the in-process tests build it the same way.

#include <memory>
#include <string>
#include <vector>

#include "common/events/events.h"
#include "common/redis/redis_client.h"
#include "common/util/clock.h"
#include "services/notification/channel_senders.h"
#include "services/notification/delivery_worker.h"
#include "services/notification/event_processor.h"
#include "services/notification/live_stream_hub.h"
#include "services/notification/notification_metrics.h"
#include "services/notification/notification_service.h"
#include "services/notification/recipient_directory.h"
#include "services/notification/redis_notification_store.h"
#include "services/notification/reminder_scheduler.h"

namespace prometheus {
class Registry;
}

namespace clerkship::notification {

struct NotificationOptions {
  redis::ClientOptions redis;

  // Event consumers.
  std::vector<std::string> streams = {"app:events", "cat:events", "mat:events"};
  std::string consumer_group = "notification";
  std::string consumer_name;  // unique per process
  std::string consumer_start_id = "0";
  int consumer_batch_size = 64;
  absl::Duration claim_idle = absl::Seconds(30);
  absl::Duration claim_interval = absl::Seconds(5);
  int max_deliveries = 5;
  std::string dead_letter_stream = "ntf:deadletter";

  StoreOptions store;
  ComposerOptions composer;
  DeliveryOptions delivery;
  ReminderOptions reminders;
  HubOptions hub;
  ServiceOptions service;

  // Channels. Empty smtp.url: no e-mail.
  SmtpOptions smtp;
  WebhookOptions webhook;

  // Other backends ("" = not configured).
  std::string applicant_addr;
  std::string matching_addr;
  absl::Duration backend_timeout = absl::Seconds(2);
  absl::Duration profile_cache_ttl = absl::Minutes(5);

  // Which parts run (tests switch some off to drive them by hand).
  bool run_consumers = true;
  bool run_delivery = true;
  bool run_reminders = true;
};

class NotificationRuntime {
 public:
  // directory / rounds / email / webhook: null = built from the options.
  NotificationRuntime(NotificationOptions options, Clock* clock,
                      prometheus::Registry* registry = nullptr,
                      std::unique_ptr<RecipientDirectory> directory = nullptr,
                      std::unique_ptr<RoundResultsSource> rounds = nullptr);
  ~NotificationRuntime();

  // Starts the background work (consumers, workers, reminders, hub).
  void Start();
  // Ends live streams with UNAVAILABLE and refuses new ones; first step of a shutdown.
  void BeginShutdown();
  // Stops the background work; the gRPC server must be shut down before destruction.
  void Stop();

  NotificationServiceImpl* service() { return service_.get(); }
  redis::Client* redis() { return redis_.get(); }
  NotificationStore* store() { return store_.get(); }
  NotificationComposer* composer() { return composer_.get(); }
  DeliveryWorker* delivery_worker() { return delivery_.get(); }
  ReminderScheduler* reminder_scheduler() { return reminders_.get(); }
  LiveStreamHub* hub() { return hub_.get(); }
  // The consumer of one stream (for tests that poll by hand), or null.
  events::StreamConsumer* consumer(const std::string& stream);

 private:
  NotificationOptions options_;
  Clock* clock_;
  std::unique_ptr<NotificationMetrics> metrics_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RecipientDirectory> directory_;
  std::unique_ptr<RoundResultsSource> rounds_;
  std::unique_ptr<EmailSender> email_;
  std::unique_ptr<WebhookSender> webhook_;
  std::unique_ptr<RedisNotificationStore> store_;
  std::unique_ptr<NotificationComposer> composer_;
  std::unique_ptr<LiveStreamHub> hub_;
  std::unique_ptr<DeliveryWorker> delivery_;
  std::unique_ptr<ReminderScheduler> reminders_;
  std::unique_ptr<NotificationServiceImpl> service_;
  std::vector<std::pair<std::string, std::unique_ptr<events::StreamConsumer>>> consumers_;
  bool started_ = false;
};

}  // namespace clerkship::notification

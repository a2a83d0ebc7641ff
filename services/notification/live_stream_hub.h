#pragma once

// Fan-out of new notifications to the StreamNotifications calls connected to this process.
//
// Whichever replica writes a notification also appends notification.created to the
// stream ntf:events in the same script. Every replica's hub follows that stream with
// XREAD BLOCK on a connection of its own, fetches the notifications that someone here is
// waiting for (one MGET per batch) and hands them to the subscribers. Handing over never
// blocks: each subscriber has its own bounded queue, so a slow or vanished client costs
// the others nothing.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "clerkship/notification/v1/notification.pb.h"
#include "common/redis/redis_client.h"
#include "services/notification/notification_metrics.h"
#include "services/notification/notification_store.h"

namespace clerkship::notification {

class StreamSubscriber {
 public:
  virtual ~StreamSubscriber() = default;
  virtual const std::string& recipient_id() const = 0;
  // Must not block.
  virtual void Push(std::shared_ptr<const v1::Notification> notification) = 0;
  // Ends the stream with `status` (once).
  virtual void Close(const grpc::Status& status) = 0;
  // Called about twice a second: lets a stream that is stuck finishing give up.
  virtual void Tick(absl::Time now) = 0;
};

struct HubOptions {
  std::string stream = "ntf:events";
  int max_streams = 10000;
  int max_streams_per_recipient = 10;
};

class LiveStreamHub {
 public:
  LiveStreamHub(redis::ClientOptions redis_options, NotificationStore* store, HubOptions options,
                NotificationMetrics* metrics);
  ~LiveStreamHub();

  void Start();
  void Stop();

  // RESOURCE_EXHAUSTED over the limits; UNAVAILABLE once closing.
  absl::Status Subscribe(StreamSubscriber* subscriber);
  // Called from the subscriber's OnDone; waits out a fan-out in progress.
  void Unsubscribe(StreamSubscriber* subscriber);
  // Ends every stream with UNAVAILABLE and refuses new ones (shutdown).
  void CloseAll();
  int active_streams() const;

 private:
  void Run();
  void Dispatch(const redis::Reply& entries);

  std::unique_ptr<redis::Client> reader_;
  NotificationStore* store_;
  HubOptions options_;
  NotificationMetrics* metrics_;
  std::string last_id_;  // hub thread only

  mutable absl::Mutex mu_;
  std::multimap<std::string, StreamSubscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace clerkship::notification

#pragma once

// gRPC adapter of the notification service: checks who is calling, validates, and hands
// the work to the store, the composer or the live-stream hub. Handlers never block: they
// return a reactor that a store callback finishes.

#include <string>

#include "clerkship/notification/v1/notification.grpc.pb.h"
#include "common/util/clock.h"
#include "services/notification/event_processor.h"
#include "services/notification/live_stream_hub.h"
#include "services/notification/notification_store.h"
#include "services/notification/recipient_directory.h"
#include "services/notification/settings_rules.h"

namespace clerkship::notification {

struct ServiceOptions {
  SettingsPolicy settings_policy;
  size_t stream_queue_limit = 256;  // notifications waiting for a slow client
  absl::Duration stream_finish_grace = absl::Seconds(5);
};

class NotificationServiceImpl final : public v1::NotificationService::CallbackService {
 public:
  NotificationServiceImpl(NotificationStore* store, NotificationComposer* composer,
                          LiveStreamHub* hub, RecipientDirectory* directory, Clock* clock,
                          ServiceOptions options);

  grpc::ServerUnaryReactor* ListNotifications(grpc::CallbackServerContext* context,
                                              const v1::ListNotificationsRequest* request,
                                              v1::ListNotificationsResponse* response) override;
  grpc::ServerUnaryReactor* MarkRead(grpc::CallbackServerContext* context,
                                     const v1::MarkReadRequest* request,
                                     v1::Notification* response) override;
  grpc::ServerWriteReactor<v1::Notification>* StreamNotifications(
      grpc::CallbackServerContext* context,
      const v1::StreamNotificationsRequest* request) override;
  grpc::ServerUnaryReactor* GetNotificationSettings(
      grpc::CallbackServerContext* context, const v1::GetNotificationSettingsRequest* request,
      v1::NotificationSettings* response) override;
  grpc::ServerUnaryReactor* UpdateNotificationSettings(
      grpc::CallbackServerContext* context, const v1::UpdateNotificationSettingsRequest* request,
      v1::NotificationSettings* response) override;
  grpc::ServerUnaryReactor* SendNotification(grpc::CallbackServerContext* context,
                                             const v1::SendNotificationRequest* request,
                                             v1::Notification* response) override;
  grpc::ServerUnaryReactor* ListDeliveries(grpc::CallbackServerContext* context,
                                           const v1::ListDeliveriesRequest* request,
                                           v1::ListDeliveriesResponse* response) override;
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const v1::ListDeadLettersRequest* request,
                                            v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* ReplayDeadLetter(grpc::CallbackServerContext* context,
                                             const v1::ReplayDeadLetterRequest* request,
                                             v1::ReplayDeadLetterResponse* response) override;

 private:
  class SettingsUpdate;

  NotificationStore* store_;
  NotificationComposer* composer_;
  LiveStreamHub* hub_;
  RecipientDirectory* directory_;
  Clock* clock_;
  ServiceOptions options_;
};

// "applicants/{a}/notifications/{n}" → {a, n}; empty strings when malformed.
std::pair<std::string, std::string> ParseNotificationName(const std::string& name);

}  // namespace clerkship::notification

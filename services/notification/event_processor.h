#pragma once

// Turns events, due reminders and SendNotification calls into notifications: finds the
// recipient's settings and profile, renders the template, plans the deliveries and
// reminders, and hands everything to the store as one atomic write keyed for
// deduplication (Event.id, reminder + due time, or request id).
//
// HandleEntry and FireReminder block (store and directory calls) and run on the event
// consumer and reminder threads; Send is asynchronous, for the gRPC handler.

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "clerkship/events/v1/events.pb.h"
#include "clerkship/notification/v1/notification.pb.h"
#include "common/events/events.h"
#include "common/util/clock.h"
#include "services/notification/notification_metrics.h"
#include "services/notification/notification_store.h"
#include "services/notification/recipient_directory.h"
#include "services/notification/templates.h"

namespace clerkship::notification {

struct ComposerOptions {
  absl::Duration dedupe_ttl = absl::Hours(24 * 7);
  bool email_channel = true;  // an SMTP server is configured
  absl::Duration offer_reminder_lead = absl::Hours(24);
  absl::Duration session_reminder_lead = absl::Hours(24 * 7);
  absl::Duration document_reminder_lead = absl::Hours(24 * 30);
};

class NotificationComposer {
 public:
  NotificationComposer(NotificationStore* store, RecipientDirectory* directory,
                       RoundResultsSource* rounds, Clock* clock, ComposerOptions options,
                       NotificationMetrics* metrics);

  // The consumer-group handler: OK means "acknowledge" (done, duplicate, or not for us);
  // an error leaves the entry pending for a retry (and eventually the dead-letter stream).
  absl::Status HandleEntry(const events::StreamEntry& entry);
  absl::Status HandleEvent(const clerkship::events::v1::Event& event);

  // Fires one claimed reminder (or drops it when it no longer applies).
  absl::Status FireReminder(const ClaimedReminder& reminder);

  // SendNotification: validated request, recipient id. Asynchronous.
  void Send(const v1::SendNotificationRequest& request, const std::string& recipient_id,
            Done<v1::Notification> done);

 private:
  struct Recipient {
    std::string id;
    RecipientInfo info;
    v1::NotificationSettings settings;
    bool has_email_address = false;  // settings or profile give one (or it may, later)
  };

  absl::StatusOr<Recipient> ResolveRecipient(const std::string& applicant_id,
                                             const std::string& fallback_time_zone);
  // A notification with deliveries planned for the recipient's channels.
  NotificationWrite Compose(const Recipient& recipient, const RenderedMessage& message,
                            const std::string& source_event);
  absl::Status Commit(NotificationWrite write, const char* origin);

  absl::Status HandleApplication(const clerkship::events::v1::Event& event);
  absl::Status HandleDocument(const clerkship::events::v1::Event& event);
  absl::Status HandleRound(const clerkship::events::v1::Event& event);

  NotificationStore* store_;
  RecipientDirectory* directory_;
  RoundResultsSource* rounds_;
  Clock* clock_;
  ComposerOptions options_;
  NotificationMetrics* metrics_;
};

// Deliveries planned for a new notification, given the recipient's settings.
std::vector<v1::Delivery> PlanDeliveries(const v1::Notification& notification,
                                         const v1::NotificationSettings& settings,
                                         bool email_channel, bool email_address_known,
                                         absl::Time now);

}  // namespace clerkship::notification

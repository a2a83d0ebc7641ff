#pragma once

// Persistence of the notification service, behind an interface so the domain logic does
// not depend on Redis. Every method is asynchronous: `done` runs once, on the store's
// thread (the Redis event loop), and must not block. Worker threads that want to wait use
// Await() below.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "clerkship/notification/v1/notification.pb.h"

namespace clerkship::notification {

template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

// Runs an asynchronous store call and waits for it. Only for the service's own worker
// threads (event consumers, delivery workers, reminder scheduler, stream hub), never for
// gRPC or Redis callback threads.
template <typename T>
absl::StatusOr<T> Await(const std::function<void(Done<T>)>& start) {
  absl::Notification finished;
  absl::StatusOr<T> result = absl::UnknownError("not finished");
  start([&](absl::StatusOr<T> r) {
    result = std::move(r);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

// A reminder to fire at `due`: the event it was scheduled from renders it.
struct ReminderSchedule {
  std::string member;        // identity: "offer:{application}", "session:{application}",
                             // "document:{applicant}:{document}"
  absl::Time due;
  std::string kind;          // "offer_expiring", "session_starting", "document_expiring"
  std::string recipient_id;  // applicant id
  std::string event;         // serialized clerkship.events.v1.Event
  int64_t version = 0;       // time of the event (ms) that decided this
};

// Removes a reminder, unless a newer event already decided about it.
struct ReminderCancel {
  std::string member;
  int64_t version = 0;
};

// Everything one processed event (or reminder, or SendNotification call) changes, written
// in one atomic step together with its deduplication marker.
struct NotificationWrite {
  enum class Dedupe {
    kNone,
    kSeen,       // SET dedupe_key NX: a second write with the key does nothing
    kRequestId,  // dedupe_key remembers the notification: a second write returns it
  };
  Dedupe dedupe = Dedupe::kNone;
  std::string dedupe_key;
  absl::Duration dedupe_ttl = absl::Hours(24 * 7);
  std::string recipient_id;
  std::optional<v1::Notification> notification;  // none: only reminders change
  std::vector<v1::Delivery> deliveries;          // queued due `now`
  std::vector<ReminderSchedule> schedule;
  // Reminder changes carry the time of the event behind them: with several replicas two
  // events of one application can be processed in either order, and the older one must
  // not undo what the newer one decided.
  std::vector<ReminderCancel> cancel;
  // Set when the write fires a claimed reminder: it only happens while the claim holds.
  std::string claimed_reminder;
  int64_t claim_token = 0;
  std::string created_event;  // serialized notification.created Event for ntf:events
  absl::Time now;
};

struct WriteResult {
  enum class Outcome { kWritten, kDuplicate, kClaimLost };
  Outcome outcome = Outcome::kWritten;
  // The notification written, or for a kRequestId duplicate the one written first (if it
  // is still in the inbox).
  std::optional<v1::Notification> notification;
};

struct NotificationPage {
  std::vector<v1::Notification> notifications;
  int unread_count = 0;
};

struct StoredSettings {
  bool exists = false;
  v1::NotificationSettings settings;  // secret included; meaningless unless exists
  std::string etag;
};

struct ClaimedDelivery {
  std::string member;  // "{applicant}:{notification}:{channel}"
  int64_t token = 0;   // the lease; saving checks it still holds
  v1::Delivery delivery;
  std::optional<v1::Notification> notification;
  std::optional<v1::NotificationSettings> settings;
};

struct ClaimedReminder {
  std::string member;
  int64_t token = 0;
  int64_t due_ms = 0;  // the scheduled time, for the fire-once key
  std::string kind;
  std::string recipient_id;
  std::string event;
};

struct ReplayResult {
  std::string stream;
  std::string entry_id;
};

class NotificationStore {
 public:
  virtual ~NotificationStore() = default;

  virtual void Write(NotificationWrite write, Done<WriteResult> done) = 0;
  // Newest first, strictly older than `before_id` when set.
  virtual void ListNotifications(const std::string& recipient_id, bool unread_only,
                                 const std::string& before_id, int limit, absl::Time now,
                                 Done<NotificationPage> done) = 0;
  // The given (recipient id, notification id) pairs that exist, unread state not filled.
  virtual void GetNotifications(std::vector<std::pair<std::string, std::string>> ids,
                                Done<std::vector<v1::Notification>> done) = 0;
  // NOT_FOUND when there is no such notification.
  virtual void MarkRead(const std::string& recipient_id, const std::string& notification_id,
                        absl::Time now, Done<v1::Notification> done) = 0;

  virtual void GetSettings(const std::string& recipient_id, Done<StoredSettings> done) = 0;
  // ABORTED (reason ETAG_MISMATCH) when the stored etag is not `expected_etag` ("" = none
  // stored yet).
  virtual void PutSettings(const std::string& recipient_id, const std::string& expected_etag,
                           const v1::NotificationSettings& settings, Done<bool> done) = 0;

  // Newest first; `notification_id` empty = every delivery of the recipient.
  virtual void ListDeliveries(const std::string& recipient_id,
                              const std::string& notification_id, const std::string& after,
                              int limit, Done<std::vector<std::pair<std::string, v1::Delivery>>> done) = 0;
  // Due deliveries, leased until now + lease (a crashed worker's lease runs out and
  // another worker takes the delivery).
  virtual void ClaimDueDeliveries(absl::Time now, absl::Duration lease, int limit,
                                  Done<std::vector<ClaimedDelivery>> done) = 0;
  // Stores the outcome; next_due set = queue again. false when the lease was lost.
  virtual void SaveDelivery(const ClaimedDelivery& claim, const v1::Delivery& updated,
                            std::optional<absl::Time> next_due, Done<bool> done) = 0;

  virtual void ClaimDueReminders(absl::Time now, absl::Duration lease, int limit,
                                 Done<std::vector<ClaimedReminder>> done) = 0;

  // Oldest first, strictly after `after_id` when set.
  virtual void ListDeadLetters(const std::string& after_id, int limit,
                               Done<std::vector<v1::DeadLetter>> done) = 0;
  virtual void ReplayDeadLetter(const std::string& entry_id, Done<ReplayResult> done) = 0;
};

}  // namespace clerkship::notification

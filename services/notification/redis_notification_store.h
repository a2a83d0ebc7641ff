#pragma once

// The notification service's data in Redis. Keys (all under "ntf:"; {a} = applicant id,
// {n} = notification id, {c} = "email" or "webhook"):
//
//   ntf:n:{a}:{n}              serialized Notification (immutable once written)
//   ntf:inbox:{a}              sorted set of notification ids, all score 0: ids start with
//                              the zero-padded creation time in ms, so lexical order is
//                              time order (newest = last); bounded by count and age
//   ntf:unread:{a}             the unread subset of the inbox, same shape
//   ntf:readtime:{a}           hash id → first read time (ms)
//   ntf:seen:{event id}        deduplication marker of a processed event (EX 7 days)
//   ntf:seen:{event id}:{a}    the same for events with many recipients (round.published)
//   ntf:seen:reminder:{m}:{due} a fired reminder
//   ntf:idem:send:{a}:{req}    SendNotification request id → notification id (EX 7 days)
//   ntf:settings:{a}           hash: record (serialized NotificationSettings with the
//                              webhook secret) and etag
//   ntf:delivery:{a}:{n}:{c}   serialized Delivery (state and every attempt)
//   ntf:deliveries:{a}         sorted set "{n}:{c}", score 0 (lexical = time order)
//   ntf:delivery_due           sorted set "{a}:{n}:{c}" by due time (ms): the delivery
//                              queue; a claimed entry's score is its lease expiry
//   ntf:reminders              sorted set of reminder members by due time (ms); a
//                              claimed reminder's score is its lease expiry
//   ntf:reminder:{m}           hash: due, kind, recipient, event
//   ntf:reminder_version:{m}   time (ms) of the newest event that scheduled or cancelled
//                              reminder {m} (EX 90 days): older events change nothing
//   ntf:events                 stream of notification.created events (live-stream fan-out
//                              between replicas), trimmed to about 100,000 entries
//   ntf:deadletter             dead-letter stream of the event consumers
//
// Every read-modify-write is one Lua script: an event's inbox entry, deliveries,
// reminders, live-stream event and deduplication marker are written together or not at
// all, so a worker killed at any point leaves either nothing or everything.

#include "common/redis/redis_client.h"
#include "services/notification/notification_store.h"

namespace clerkship::notification {

struct StoreOptions {
  int inbox_retention = 500;                     // notifications kept per recipient
  absl::Duration inbox_max_age = absl::Hours(24 * 180);
  int64_t events_stream_max_length = 100000;     // ntf:events
  std::string dead_letter_stream = "ntf:deadletter";
};

class RedisNotificationStore final : public NotificationStore {
 public:
  RedisNotificationStore(redis::Client* redis, StoreOptions options)
      : redis_(redis), options_(std::move(options)) {}

  void Write(NotificationWrite write, Done<WriteResult> done) override;
  void ListNotifications(const std::string& recipient_id, bool unread_only,
                         const std::string& before_id, int limit, absl::Time now,
                         Done<NotificationPage> done) override;
  void GetNotifications(std::vector<std::pair<std::string, std::string>> ids,
                        Done<std::vector<v1::Notification>> done) override;
  void MarkRead(const std::string& recipient_id, const std::string& notification_id,
                absl::Time now, Done<v1::Notification> done) override;
  void GetSettings(const std::string& recipient_id, Done<StoredSettings> done) override;
  void PutSettings(const std::string& recipient_id, const std::string& expected_etag,
                   const v1::NotificationSettings& settings, Done<bool> done) override;
  void ListDeliveries(const std::string& recipient_id, const std::string& notification_id,
                      const std::string& after, int limit,
                      Done<std::vector<std::pair<std::string, v1::Delivery>>> done) override;
  void ClaimDueDeliveries(absl::Time now, absl::Duration lease, int limit,
                          Done<std::vector<ClaimedDelivery>> done) override;
  void SaveDelivery(const ClaimedDelivery& claim, const v1::Delivery& updated,
                    std::optional<absl::Time> next_due, Done<bool> done) override;
  void ClaimDueReminders(absl::Time now, absl::Duration lease, int limit,
                         Done<std::vector<ClaimedReminder>> done) override;
  void ListDeadLetters(const std::string& after_id, int limit,
                       Done<std::vector<v1::DeadLetter>> done) override;
  void ReplayDeadLetter(const std::string& entry_id, Done<ReplayResult> done) override;

  // The id prefix of notifications created at `t` (and the inbox age cutoff).
  static std::string TimePrefix(absl::Time t);

 private:
  std::string AgeCutoff(absl::Time now) const;

  redis::Client* redis_;
  StoreOptions options_;
};

// A new notification id: creation time in ms (13 digits), "-", 8 characters that keep ids
// created in the same millisecond unique and, within one process, in creation order.
std::string NewNotificationId(absl::Time now);

}  // namespace clerkship::notification

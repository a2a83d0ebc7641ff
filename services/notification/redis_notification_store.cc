#include "services/notification/redis_notification_store.h"

#include <atomic>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/status/status.h"
#include "common/util/ids.h"

namespace clerkship::notification {
namespace {

constexpr char kDomain[] = "clerkship.notification";
constexpr char kDueKey[] = "ntf:delivery_due";
constexpr char kRemindersKey[] = "ntf:reminders";
constexpr char kEventsStream[] = "ntf:events";

// Deleting a notification and everything hanging off it, and the inbox bounds. Prepended
// to the scripts that add to or read an inbox.
constexpr char kLuaInbox[] = R"lua(
local function drop_notification(rid, id)
  redis.call('DEL', 'ntf:n:' .. rid .. ':' .. id)
  redis.call('ZREM', 'ntf:inbox:' .. rid, id)
  redis.call('ZREM', 'ntf:unread:' .. rid, id)
  redis.call('HDEL', 'ntf:readtime:' .. rid, id)
  for _, ch in ipairs({'email', 'webhook'}) do
    redis.call('DEL', 'ntf:delivery:' .. rid .. ':' .. id .. ':' .. ch)
    redis.call('ZREM', 'ntf:deliveries:' .. rid, id .. ':' .. ch)
    redis.call('ZREM', 'ntf:delivery_due', rid .. ':' .. id .. ':' .. ch)
  end
end
local function trim_inbox(rid, retention, cutoff)
  local inbox = 'ntf:inbox:' .. rid
  local n = redis.call('ZCARD', inbox)
  if n > retention then
    for _, id in ipairs(redis.call('ZRANGE', inbox, 0, n - retention - 1)) do
      drop_notification(rid, id)
    end
  end
  for _, id in ipairs(redis.call('ZRANGEBYLEX', inbox, '-', '(' .. cutoff, 'LIMIT', 0, 500)) do
    drop_notification(rid, id)
  end
end
)lua";

absl::Status ReplyStatus(const absl::StatusOr<redis::Reply>& reply) {
  return redis::ScriptStatus(reply, kDomain);
}

template <typename T>
absl::StatusOr<T> ParseProto(const std::string& bytes) {
  T message;
  if (!message.ParseFromString(bytes)) {
    return ErrorWithInfo(absl::StatusCode::kDataLoss, "a stored record is unreadable",
                         "CORRUPT_RECORD", kDomain);
  }
  return message;
}

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

// Read state lives beside the immutable record.
void ApplyReadTime(const std::string& read_time_ms, v1::Notification* n) {
  int64_t ms;
  if (!read_time_ms.empty() && absl::SimpleAtoi(read_time_ms, &ms)) {
    n->set_read(true);
    *n->mutable_read_time() = ToProtoTime(absl::FromUnixMillis(ms));
  }
}

std::string NotificationKey(const std::string& rid, const std::string& nid) {
  return absl::StrCat("ntf:n:", rid, ":", nid);
}

}  // namespace

std::string NewNotificationId(absl::Time now) {
  static std::atomic<uint32_t> counter{0};
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  static thread_local std::mt19937 rng(std::random_device{}());
  uint32_t seq = counter.fetch_add(1) % (36 * 36 * 36 * 36);
  std::string suffix(8, '0');
  for (int i = 3; i >= 0; --i) {
    suffix[i] = kAlphabet[seq % 36];
    seq /= 36;
  }
  for (int i = 4; i < 8; ++i) suffix[i] = kAlphabet[rng() % 36];
  return absl::StrCat(RedisNotificationStore::TimePrefix(now), "-", suffix);
}

std::string RedisNotificationStore::TimePrefix(absl::Time t) {
  return absl::StrFormat("%013d", std::max<int64_t>(0, Millis(t)));
}

std::string RedisNotificationStore::AgeCutoff(absl::Time now) const {
  return TimePrefix(now - options_.inbox_max_age);
}

void RedisNotificationStore::Write(NotificationWrite write, Done<WriteResult> done) {
  static const redis::Script kWrite(std::string(kLuaInbox) + R"lua(
-- A reminder change applies only if no newer event (by event time) has decided about the
-- same reminder; the version is remembered for 90 days.
local function newest(member, version)
  local key = 'ntf:reminder_version:' .. member
  local current = redis.call('GET', key)
  if current and tonumber(version) < tonumber(current) then return false end
  redis.call('SET', key, version, 'EX', 7776000)
  return true
end
local rid = ARGV[3]
if ARGV[10] ~= '' then
  local score = redis.call('ZSCORE', KEYS[3], ARGV[10])
  if (not score) or tonumber(score) ~= tonumber(ARGV[11]) then return {'LOST'} end
end
if ARGV[1] == 'seen' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return {'DUP'} end
elseif ARGV[1] == 'request' then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then
    local rec = redis.call('GET', 'ntf:n:' .. rid .. ':' .. earlier)
    if rec then
      return {'DUP', rec, redis.call('HGET', 'ntf:readtime:' .. rid, earlier) or ''}
    end
    return {'DUP'}
  end
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[2])
end
if ARGV[10] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[10])
  redis.call('DEL', 'ntf:reminder:' .. ARGV[10])
end
local id = ARGV[4]
if id ~= '' then
  redis.call('SET', 'ntf:n:' .. rid .. ':' .. id, ARGV[5])
  redis.call('ZADD', 'ntf:inbox:' .. rid, 0, id)
  redis.call('ZADD', 'ntf:unread:' .. rid, 0, id)
end
local i = 12
local count = tonumber(ARGV[i]); i = i + 1
for _ = 1, count do
  if id ~= '' then
    local ch = ARGV[i]
    redis.call('SET', 'ntf:delivery:' .. rid .. ':' .. id .. ':' .. ch, ARGV[i + 1])
    redis.call('ZADD', 'ntf:deliveries:' .. rid, 0, id .. ':' .. ch)
    redis.call('ZADD', 'ntf:delivery_due', ARGV[i + 2], rid .. ':' .. id .. ':' .. ch)
  end
  i = i + 3
end
count = tonumber(ARGV[i]); i = i + 1
for _ = 1, count do
  if newest(ARGV[i], ARGV[i + 5]) then
    local key = 'ntf:reminder:' .. ARGV[i]
    redis.call('ZADD', KEYS[3], ARGV[i + 1], ARGV[i])
    redis.call('DEL', key)
    redis.call('HSET', key, 'due', ARGV[i + 1], 'kind', ARGV[i + 2], 'recipient', ARGV[i + 3],
               'event', ARGV[i + 4])
  end
  i = i + 6
end
count = tonumber(ARGV[i]); i = i + 1
for _ = 1, count do
  if newest(ARGV[i], ARGV[i + 1]) then
    redis.call('ZREM', KEYS[3], ARGV[i])
    redis.call('DEL', 'ntf:reminder:' .. ARGV[i])
  end
  i = i + 2
end
if id ~= '' then
  trim_inbox(rid, tonumber(ARGV[6]), ARGV[7])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', 'type', 'notification.created',
             'event', ARGV[8])
end
return {'OK'}
)lua");
  const char* mode = "none";
  if (write.dedupe == NotificationWrite::Dedupe::kSeen) mode = "seen";
  if (write.dedupe == NotificationWrite::Dedupe::kRequestId) mode = "request";
  std::string notification_id;
  std::string record;
  if (write.notification) {
    notification_id = write.notification->name().substr(write.notification->name().rfind('/') + 1);
    record = write.notification->SerializeAsString();
  }
  std::vector<std::string> args = {
      mode,
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(write.dedupe_ttl))),
      write.recipient_id,
      notification_id,
      record,
      absl::StrCat(options_.inbox_retention),
      AgeCutoff(write.now),
      write.created_event,
      absl::StrCat(options_.events_stream_max_length),
      write.claimed_reminder,
      absl::StrCat(write.claim_token),
      absl::StrCat(write.deliveries.size())};
  for (const v1::Delivery& d : write.deliveries) {
    args.push_back(d.channel() == v1::Delivery::EMAIL ? "email" : "webhook");
    args.push_back(d.SerializeAsString());
    args.push_back(absl::StrCat(Millis(write.now)));
  }
  args.push_back(absl::StrCat(write.schedule.size()));
  for (const ReminderSchedule& r : write.schedule) {
    args.insert(args.end(), {r.member, absl::StrCat(Millis(r.due)), r.kind, r.recipient_id,
                             r.event, absl::StrCat(r.version)});
  }
  args.push_back(absl::StrCat(write.cancel.size()));
  for (const ReminderCancel& c : write.cancel) {
    args.push_back(c.member);
    args.push_back(absl::StrCat(c.version));
  }

  std::string dedupe_key = write.dedupe_key.empty() ? "ntf:seen:-" : write.dedupe_key;
  redis_->Eval(kWrite, {dedupe_key, kEventsStream, kRemindersKey}, std::move(args),
               [notification = std::move(write.notification),
                done = std::move(done)](absl::StatusOr<redis::Reply> reply) mutable {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (!reply->is_array() || reply->elements.empty()) {
                   return done(absl::InternalError("unexpected reply from the write script"));
                 }
                 WriteResult result;
                 const std::string& outcome = reply->elements[0].str;
                 if (outcome == "OK") {
                   result.outcome = WriteResult::Outcome::kWritten;
                   result.notification = std::move(notification);
                 } else if (outcome == "LOST") {
                   result.outcome = WriteResult::Outcome::kClaimLost;
                 } else {
                   result.outcome = WriteResult::Outcome::kDuplicate;
                   if (reply->elements.size() >= 3) {
                     auto earlier = ParseProto<v1::Notification>(reply->elements[1].str);
                     if (!earlier.ok()) return done(earlier.status());
                     ApplyReadTime(reply->elements[2].str, &*earlier);
                     result.notification = std::move(*earlier);
                   }
                 }
                 done(std::move(result));
               });
}

void RedisNotificationStore::ListNotifications(const std::string& recipient_id, bool unread_only,
                                               const std::string& before_id, int limit,
                                               absl::Time now, Done<NotificationPage> done) {
  static const redis::Script kList(std::string(kLuaInbox) + R"lua(
local rid = ARGV[1]
trim_inbox(rid, tonumber(ARGV[4]), ARGV[5])
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], '-', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {redis.call('ZCARD', 'ntf:unread:' .. rid)}
if #ids == 0 then return out end
-- The page's records and read times in two commands rather than two per notification.
local keys = {}
for i, id in ipairs(ids) do keys[i] = 'ntf:n:' .. rid .. ':' .. id end
local recs = redis.call('MGET', unpack(keys))
local read = redis.call('HMGET', 'ntf:readtime:' .. rid, unpack(ids))
for i = 1, #ids do
  if recs[i] then
    out[#out + 1] = recs[i]
    out[#out + 1] = read[i] or ''
  end
end
return out
)lua");
  std::string key = absl::StrCat(unread_only ? "ntf:unread:" : "ntf:inbox:", recipient_id);
  redis_->Eval(kList, {key},
               {recipient_id, before_id.empty() ? "+" : "(" + before_id, absl::StrCat(limit),
                absl::StrCat(options_.inbox_retention), AgeCutoff(now)},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 NotificationPage page;
                 if (!reply->is_array() || reply->elements.empty()) {
                   return done(absl::InternalError("unexpected reply from the list script"));
                 }
                 page.unread_count = static_cast<int>(reply->elements[0].integer);
                 for (size_t i = 1; i + 1 < reply->elements.size(); i += 2) {
                   auto n = ParseProto<v1::Notification>(reply->elements[i].str);
                   if (!n.ok()) return done(n.status());
                   ApplyReadTime(reply->elements[i + 1].str, &*n);
                   page.notifications.push_back(std::move(*n));
                 }
                 done(std::move(page));
               });
}

void RedisNotificationStore::GetNotifications(std::vector<std::pair<std::string, std::string>> ids,
                                              Done<std::vector<v1::Notification>> done) {
  if (ids.empty()) return done(std::vector<v1::Notification>{});
  std::vector<std::string> cmd = {"MGET"};
  for (const auto& [rid, nid] : ids) cmd.push_back(NotificationKey(rid, nid));
  redis_->Command(std::move(cmd), [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
    absl::Status s = ReplyStatus(reply);
    if (!s.ok()) return done(s);
    std::vector<v1::Notification> out;
    for (const redis::Reply& r : reply->elements) {
      if (r.is_nil()) continue;
      auto n = ParseProto<v1::Notification>(r.str);
      if (n.ok()) out.push_back(std::move(*n));
    }
    done(std::move(out));
  });
}

void RedisNotificationStore::MarkRead(const std::string& recipient_id,
                                      const std::string& notification_id, absl::Time now,
                                      Done<v1::Notification> done) {
  static const redis::Script kMarkRead(R"lua(
local rec = redis.call('GET', KEYS[1])
if not rec then
  return redis.error_reply('NOT_FOUND NOTIFICATION_NOT_FOUND no such notification')
end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2]) end
return {rec, redis.call('HGET', KEYS[3], ARGV[1]) or ARGV[2]}
)lua");
  redis_->Eval(kMarkRead,
               {NotificationKey(recipient_id, notification_id),
                absl::StrCat("ntf:unread:", recipient_id),
                absl::StrCat("ntf:readtime:", recipient_id)},
               {notification_id, absl::StrCat(Millis(now))},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (!reply->is_array() || reply->elements.size() != 2) {
                   return done(absl::InternalError("unexpected reply from the mark-read script"));
                 }
                 auto n = ParseProto<v1::Notification>(reply->elements[0].str);
                 if (!n.ok()) return done(n.status());
                 ApplyReadTime(reply->elements[1].str, &*n);
                 done(std::move(*n));
               });
}

void RedisNotificationStore::GetSettings(const std::string& recipient_id,
                                         Done<StoredSettings> done) {
  redis_->Command({"HMGET", absl::StrCat("ntf:settings:", recipient_id), "record", "etag"},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    StoredSettings out;
                    if (!reply->is_array() || reply->elements.size() != 2 ||
                        reply->elements[0].is_nil()) {
                      return done(out);
                    }
                    auto settings = ParseProto<v1::NotificationSettings>(reply->elements[0].str);
                    if (!settings.ok()) return done(settings.status());
                    out.exists = true;
                    out.settings = std::move(*settings);
                    out.etag = reply->elements[1].str;
                    done(std::move(out));
                  });
}

void RedisNotificationStore::PutSettings(const std::string& recipient_id,
                                         const std::string& expected_etag,
                                         const v1::NotificationSettings& settings,
                                         Done<bool> done) {
  static const redis::Script kPut(R"lua(
local current = redis.call('HGET', KEYS[1], 'etag') or ''
if current ~= ARGV[1] then
  return redis.error_reply('ABORTED ETAG_MISMATCH the settings were changed since they were read')
end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'etag', ARGV[3])
return 1
)lua");
  redis_->Eval(kPut, {absl::StrCat("ntf:settings:", recipient_id)},
               {expected_etag, settings.SerializeAsString(), settings.etag()},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(true);
               });
}

void RedisNotificationStore::ListDeliveries(
    const std::string& recipient_id, const std::string& notification_id,
    const std::string& after, int limit,
    Done<std::vector<std::pair<std::string, v1::Delivery>>> done) {
  static const redis::Script kList(R"lua(
local rid = ARGV[1]
local members = redis.call('ZREVRANGEBYLEX', 'ntf:deliveries:' .. rid, ARGV[2], ARGV[3],
                           'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, m in ipairs(members) do
  local rec = redis.call('GET', 'ntf:delivery:' .. rid .. ':' .. m)
  if rec then
    out[#out + 1] = m
    out[#out + 1] = rec
  end
end
return out
)lua");
  std::string max = !after.empty()                  ? "(" + after
                    : notification_id.empty() ? std::string("+")
                                              : "[" + notification_id + ":\xff";
  std::string min = notification_id.empty() ? std::string("-") : "[" + notification_id + ":";
  redis_->Eval(kList, {absl::StrCat("ntf:deliveries:", recipient_id)},
               {recipient_id, max, min, absl::StrCat(limit)},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 std::vector<std::pair<std::string, v1::Delivery>> out;
                 for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
                   auto d = ParseProto<v1::Delivery>(reply->elements[i + 1].str);
                   if (!d.ok()) return done(d.status());
                   out.emplace_back(reply->elements[i].str, std::move(*d));
                 }
                 done(std::move(out));
               });
}

void RedisNotificationStore::ClaimDueDeliveries(absl::Time now, absl::Duration lease, int limit,
                                                Done<std::vector<ClaimedDelivery>> done) {
  static const redis::Script kClaim(R"lua(
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, m in ipairs(members) do
  local rec = redis.call('GET', 'ntf:delivery:' .. m)
  local rid, nid = string.match(m, '^([^:]+):([^:]+):')
  if rec and rid then
    redis.call('ZADD', KEYS[1], ARGV[2], m)
    out[#out + 1] = m
    out[#out + 1] = rec
    out[#out + 1] = redis.call('GET', 'ntf:n:' .. rid .. ':' .. nid) or ''
    out[#out + 1] = redis.call('HGET', 'ntf:settings:' .. rid, 'record') or ''
  else
    redis.call('ZREM', KEYS[1], m)
  end
end
return out
)lua");
  int64_t token = Millis(now + lease);
  redis_->Eval(kClaim, {kDueKey}, {absl::StrCat(Millis(now)), absl::StrCat(token), absl::StrCat(limit)},
               [token, done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 std::vector<ClaimedDelivery> out;
                 for (size_t i = 0; i + 3 < reply->elements.size(); i += 4) {
                   ClaimedDelivery c;
                   c.member = reply->elements[i].str;
                   c.token = token;
                   auto d = ParseProto<v1::Delivery>(reply->elements[i + 1].str);
                   if (!d.ok()) return done(d.status());
                   c.delivery = std::move(*d);
                   if (!reply->elements[i + 2].str.empty()) {
                     auto n = ParseProto<v1::Notification>(reply->elements[i + 2].str);
                     if (n.ok()) c.notification = std::move(*n);
                   }
                   if (!reply->elements[i + 3].str.empty()) {
                     auto st = ParseProto<v1::NotificationSettings>(reply->elements[i + 3].str);
                     if (st.ok()) c.settings = std::move(*st);
                   }
                   out.push_back(std::move(c));
                 }
                 done(std::move(out));
               });
}

void RedisNotificationStore::SaveDelivery(const ClaimedDelivery& claim,
                                          const v1::Delivery& updated,
                                          std::optional<absl::Time> next_due, Done<bool> done) {
  static const redis::Script kSave(R"lua(
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
redis.call('SET', KEYS[2], ARGV[3])
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
)lua");
  redis_->Eval(kSave, {kDueKey, absl::StrCat("ntf:delivery:", claim.member)},
               {claim.member, absl::StrCat(claim.token), updated.SerializeAsString(),
                next_due ? absl::StrCat(Millis(*next_due)) : ""},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(reply->integer == 1);
               });
}

void RedisNotificationStore::ClaimDueReminders(absl::Time now, absl::Duration lease, int limit,
                                               Done<std::vector<ClaimedReminder>> done) {
  static const redis::Script kClaim(R"lua(
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, m in ipairs(members) do
  local h = redis.call('HMGET', 'ntf:reminder:' .. m, 'due', 'kind', 'recipient', 'event')
  if h[1] then
    redis.call('ZADD', KEYS[1], ARGV[2], m)
    out[#out + 1] = m
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
    out[#out + 1] = h[3]
    out[#out + 1] = h[4]
  else
    redis.call('ZREM', KEYS[1], m)
  end
end
return out
)lua");
  int64_t token = Millis(now + lease);
  redis_->Eval(kClaim, {kRemindersKey},
               {absl::StrCat(Millis(now)), absl::StrCat(token), absl::StrCat(limit)},
               [token, done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 std::vector<ClaimedReminder> out;
                 for (size_t i = 0; i + 4 < reply->elements.size(); i += 5) {
                   ClaimedReminder r;
                   r.member = reply->elements[i].str;
                   r.token = token;
                   if (!absl::SimpleAtoi(reply->elements[i + 1].str, &r.due_ms)) continue;
                   r.kind = reply->elements[i + 2].str;
                   r.recipient_id = reply->elements[i + 3].str;
                   r.event = reply->elements[i + 4].str;
                   out.push_back(std::move(r));
                 }
                 done(std::move(out));
               });
}

void RedisNotificationStore::ListDeadLetters(const std::string& after_id, int limit,
                                             Done<std::vector<v1::DeadLetter>> done) {
  redis_->Command(
      {"XRANGE", options_.dead_letter_stream, after_id.empty() ? "-" : "(" + after_id, "+",
       "COUNT", absl::StrCat(limit)},
      [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        std::vector<v1::DeadLetter> out;
        for (const redis::Reply& e : reply->elements) {
          if (!e.is_array() || e.elements.size() != 2 || !e.elements[1].is_array()) continue;
          v1::DeadLetter d;
          const std::string& id = e.elements[0].str;
          d.set_name(absl::StrCat("deadLetters/", id));
          const auto& f = e.elements[1].elements;
          for (size_t i = 0; i + 1 < f.size(); i += 2) {
            const std::string& k = f[i].str;
            const std::string& v = f[i + 1].str;
            if (k == "type") d.set_event_type(v);
            if (k == "event") d.set_event(v);
            if (k == "origin_stream") d.set_source_stream(v);
            if (k == "origin_id") d.set_source_entry_id(v);
            if (k == "error") d.set_error(v);
            if (k == "group") d.set_consumer_group(v);
          }
          clerkship::events::v1::Event event;
          if (event.ParseFromString(d.event())) d.set_event_id(event.id());
          int64_t ms;
          if (absl::SimpleAtoi(id.substr(0, id.find('-')), &ms)) {
            *d.mutable_dead_time() = ToProtoTime(absl::FromUnixMillis(ms));
          }
          out.push_back(std::move(d));
        }
        done(std::move(out));
      });
}

void RedisNotificationStore::ReplayDeadLetter(const std::string& entry_id,
                                              Done<ReplayResult> done) {
  // The one write to another service's stream (see events.proto): the entry goes back
  // unchanged, and leaves the dead-letter stream in the same step.
  static const redis::Script kReplay(R"lua(
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then
  return redis.error_reply('NOT_FOUND DEAD_LETTER_NOT_FOUND no such dead letter')
end
local f = e[1][2]
local m = {}
for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
if not (m['origin_stream'] and m['type'] and m['event']) then
  return redis.error_reply('FAILED_PRECONDITION DEAD_LETTER_INCOMPLETE the dead letter does not name its stream')
end
local id = redis.call('XADD', m['origin_stream'], 'MAXLEN', '~', 1000000, '*',
                      'type', m['type'], 'event', m['event'])
redis.call('XDEL', KEYS[1], ARGV[1])
return {m['origin_stream'], id}
)lua");
  redis_->Eval(kReplay, {options_.dead_letter_stream}, {entry_id},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (!reply->is_array() || reply->elements.size() != 2) {
                   return done(absl::InternalError("unexpected reply from the replay script"));
                 }
                 done(ReplayResult{reply->elements[0].str, reply->elements[1].str});
               });
}

}  // namespace clerkship::notification

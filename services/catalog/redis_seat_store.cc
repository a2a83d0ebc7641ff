#include "services/catalog/redis_seat_store.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/events/events.h"
#include "common/util/ids.h"
#include "services/catalog/catalog_lua.h"
#include "services/catalog/redis_codec.h"

namespace clerkship::catalog {
namespace {

using redis::Reply;

redis::Script SeatScript(const char* body) {
  return redis::Script(absl::StrCat(events::kLuaPublish, lua::kLibrary, body));
}

std::string SessionName(const SeatKey& key) {
  return absl::StrCat("rotations/", key.rotation_id, "/sessions/", key.session_id);
}

// Event id, time (seconds, nanos) and actor, as the scripts take them, then the head of the
// seat event the script publishes: the serialized Event fields it would otherwise encode in
// Lua (id, type, source, subject, time, actor) and the SeatChange's session and rotation.
// Encoding these in Lua cost Redis more CPU than all of the script's commands; the script
// appends the fields only it knows (site, holder, expiry, seats, reason) and the payload.
void AppendStamp(const EventStamp& stamp, const std::string& event_type, const SeatKey& key,
                 std::vector<std::string>* args) {
  google::protobuf::Timestamp t = ToProtoTime(stamp.time);
  args->push_back(stamp.id);
  args->push_back(absl::StrCat(t.seconds()));
  args->push_back(absl::StrCat(t.nanos()));
  args->push_back(stamp.actor);
  events::v1::Event envelope;
  envelope.set_id(stamp.id);
  envelope.set_type(event_type);
  envelope.set_source("catalog");
  envelope.set_subject(SessionName(key));
  *envelope.mutable_time() = t;
  envelope.set_actor(stamp.actor);
  args->push_back(envelope.SerializeAsString());
  events::v1::SeatChange change_head;
  change_head.set_session(SessionName(key));
  change_head.set_rotation(absl::StrCat("rotations/", key.rotation_id));
  args->push_back(change_head.SerializeAsString());
}

// Expiry instants are rounded up to the millisecond so that a hold never ends earlier
// than asked.
std::string CeilMillis(absl::Time t) {
  int64_t nanos = absl::ToUnixNanos(t);
  return absl::StrCat(nanos / 1000000 + (nanos % 1000000 > 0 ? 1 : 0));
}

absl::Time FromMillis(int64_t ms) { return absl::FromUnixMillis(ms); }

// A holder record "H <hold ms> <expire ms>" or "C <hold ms> <confirm ms>".
absl::StatusOr<v1::SeatHold> HoldFromRecord(const std::string& session,
                                            const std::string& holder,
                                            const std::string& record) {
  std::vector<std::string> parts = absl::StrSplit(record, ' ');
  int64_t hold_ms = 0, other_ms = 0;
  if (parts.size() != 3 || (parts[0] != "H" && parts[0] != "C") ||
      !absl::SimpleAtoi(parts[1], &hold_ms) || !absl::SimpleAtoi(parts[2], &other_ms)) {
    return CorruptRecord();
  }
  v1::SeatHold hold;
  hold.set_session(session);
  hold.set_holder(holder);
  *hold.mutable_hold_time() = ToProtoTime(FromMillis(hold_ms));
  if (parts[0] == "H") {
    hold.set_state(v1::SeatHold::HELD);
    *hold.mutable_expire_time() = ToProtoTime(FromMillis(other_ms));
  } else {
    hold.set_state(v1::SeatHold::CONFIRMED);
    *hold.mutable_confirm_time() = ToProtoTime(FromMillis(other_ms));
  }
  return hold;
}

Done<Reply> HoldReply(std::string session, std::string holder, Done<v1::SeatHold> done) {
  return [session = std::move(session), holder = std::move(holder),
          done = std::move(done)](absl::StatusOr<Reply> reply) {
    absl::Status s = ReplyStatus(reply);
    if (!s.ok()) return done(s);
    done(HoldFromRecord(session, holder, reply->str));
  };
}

}  // namespace

void RedisSeatStore::HoldSeat(const SeatKey& key, const std::string& holder, absl::Time expire,
                              const EventStamp& stamp, absl::Time now,
                              Done<v1::SeatHold> done) {
  static const redis::Script kScript = SeatScript(lua::kHoldSeat);
  std::vector<std::string> args = {key.rotation_id, key.session_id, holder, CeilMillis(expire),
                                   Millis(now)};
  AppendStamp(stamp, "seat.held", key, &args);
  redis_->Eval(kScript, {}, std::move(args), HoldReply(SessionName(key), holder, std::move(done)));
}

void RedisSeatStore::ConfirmSeat(const SeatKey& key, const std::string& holder,
                                 const EventStamp& stamp, absl::Time now,
                                 Done<v1::SeatHold> done) {
  static const redis::Script kScript = SeatScript(lua::kConfirmSeat);
  std::vector<std::string> args = {key.rotation_id, key.session_id, holder, Millis(now)};
  AppendStamp(stamp, "seat.confirmed", key, &args);
  redis_->EvalAndWait(kScript, {}, std::move(args), confirm_wait_replicas_, confirm_wait_timeout_,
                      HoldReply(SessionName(key), holder, std::move(done)));
}

void RedisSeatStore::ReleaseSeat(const SeatKey& key, const std::string& holder,
                                 const std::string& reason, const EventStamp& stamp,
                                 absl::Time now, Done<v1::ReleaseSeatResponse> done) {
  static const redis::Script kScript = SeatScript(lua::kReleaseSeat);
  std::vector<std::string> args = {key.rotation_id, key.session_id, holder, reason,
                                   Millis(now)};
  AppendStamp(stamp, "seat.released", key, &args);
  redis_->Eval(kScript, {}, std::move(args),
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (reply->elements.size() != 2) return done(CorruptRecord());
                 v1::ReleaseSeatResponse response;
                 response.set_released(IntegerOr(reply->elements[0], 0) == 1);
                 response.set_seats_available(
                     static_cast<int32_t>(IntegerOr(reply->elements[1], 0)));
                 done(std::move(response));
               });
}

void RedisSeatStore::GetSeatInventory(const SeatKey& key, absl::Time now,
                                      Done<v1::SeatInventory> done) {
  static const redis::Script kScript = SeatScript(lua::kSeatInventory);
  std::string session = SessionName(key);
  redis_->Eval(
      kScript, {}, {key.rotation_id, key.session_id},
      [session, now, done = std::move(done)](absl::StatusOr<Reply> reply) {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        const std::vector<Reply>& e = reply->elements;
        if (e.size() < 2) return done(CorruptRecord());
        v1::SeatInventory inventory;
        inventory.set_session(session);
        int64_t capacity = IntegerOr(e[0], 0), confirmed = IntegerOr(e[1], 0), held = 0;
        std::vector<v1::SeatHold> holds;
        for (size_t i = 2; i + 1 < e.size(); i += 2) {
          absl::StatusOr<v1::SeatHold> hold = HoldFromRecord(session, e[i].str, e[i + 1].str);
          if (!hold.ok()) return done(hold.status());
          if (hold->state() == v1::SeatHold::HELD) {
            // Lapsed holds are ignored even before the sweeper gets to them.
            if (FromProtoTime(hold->expire_time()) <= now) continue;
            ++held;
          }
          holds.push_back(std::move(*hold));
        }
        std::sort(holds.begin(), holds.end(), [](const v1::SeatHold& a, const v1::SeatHold& b) {
          absl::Time ta = FromProtoTime(a.hold_time()), tb = FromProtoTime(b.hold_time());
          return ta != tb ? ta < tb : a.holder() < b.holder();
        });
        inventory.set_capacity(static_cast<int32_t>(capacity));
        inventory.set_seats_held(static_cast<int32_t>(held));
        inventory.set_seats_confirmed(static_cast<int32_t>(confirmed));
        inventory.set_seats_available(
            static_cast<int32_t>(std::max<int64_t>(0, capacity - held - confirmed)));
        for (v1::SeatHold& h : holds) *inventory.add_holds() = std::move(h);
        done(std::move(inventory));
      });
}

void RedisSeatStore::Sweep(absl::Time now, int limit, Done<int> done) {
  static const redis::Script kScript = SeatScript(lua::kSweep);
  redis_->Eval(kScript, {}, {Millis(now), absl::StrCat(limit)},
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(static_cast<int>(IntegerOr(*reply, 0)));
               });
}

}  // namespace clerkship::catalog

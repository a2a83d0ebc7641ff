#include "services/catalog/redis_catalog_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/events/events.h"
#include "common/status/status.h"
#include "services/catalog/catalog_lua.h"
#include "services/catalog/redis_codec.h"

namespace clerkship::catalog {
namespace {

using redis::Reply;

redis::Script CatalogScript(const char* body) {
  return redis::Script(absl::StrCat(events::kLuaPublish, lua::kLibrary, body));
}

std::string SiteKey(const std::string& id) { return absl::StrCat("cat:site:", id); }
std::string RotationKey(const std::string& id) { return absl::StrCat("cat:rot:", id); }
std::string SessionKey(const std::string& rotation_id, const std::string& session_id) {
  return absl::StrCat("cat:ses:", rotation_id, ":", session_id);
}

std::string IndexKeysOf(const std::vector<std::string>& terms) {
  std::vector<std::string> keys;
  keys.reserve(terms.size());
  for (const std::string& t : terms) keys.push_back(TermKey(t));
  return absl::StrJoin(keys, "\n");
}

std::string IdOf(const std::string& name) { return name.substr(name.rfind('/') + 1); }

// A rotation view {pb, next start day, seats, tz} starting at elements[at].
absl::StatusOr<StoredRotation> RotationFromView(const std::vector<Reply>& e, size_t at) {
  if (e.size() < at + 4) return CorruptRecord();
  absl::StatusOr<v1::Rotation> rotation = ParseProto<v1::Rotation>(e[at]);
  if (!rotation.ok()) return rotation.status();
  StoredRotation out;
  out.rotation = std::move(*rotation);
  int64_t next_start = IntegerOr(e[at + 1], -1);
  if (next_start >= 0) out.rotation.set_next_start_date(DateOfDay(next_start));
  out.rotation.set_seats_available(static_cast<int32_t>(IntegerOr(e[at + 2], 0)));
  out.time_zone = e[at + 3].str;
  return out;
}

v1::Rotation::State StateNamed(const std::string& name) {
  v1::Rotation::State state = v1::Rotation::STATE_UNSPECIFIED;
  v1::Rotation::State_Parse(name, &state);
  return state;
}

// A session view {pb, capacity, held, confirmed, close ms, rotation state, site id, tz}.
absl::StatusOr<StoredSession> SessionFromView(const Reply& view, absl::Time now) {
  const std::vector<Reply>& e = view.elements;
  if (!view.is_array() || e.size() < 8) return CorruptRecord();
  absl::StatusOr<v1::Session> session = ParseProto<v1::Session>(e[0]);
  if (!session.ok()) return session.status();
  StoredSession out;
  out.session = std::move(*session);
  int64_t capacity = IntegerOr(e[1], 0), held = IntegerOr(e[2], 0),
          confirmed = IntegerOr(e[3], 0);
  out.session.set_capacity(static_cast<int32_t>(capacity));
  out.session.set_seats_held(static_cast<int32_t>(held));
  out.session.set_seats_confirmed(static_cast<int32_t>(confirmed));
  out.session.set_seats_available(
      static_cast<int32_t>(std::max<int64_t>(0, capacity - held - confirmed)));
  out.rotation_state = StateNamed(e[5].str);
  out.rotation_site = absl::StrCat("sites/", e[6].str);
  out.time_zone = e[7].str;
  out.session.set_accepting_applications(out.rotation_state == v1::Rotation::PUBLISHED &&
                                         absl::ToUnixMillis(now) < IntegerOr(e[4], 0));
  return out;
}

const char* TransitionName(RotationTransition t) {
  switch (t) {
    case RotationTransition::kPublish: return "publish";
    case RotationTransition::kArchive: return "archive";
    case RotationTransition::kUpdate: break;
  }
  return "update";
}

const char* SearchPlanName(RedisCatalogStore::SearchPlan plan) {
  switch (plan) {
    case RedisCatalogStore::SearchPlan::kEvaluateCandidates: return "evaluate";
    case RedisCatalogStore::SearchPlan::kWalkIndex: return "walk";
    case RedisCatalogStore::SearchPlan::kMaterialize: return "materialize";
    case RedisCatalogStore::SearchPlan::kAuto: break;
  }
  return "auto";
}

const char* OrderName(SearchOrder order) {
  switch (order) {
    case SearchOrder::kTotalFee: return "fee";
    case SearchOrder::kSeatsAvailable: return "seats";
    case SearchOrder::kStartDate: break;
  }
  return "start";
}

}  // namespace

std::string TermKey(const std::string& term) { return absl::StrCat("cat:idx:", term); }

// ---- Sites -------------------------------------------------------------------------------

void RedisCatalogStore::CreateSite(const v1::Site& site, const std::string& request_id,
                                   Done<v1::Site> done) {
  // KEYS: site key, index, idempotency key (or a dummy). ARGV: id, record, has request id.
  static const redis::Script kCreate(R"lua(
if ARGV[3] == '1' then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then
    local record = redis.call('GET', 'cat:site:' .. earlier)
    if record then return record end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ALREADY_EXISTS SITE_EXISTS site sites/' .. ARGV[1] .. ' already exists')
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[1], 'EX', 86400) end
return ARGV[2]
)lua");
  std::string id = IdOf(site.name());
  redis_->Eval(kCreate,
               {SiteKey(id), "cat:sites",
                request_id.empty() ? "cat:idem:site:-" : "cat:idem:site:" + request_id},
               {id, site.SerializeAsString(), request_id.empty() ? "0" : "1"},
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseProto<v1::Site>(*reply));
               });
}

void RedisCatalogStore::GetSite(const std::string& site_id, Done<v1::Site> done) {
  redis_->Command({"GET", SiteKey(site_id)},
                  [site_id, done = std::move(done)](absl::StatusOr<Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    if (reply->is_nil()) {
                      return done(ErrorWithInfo(absl::StatusCode::kNotFound,
                                                absl::StrCat("site sites/", site_id, " not found"),
                                                "SITE_NOT_FOUND", kDomain));
                    }
                    done(ParseProto<v1::Site>(*reply));
                  });
}

void RedisCatalogStore::ListSites(const std::string& after_id, int limit,
                                  Done<std::vector<v1::Site>> done) {
  // One round trip: the page of ids and their records.
  static const redis::Script kList(R"lua(
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, id in ipairs(ids) do
  local record = redis.call('GET', 'cat:site:' .. id)
  if record then out[#out + 1] = record end
end
return out
)lua");
  std::string start = after_id.empty() ? "-" : "(" + after_id;
  redis_->Eval(kList, {"cat:sites"}, {start, absl::StrCat(limit)},
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 std::vector<v1::Site> sites;
                 for (const Reply& r : reply->elements) {
                   auto site = ParseProto<v1::Site>(r);
                   if (!site.ok()) return done(site.status());
                   sites.push_back(std::move(*site));
                 }
                 done(std::move(sites));
               });
}

// ---- Rotations ---------------------------------------------------------------------------

void RedisCatalogStore::CreateRotation(const RotationWrite& write, const std::string& request_id,
                                       absl::Time now, Done<StoredRotation> done) {
  static const redis::Script kScript = CatalogScript(lua::kCreateRotation);
  const v1::Rotation& r = write.rotation;
  std::string id = IdOf(r.name());
  // Request ids are scoped to the site, so that one site's coordinator can never be handed
  // another site's rotation by reusing its request id.
  redis_->Eval(kScript,
               {RotationKey(id),
                request_id.empty()
                    ? "cat:idem:rot:-"
                    : absl::StrCat("cat:idem:rot:", IdOf(r.site()), ":", request_id)},
               {id, r.SerializeAsString(), r.etag(), IdOf(r.site()), write.time_zone,
                IndexKeysOf(write.terms), absl::StrCat(r.fees().total_cents()),
                request_id.empty() ? "0" : "1", Millis(now)},
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(RotationFromView(reply->elements, 0));
               });
}

void RedisCatalogStore::GetRotation(const std::string& rotation_id, absl::Time now,
                                    Done<StoredRotation> done) {
  static const redis::Script kScript = CatalogScript(lua::kGetRotation);
  redis_->Eval(kScript, {}, {rotation_id, Millis(now)},
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(RotationFromView(reply->elements, 0));
               });
}

void RedisCatalogStore::WriteRotation(RotationTransition transition,
                                      const std::string& expected_etag,
                                      const RotationWrite& write, const events::v1::Event& event,
                                      absl::Time now, Done<StoredRotation> done) {
  static const redis::Script kScript = CatalogScript(lua::kWriteRotation);
  const v1::Rotation& r = write.rotation;
  std::string id = IdOf(r.name());
  redis_->Eval(kScript, {RotationKey(id)},
               {id, TransitionName(transition), expected_etag, r.SerializeAsString(), r.etag(),
                v1::Rotation::State_Name(r.state()), IndexKeysOf(write.terms),
                absl::StrCat(r.fees().total_cents()), event.type(), event.SerializeAsString(),
                Millis(now)},
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(RotationFromView(reply->elements, 0));
               });
}

// ---- Sessions ----------------------------------------------------------------------------

void RedisCatalogStore::CreateSession(const SessionWrite& write, const std::string& request_id,
                                      const events::v1::Event& event, absl::Time now,
                                      Done<StoredSession> done) {
  static const redis::Script kScript = CatalogScript(lua::kCreateSession);
  const v1::Session& s = write.session;
  redis_->Eval(
      kScript,
      {SessionKey(write.rotation_id, write.session_id),
       request_id.empty() ? "cat:idem:ses:-"
                          : absl::StrCat("cat:idem:ses:", write.rotation_id, ":", request_id)},
      {write.rotation_id, write.session_id, s.SerializeAsString(), s.etag(),
       absl::StrCat(DayNumber(s.start_date())), Millis(write.applications_close),
       absl::StrCat(s.capacity()), request_id.empty() ? "0" : "1", event.SerializeAsString(),
       Millis(now)},
      [now, done = std::move(done)](absl::StatusOr<Reply> reply) {
        absl::Status st = ReplyStatus(reply);
        if (!st.ok()) return done(st);
        done(SessionFromView(*reply, now));
      });
}

void RedisCatalogStore::GetSession(const std::string& rotation_id, const std::string& session_id,
                                   absl::Time now, Done<StoredSession> done) {
  static const redis::Script kScript = CatalogScript(lua::kGetSession);
  redis_->Eval(kScript, {}, {rotation_id, session_id, Millis(now)},
               [now, done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(SessionFromView(*reply, now));
               });
}

void RedisCatalogStore::UpdateSession(const std::string& expected_etag,
                                      const SessionWrite& write, const events::v1::Event& event,
                                      absl::Time now, Done<StoredSession> done) {
  static const redis::Script kScript = CatalogScript(lua::kUpdateSession);
  const v1::Session& s = write.session;
  redis_->Eval(kScript, {SessionKey(write.rotation_id, write.session_id)},
               {write.rotation_id, write.session_id, expected_etag, s.SerializeAsString(),
                s.etag(), absl::StrCat(DayNumber(s.start_date())),
                Millis(write.applications_close), absl::StrCat(s.capacity()),
                event.SerializeAsString(), Millis(now)},
               [now, done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status st = ReplyStatus(reply);
                 if (!st.ok()) return done(st);
                 done(SessionFromView(*reply, now));
               });
}

void RedisCatalogStore::ListSessions(const std::string& rotation_id,
                                     std::optional<int64_t> after_start_day,
                                     const std::string& after_session_id, int limit,
                                     bool open_only, absl::Time now, Done<SessionPage> done) {
  static const redis::Script kScript = CatalogScript(lua::kListSessions);
  redis_->Eval(kScript, {},
               {rotation_id, after_start_day ? absl::StrCat(*after_start_day) : "",
                after_session_id, absl::StrCat(limit), open_only ? "1" : "0", Millis(now)},
               [now, done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 const std::vector<Reply>& e = reply->elements;
                 if (e.size() < 2) return done(CorruptRecord());
                 SessionPage page;
                 page.rotation_state = StateNamed(e[0].str);
                 page.rotation_site = absl::StrCat("sites/", e[1].str);
                 for (size_t i = 2; i < e.size(); ++i) {
                   absl::StatusOr<StoredSession> session = SessionFromView(e[i], now);
                   if (!session.ok()) return done(session.status());
                   page.sessions.push_back(std::move(session->session));
                 }
                 done(std::move(page));
               });
}

// ---- Search ------------------------------------------------------------------------------

void RedisCatalogStore::SearchRotations(const SearchQuery& query,
                                        const std::optional<SearchCursor>& cursor, int limit,
                                        absl::Time now, Done<SearchPage> done) {
  static const redis::Script kScript = CatalogScript(lua::kSearch);
  auto optional_day = [](const std::optional<int64_t>& day) {
    return day ? absl::StrCat(*day) : std::string();
  };
  std::vector<std::string> args = {
      Millis(now),
      OrderName(query.order),
      query.has_seats ? "1" : "0",
      optional_day(query.start_from_day),
      optional_day(query.start_to_day),
      query.max_total_fee_cents ? absl::StrCat(*query.max_total_fee_cents) : "",
      cursor ? absl::StrCat(cursor->score) : "",
      cursor ? cursor->rotation_id : "",
      absl::StrCat(limit),
      absl::StrCat(kSearchSweepLimit),
      // No open session starts before today anywhere (UTC-12 is the last place to get there).
      absl::StrCat(DayNumber(TodayIn(now - absl::Hours(12), "UTC"))),
      SearchPlanName(search_plan_)};
  for (const std::string& term : query.terms) args.push_back(TermKey(term));
  redis_->Eval(kScript, {}, std::move(args),
               [done = std::move(done)](absl::StatusOr<Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 const std::vector<Reply>& e = reply->elements;
                 if (e.size() < 2) return done(CorruptRecord());
                 SearchPage page;
                 page.total_size = static_cast<int32_t>(IntegerOr(e[0], 0));
                 page.more = IntegerOr(e[1], 0) == 1;
                 constexpr size_t kPerRotation = 6;
                 for (size_t i = 2; i + kPerRotation <= e.size(); i += kPerRotation) {
                   absl::StatusOr<StoredRotation> r = RotationFromView(e, i + 2);
                   if (!r.ok()) return done(r.status());
                   page.rotations.push_back(std::move(r->rotation));
                   page.scores.push_back(IntegerOr(e[i + 1], 0));
                 }
                 done(std::move(page));
               });
}

}  // namespace clerkship::catalog

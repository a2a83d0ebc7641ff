#include "services/catalog/redis_catalog_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/events/events.h"
#include "common/status/status.h"
#include "services/catalog/catalog_lua.h"
#include "services/catalog/redis_codec.h"
#include "services/catalog/rotation_index.h"
#include "absl/synchronization/mutex.h"

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

absl::Status RotationNotFound(const std::string& rotation_id) {
  return ErrorWithInfo(absl::StatusCode::kNotFound,
                       absl::StrCat("rotation rotations/", rotation_id, " not found"),
                       "ROTATION_NOT_FOUND", kDomain);
}

// One rotation of an index sync reply (kIndexSync): {id} when it is gone, else
// {id, pb, state, tz, index keys, fee, sessions}.
absl::Status ParseIndexedRotation(const Reply& r, IndexedRotation* out, bool* gone) {
  const std::vector<Reply>& e = r.elements;
  if (!r.is_array() || e.empty()) return CorruptRecord();
  out->id = e[0].str;
  *gone = e.size() == 1;
  if (*gone) return absl::OkStatus();
  if (e.size() < 7 || !e[6].is_array()) return CorruptRecord();
  if (!out->rotation.ParseFromString(e[1].str)) return CorruptRecord();
  out->state = StateNamed(e[2].str);
  out->time_zone = e[3].str;
  constexpr absl::string_view kTermPrefix = "cat:idx:";
  for (absl::string_view key : absl::StrSplit(e[4].str, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&key, kTermPrefix)) out->terms.emplace_back(key);
  }
  out->fee_cents = IntegerOr(e[5], 0);
  for (const Reply& s : e[6].elements) {
    const std::vector<Reply>& f = s.elements;
    if (!s.is_array() || f.size() < 6) return CorruptRecord();
    IndexedSession session;
    session.id = f[0].str;
    session.start_day = IntegerOr(f[1], 0);
    session.close_ms = IntegerOr(f[2], 0);
    session.capacity = IntegerOr(f[3], 0);
    session.confirmed = IntegerOr(f[4], 0);
    for (size_t i = 1; i < f[5].elements.size(); i += 2) {
      session.hold_expiries_ms.push_back(IntegerOr(f[5].elements[i], 0));
    }
    out->sessions.push_back(std::move(session));
  }
  return absl::OkStatus();
}

}  // namespace

// Keeps the RotationIndex in step with Redis. Readers compare the index's version with
// cat:ver (read in Redis at the time of their call) and, when the index is behind, wait for
// a sync: one Redis call at a time fetches the rotations changed since (cat:changed), or,
// the first time, every rotation page by page followed by the changes made meanwhile.
// Concurrent readers share the sync steps.
class RedisCatalogStore::IndexSync : public std::enable_shared_from_this<IndexSync> {
 public:
  explicit IndexSync(redis::Client* redis) : redis_(redis) {}

  // Runs `ready` once the index holds version `version` or later (on this thread if it
  // already does, else on the Redis event loop), or with the error that stopped the sync.
  void WhenAtLeast(int64_t version, std::function<void(absl::Status)> ready) {
    bool start = false, now_ready = false;
    {
      absl::MutexLock lock(&mu_);
      Waiter w{version, std::move(ready), 0};
      if (version < applied_) {
        // cat:ver read lower than the index holds: a reply that another connection's
        // overtook, or Redis lost its latest writes (restarted without them, or emptied).
        // Only a sync step sent from now on can tell (see Applied); wait for one.
        w.version = applied_;
        w.min_step = steps_sent_ + 1;
      }
      if (applied_ >= w.version && steps_done_ >= w.min_step) {
        now_ready = true;
        ready = std::move(w.ready);
      } else {
        waiters_.push_back(std::move(w));
        if (!syncing_) syncing_ = start = true;
      }
    }
    if (now_ready) return ready(absl::OkStatus());
    if (start) Step();
  }

  // Calls `read` with the index and the version it holds (-1: not loaded yet), under the
  // reader lock.
  template <typename F>
  void Read(F read) const {
    absl::ReaderMutexLock lock(&mu_);
    read(index_, applied_);
  }

 private:
  struct Waiter {
    int64_t version;
    std::function<void(absl::Status)> ready;
    uint64_t min_step;  // the sync step that must have completed too (0: none)
  };

  void Step() {
    static const redis::Script kScript = CatalogScript(lua::kIndexSync);
    std::string mode, position;
    uint64_t generation, step;
    {
      absl::MutexLock lock(&mu_);
      mode = loading_all_ ? "all" : "changes";
      position = loading_all_ ? load_after_ : absl::StrCat(position_);
      generation = generation_;
      step = ++steps_sent_;
    }
    redis_->Eval(kScript, {}, {mode, position, absl::StrCat(kIndexSyncBatch)},
                 [self = shared_from_this(), generation, step](absl::StatusOr<Reply> reply) {
                   self->Applied(generation, step, std::move(reply));
                 });
  }

  void Applied(uint64_t generation, uint64_t step, absl::StatusOr<Reply> reply) {
    absl::Status status = ReplyStatus(reply);
    std::vector<IndexedRotation> records;
    std::vector<std::string> gone;
    int64_t version = 0, next_version = 0;
    bool more = false;
    std::string next_position;
    if (status.ok()) {
      const std::vector<Reply>& e = reply->elements;
      if (e.size() < 3) status = CorruptRecord();
      if (status.ok()) {
        version = IntegerOr(e[0], 0);
        more = IntegerOr(e[1], 0) == 1;
        next_position = e[2].str;
        next_version = IntegerOr(e[2], 0);
        for (size_t i = 3; i < e.size() && status.ok(); ++i) {
          IndexedRotation r;
          bool is_gone = false;
          status = ParseIndexedRotation(e[i], &r, &is_gone);
          if (!status.ok()) break;
          if (is_gone) {
            gone.push_back(r.id);
          } else {
            records.push_back(std::move(r));
          }
        }
      }
    }
    std::vector<Waiter> ready;
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      if (generation != generation_) {
        again = true;  // the index was reset meanwhile: start its load
      } else if (!status.ok()) {
        ready.swap(waiters_);
        syncing_ = false;
      } else if (!loading_all_ && (version < applied_ || version < position_)) {
        // Steps run one after another, so cat:ver can only be lower than an earlier step
        // saw if Redis lost writes: nothing the index holds can be trusted; load it all
        // again, and let waiters settle for what Redis holds now.
        index_ = RotationIndex();
        applied_ = -1;
        position_ = 0;
        loading_all_ = true;
        load_after_.clear();
        load_base_ = -1;
        ++generation_;
        for (Waiter& w : waiters_) {
          w.version = std::min(w.version, version);
          w.min_step = 0;
        }
        again = true;
      } else {
        steps_done_ = step;
        for (IndexedRotation& r : records) index_.Upsert(std::move(r));
        for (const std::string& id : gone) index_.Remove(id);
        if (loading_all_) {
          // Changes made while the pages are read are caught up from the version the first
          // page saw.
          if (load_base_ < 0) load_base_ = version;
          if (more) {
            load_after_ = next_position;
          } else {
            loading_all_ = false;
            position_ = load_base_;
          }
        } else {
          position_ = next_version;
          if (!more) applied_ = std::max(applied_, next_version);
        }
        std::vector<Waiter> waiting;
        for (Waiter& w : waiters_) {
          bool done = w.version <= applied_ && steps_done_ >= w.min_step;
          (done ? ready : waiting).push_back(std::move(w));
        }
        waiters_.swap(waiting);
        again = more || loading_all_ || !waiters_.empty();
        if (!again) syncing_ = false;
      }
    }
    if (again) Step();
    for (Waiter& w : ready) w.ready(status);
  }

  redis::Client* redis_;
  mutable absl::Mutex mu_;
  RotationIndex index_ ABSL_GUARDED_BY(mu_);
  int64_t applied_ ABSL_GUARDED_BY(mu_) = -1;   // cat:ver the index is complete for
  int64_t position_ ABSL_GUARDED_BY(mu_) = 0;   // changes after this are still to fetch
  bool loading_all_ ABSL_GUARDED_BY(mu_) = true;
  std::string load_after_ ABSL_GUARDED_BY(mu_);
  int64_t load_base_ ABSL_GUARDED_BY(mu_) = -1;
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // counts full reloads after lost writes
  uint64_t steps_sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t steps_done_ ABSL_GUARDED_BY(mu_) = 0;  // the last step applied
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

RedisCatalogStore::RedisCatalogStore(redis::Client* redis)
    : redis_(redis),
      index_(std::make_shared<IndexSync>(redis)),
      versions_(std::make_shared<VersionReads>(redis)) {}

RedisCatalogStore::~RedisCatalogStore() = default;

void RedisCatalogStore::LoadIndex() {
  index_->WhenAtLeast(0, [](absl::Status) {});
}

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

// Answers from the in-process index, at least as fresh as Redis at the time of the version
// read that `send_version` makes (a command whose reply is cat:ver): `read` runs first, on
// the caller's thread, and its answer is used if that reply shows no change since; otherwise
// the index catches up and `read` runs again. Readers thus never wait for each other, and
// the Redis thread only hands over an answer already made.
template <typename T, typename Read, typename SendVersion>
void RedisCatalogStore::ReadFresh(Read read, SendVersion send_version, Done<T> done) {
  int64_t seen = -1;
  absl::StatusOr<T> early = absl::UnknownError("not read");
  index_->Read([&](const RotationIndex& index, int64_t version) {
    seen = version;
    if (version >= 0) early = read(index);
  });
  send_version([index = index_, seen, early = std::move(early), read = std::move(read),
                done = std::move(done)](absl::StatusOr<Reply> reply) mutable {
    absl::Status s = ReplyStatus(reply);
    if (!s.ok()) return done(s);
    int64_t version = IntegerOr(*reply, 0);
    if (seen >= 0 && version == seen) return done(std::move(early));
    index->WhenAtLeast(version, [index, read = std::move(read),
                                 done = std::move(done)](absl::Status s) {
      if (!s.ok()) return done(s);
      absl::StatusOr<T> out = absl::UnknownError("not read");
      index->Read([&](const RotationIndex& i, int64_t) { out = read(i); });
      done(std::move(out));
    });
  });
}

// Reads of cat:ver for GetRotation, shared: at most one GET is in flight, and the calls that
// arrive meanwhile wait for the next one, which is sent when the current one returns. Every
// call thus gets a version read by a command sent after it arrived (what freshness needs),
// and under load one GET serves many calls instead of one each.
class RedisCatalogStore::VersionReads : public std::enable_shared_from_this<VersionReads> {
 public:
  explicit VersionReads(redis::Client* redis) : redis_(redis) {}

  void Read(Done<Reply> done) {
    {
      absl::MutexLock lock(&mu_);
      if (in_flight_) {
        next_.push_back(std::move(done));
        return;
      }
      in_flight_ = true;
    }
    std::vector<Done<Reply>> batch;
    batch.push_back(std::move(done));
    Send(std::move(batch));
  }

 private:
  void Send(std::vector<Done<Reply>> batch) {
    redis_->Command({"GET", "cat:ver"}, [self = shared_from_this(), batch = std::move(batch)](
                                            absl::StatusOr<Reply> reply) mutable {
      std::vector<Done<Reply>> next;
      {
        absl::MutexLock lock(&self->mu_);
        next.swap(self->next_);
        self->in_flight_ = !next.empty();
      }
      if (!next.empty()) self->Send(std::move(next));
      for (Done<Reply>& done : batch) done(reply);
    });
  }

  redis::Client* redis_;
  absl::Mutex mu_;
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Done<Reply>> next_ ABSL_GUARDED_BY(mu_);
};

void RedisCatalogStore::SendVersionRead(Done<Reply> done) { versions_->Read(std::move(done)); }

void RedisCatalogStore::GetRotation(const std::string& rotation_id, absl::Time now,
                                    Done<StoredRotation> done) {
  ReadFresh<StoredRotation>(
      [rotation_id, now](const RotationIndex& index) -> absl::StatusOr<StoredRotation> {
        std::optional<StoredRotation> r = index.View(rotation_id, now);
        if (!r) return RotationNotFound(rotation_id);
        return std::move(*r);
      },
      [this](Done<Reply> reply) { SendVersionRead(std::move(reply)); }, std::move(done));
}

void RedisCatalogStore::GetRotationWire(const std::string& rotation_id, absl::Time now,
                                        Done<RotationWire> done) {
  ReadFresh<RotationWire>(
      [rotation_id, now](const RotationIndex& index) -> absl::StatusOr<RotationWire> {
        std::optional<RotationWire> r = index.ViewWire(rotation_id, now);
        if (!r) return RotationNotFound(rotation_id);
        return std::move(*r);
      },
      [this](Done<Reply> reply) { SendVersionRead(std::move(reply)); }, std::move(done));
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
  // Evaluated in process over the index (see ReadFresh). The script that reads cat:ver also
  // sweeps lapsed holds, so that seat.expired follows a search without waiting for the
  // sweeper.
  static const redis::Script kVersion = CatalogScript(lua::kSweepAndVersion);
  ReadFresh<SearchPage>(
      [query, cursor, limit, now](const RotationIndex& index) -> absl::StatusOr<SearchPage> {
        return index.Search(query, cursor, limit, now);
      },
      [this, now](Done<Reply> reply) {
        redis_->Eval(kVersion, {}, {Millis(now), absl::StrCat(kSearchSweepLimit)},
                     std::move(reply));
      },
      std::move(done));
}

}  // namespace clerkship::catalog

#include "services/applicant/redis_applicant_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/events/events.h"
#include "common/status/status.h"
#include "common/util/ids.h"

namespace clerkship::applicant {
namespace {

constexpr char kDomain[] = "clerkship.applicant";
// Placeholder for an optional key argument, so that scripts always get the same KEYS count.
constexpr char kNoKey[] = "app:-";

std::string ApplicantKey(const std::string& id) { return absl::StrCat("app:applicant:", id); }
std::string EmailKey(const std::string& digest) { return absl::StrCat("app:email:", digest); }
std::string ApplicantSitesKey(const std::string& id) {
  return absl::StrCat("app:applicant-sites:", id);
}
std::string DocumentKey(const std::string& applicant_id, const std::string& document_id) {
  return absl::StrCat("app:doc:", applicant_id, ":", document_id);
}
std::string DocumentsKey(const std::string& applicant_id) {
  return absl::StrCat("app:docs:", applicant_id);
}
std::string ApplicationKey(const std::string& id) { return absl::StrCat("app:application:", id); }
std::string LiveKey(const std::string& applicant_id) {
  return absl::StrCat("app:live:", applicant_id);
}
std::string WaitlistKey(const std::string& session) {
  return absl::StrCat("app:waitlist:", session);
}
std::string ExperienceKey(const std::string& applicant_id) {
  return absl::StrCat("app:experience:", applicant_id);
}
std::string IdOf(const std::string& name) { return name.substr(name.rfind('/') + 1); }
std::string Millis(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }
std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToInt64Seconds(d)); }

// Whether writing `next` takes the application into or out of ACCEPTED (or edits an
// accepted one): the writes that go with a confirmed seat in the catalog. Losing one in a
// failover would leave an accepted application without its seat, or a seat confirmed (or
// released) for an application in another state. Judged by the new state and the latest
// transition, so a later edit of an application that has left ACCEPTED waits too (rare).
bool TouchesAcceptance(const v1::Application& next) {
  if (next.state() == v1::Application::ACCEPTED) return true;
  if (next.history_size() == 0) return false;
  const v1::Application::Transition& last = next.history(next.history_size() - 1);
  return last.from_state() == v1::Application::ACCEPTED;
}

absl::Status ReplyStatus(const absl::StatusOr<redis::Reply>& reply) {
  return redis::ScriptStatus(reply, kDomain);
}

template <typename T>
absl::StatusOr<T> ParseProto(const redis::Reply& reply) {
  T message;
  if (reply.type != redis::Reply::Type::kString || !message.ParseFromString(reply.str)) {
    return absl::DataLossError("stored record is unreadable");
  }
  return message;
}

// {record, waitlist position, site time zone} as returned by load_application below.
absl::StatusOr<StoredApplication> ParseStoredApplication(const redis::Reply& reply) {
  if (!reply.is_array() || reply.elements.size() != 3) {
    return absl::DataLossError("stored application is unreadable");
  }
  absl::StatusOr<v1::Application> app = ParseProto<v1::Application>(reply.elements[0]);
  if (!app.ok()) return app.status();
  absl::StatusOr<int64_t> position = reply.elements[1].AsInteger();
  StoredApplication stored;
  stored.application = std::move(*app);
  stored.application.set_waitlist_position(position.ok() ? static_cast<int32_t>(*position) : 0);
  stored.site_time_zone = reply.elements[2].str;
  return stored;
}

absl::StatusOr<std::vector<std::string>> ParseStrings(const redis::Reply& reply) {
  std::vector<std::string> out;
  for (const redis::Reply& r : reply.elements) out.push_back(r.str);
  return out;
}

// Lua shared by the scripts that read applications. The waitlist position is computed at
// read time from the session's waitlist.
constexpr char kLuaLoadApplication[] = R"lua(
local function load_application(id)
  local v = redis.call('HMGET', 'app:application:' .. id, 'record', 'state', 'session', 'site_tz')
  if not v[1] then return false end
  local position = 0
  if v[2] == 'WAITLISTED' then
    local p = redis.call('LPOS', 'app:waitlist:' .. v[3], id)
    if p then position = p + 1 end
  end
  return {v[1], position, v[4] or ''}
end
)lua";

std::string WithLoad(const char* body) { return absl::StrCat(kLuaLoadApplication, body); }
std::string WithPublish(const char* body) { return absl::StrCat(events::kLuaPublish, body); }

}  // namespace

// ---------------------------------------------------------------------------------------
// Applicants

void RedisApplicantStore::CreateApplicant(const v1::Applicant& applicant,
                                          const std::string& email_digest,
                                          const std::string& idempotency_key,
                                          Done<v1::Applicant> done) {
  // KEYS: applicant, e-mail owner, idempotency key. ARGV: id, record, etag, e-mail digest.
  static const redis::Script kCreate(R"lua(
if KEYS[3] ~= 'app:-' then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then
    local record = redis.call('HGET', 'app:applicant:' .. earlier, 'record')
    if record then return record end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ALREADY_EXISTS APPLICANT_EXISTS applicants/' .. ARGV[1] .. ' already exists')
end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then
  return redis.error_reply('ALREADY_EXISTS EMAIL_IN_USE the e-mail address belongs to another applicant')
end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'etag', ARGV[3], 'email', ARGV[4])
redis.call('SET', KEYS[2], ARGV[1])
if KEYS[3] ~= 'app:-' then redis.call('SET', KEYS[3], ARGV[1], 'EX', 86400) end
return ARGV[2]
)lua");
  std::string id = IdOf(applicant.name());
  redis_->Eval(kCreate,
               {ApplicantKey(id), EmailKey(email_digest),
                idempotency_key.empty() ? kNoKey : idempotency_key},
               {id, applicant.SerializeAsString(), applicant.etag(), email_digest},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseProto<v1::Applicant>(*reply));
               });
}

void RedisApplicantStore::GetApplicant(const std::string& applicant_id, Done<v1::Applicant> done) {
  redis_->Command(
      {"HGET", ApplicantKey(applicant_id), "record"},
      [applicant_id, done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        if (reply->is_nil()) {
          return done(ErrorWithInfo(absl::StatusCode::kNotFound,
                                    absl::StrCat("applicants/", applicant_id, " not found"),
                                    "APPLICANT_NOT_FOUND", kDomain));
        }
        done(ParseProto<v1::Applicant>(*reply));
      });
}

void RedisApplicantStore::UpdateApplicant(const v1::Applicant& next,
                                          const std::string& expected_etag,
                                          const std::string& email_digest,
                                          Done<v1::Applicant> done) {
  // KEYS: applicant, new e-mail owner key. ARGV: id, expected etag, record, etag, digest.
  static const redis::Script kUpdate(R"lua(
local current = redis.call('HMGET', KEYS[1], 'etag', 'email')
if not current[1] then
  return redis.error_reply('NOT_FOUND APPLICANT_NOT_FOUND applicants/' .. ARGV[1] .. ' not found')
end
if current[1] ~= ARGV[2] then
  return redis.error_reply('ABORTED CONCURRENT_UPDATE the applicant changed meanwhile')
end
if current[2] ~= ARGV[5] then
  local owner = redis.call('GET', KEYS[2])
  if owner and owner ~= ARGV[1] then
    return redis.error_reply('ALREADY_EXISTS EMAIL_IN_USE the e-mail address belongs to another applicant')
  end
  if current[2] and redis.call('GET', 'app:email:' .. current[2]) == ARGV[1] then
    redis.call('DEL', 'app:email:' .. current[2])
  end
  redis.call('SET', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], 'record', ARGV[3], 'etag', ARGV[4], 'email', ARGV[5])
return ARGV[3]
)lua");
  std::string id = IdOf(next.name());
  redis_->Eval(kUpdate, {ApplicantKey(id), EmailKey(email_digest)},
               {id, expected_etag, next.SerializeAsString(), next.etag(), email_digest},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseProto<v1::Applicant>(*reply));
               });
}

void RedisApplicantStore::HasAppliedToSite(const std::string& applicant_id, const std::string& site,
                                           Done<bool> done) {
  redis_->Command({"SISMEMBER", ApplicantSitesKey(applicant_id), site},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    done(reply->integer == 1);
                  });
}

// ---------------------------------------------------------------------------------------
// Documents

void RedisApplicantStore::AddDocument(const std::string& applicant_id, const v1::Document& document,
                                      const std::string& idempotency_key, int max_documents,
                                      const EventRecord& event, Done<v1::Document> done) {
  // KEYS: document, vault index, applicant, idempotency key, events.
  // ARGV: applicant id, document id, record, etag, created ms, max, event type, event.
  static const redis::Script kAdd(WithPublish(R"lua(
if KEYS[4] ~= 'app:-' then
  local earlier = redis.call('GET', KEYS[4])
  if earlier then
    local record = redis.call('HGET', 'app:doc:' .. ARGV[1] .. ':' .. earlier, 'record')
    if record then return record end
  end
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOT_FOUND APPLICANT_NOT_FOUND applicants/' .. ARGV[1] .. ' not found')
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  return redis.error_reply('RESOURCE_EXHAUSTED TOO_MANY_DOCUMENTS the vault holds the maximum of ' .. ARGV[6] .. ' documents')
end
redis.call('HSET', KEYS[1], 'record', ARGV[3], 'etag', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
if KEYS[4] ~= 'app:-' then redis.call('SET', KEYS[4], ARGV[2], 'EX', 86400) end
publish_event(KEYS[5], ARGV[7], ARGV[8])
return ARGV[3]
)lua"));
  std::string document_id = IdOf(document.name());
  redis_->Eval(kAdd,
               {DocumentKey(applicant_id, document_id), DocumentsKey(applicant_id),
                ApplicantKey(applicant_id), idempotency_key.empty() ? kNoKey : idempotency_key,
                kEventStream},
               {applicant_id, document_id, document.SerializeAsString(), document.etag(),
                Millis(FromProtoTime(document.create_time())), absl::StrCat(max_documents),
                event.type, event.serialized},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseProto<v1::Document>(*reply));
               });
}

void RedisApplicantStore::ListDocuments(const std::string& applicant_id,
                                        Done<std::vector<v1::Document>> done) {
  static const redis::Script kList(R"lua(
local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', 'app:doc:' .. ARGV[1] .. ':' .. id, 'record')
  if record then out[#out + 1] = record end
end
return out
)lua");
  redis_->Eval(kList, {DocumentsKey(applicant_id)}, {applicant_id},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 std::vector<v1::Document> documents;
                 for (const redis::Reply& r : reply->elements) {
                   absl::StatusOr<v1::Document> d = ParseProto<v1::Document>(r);
                   if (!d.ok()) return done(d.status());
                   documents.push_back(std::move(*d));
                 }
                 done(std::move(documents));
               });
}

void RedisApplicantStore::GetDocument(const std::string& applicant_id,
                                      const std::string& document_id, Done<v1::Document> done) {
  redis_->Command(
      {"HGET", DocumentKey(applicant_id, document_id), "record"},
      [applicant_id, document_id, done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        if (reply->is_nil()) {
          return done(ErrorWithInfo(
              absl::StatusCode::kNotFound,
              absl::StrCat("applicants/", applicant_id, "/documents/", document_id, " not found"),
              "DOCUMENT_NOT_FOUND", kDomain));
        }
        done(ParseProto<v1::Document>(*reply));
      });
}

void RedisApplicantStore::UpdateDocument(const std::string& applicant_id, const v1::Document& next,
                                         const std::string& expected_etag, const EventRecord& event,
                                         Done<v1::Document> done) {
  // KEYS: document, events. ARGV: expected etag, record, etag, event type, event.
  static const redis::Script kUpdate(WithPublish(R"lua(
local current = redis.call('HGET', KEYS[1], 'etag')
if not current then return redis.error_reply('NOT_FOUND DOCUMENT_NOT_FOUND document not found') end
if current ~= ARGV[1] then
  return redis.error_reply('ABORTED CONCURRENT_UPDATE the document changed meanwhile')
end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'etag', ARGV[3])
publish_event(KEYS[2], ARGV[4], ARGV[5])
return ARGV[2]
)lua"));
  redis_->Eval(kUpdate, {DocumentKey(applicant_id, IdOf(next.name())), kEventStream},
               {expected_etag, next.SerializeAsString(), next.etag(), event.type, event.serialized},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseProto<v1::Document>(*reply));
               });
}

// ---------------------------------------------------------------------------------------
// Applications

void RedisApplicantStore::CreateApplication(const NewApplication& application,
                                            Done<CreatedApplication> done) {
  // KEYS: 1 application, 2 live, 3 idempotency key, 4-8 indexes (all, applicant, session,
  //       rotation, site), 9 applicant's sites, 10 offer expiries, 11 events.
  // ARGV: 1 id, 2 record, 3 etag, 4 state, 5 applicant, 6 session, 7 rotation, 8 site,
  //       9 site zone, 10 created ms, 11 idempotency ttl s, 12 offer expiry ms or '',
  //       13 event type, 14 event.
  static const redis::Script kCreate(WithPublish(R"lua(
if KEYS[3] ~= 'app:-' then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then return {'existing', earlier} end
end
-- Ids derived from a request id (matched offers) exist after a retry.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'existing', ARGV[1]} end
local live = redis.call('HGET', KEYS[2], ARGV[6])
if live then
  return redis.error_reply('ALREADY_EXISTS DUPLICATE_APPLICATION applications/' .. live .. ' to this session is still open')
end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'etag', ARGV[3], 'state', ARGV[4],
           'applicant', ARGV[5], 'session', ARGV[6], 'rotation', ARGV[7], 'site', ARGV[8],
           'site_tz', ARGV[9])
redis.call('HSET', KEYS[2], ARGV[6], ARGV[1])
for i = 4, 8 do redis.call('ZADD', KEYS[i], ARGV[10], ARGV[1]) end
redis.call('SADD', KEYS[9], ARGV[8])
if ARGV[12] ~= '' then redis.call('ZADD', KEYS[10], ARGV[12], ARGV[1]) end
if KEYS[3] ~= 'app:-' then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[11]) end
publish_event(KEYS[11], ARGV[13], ARGV[14])
return {'created', ARGV[1]}
)lua"));
  const v1::Application& app = application.stored.application;
  std::string id = IdOf(app.name());
  std::string applicant_id = IdOf(app.applicant());
  // Waits even when the script finds the application already created (a retry after
  // UNAVAILABLE): WAIT then covers this connection's earlier writes, not necessarily that
  // creation, but at least the retry is not answered while no replica is keeping up.
  redis_->EvalAndWait(
      kCreate,
      {ApplicationKey(id), LiveKey(applicant_id),
       application.idempotency_key.empty() ? kNoKey : application.idempotency_key, "app:idx:all",
       absl::StrCat("app:idx:applicant:", applicant_id),
       absl::StrCat("app:idx:session:", app.session()),
       absl::StrCat("app:idx:rotation:", app.rotation()), absl::StrCat("app:idx:site:", app.site()),
       ApplicantSitesKey(applicant_id), kOfferExpiries, kEventStream},
      {id, app.SerializeAsString(), app.etag(), v1::Application::State_Name(app.state()),
       app.applicant(), app.session(), app.rotation(), app.site(),
       application.stored.site_time_zone, Millis(FromProtoTime(app.create_time())),
       Seconds(application.idempotency_ttl),
       application.offer_expire_time ? Millis(*application.offer_expire_time) : "",
       application.event.type, application.event.serialized},
      wait_replicas_, wait_timeout_,
      [this, stored = application.stored,
       done = std::move(done)](absl::StatusOr<redis::Reply> reply) mutable {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        if (!reply->is_array() || reply->elements.size() != 2) {
          return done(absl::DataLossError("unexpected reply creating an application"));
        }
        if (reply->elements[0].str == "created") {
          return done(CreatedApplication{true, std::move(stored)});
        }
        LoadApplication(
            reply->elements[1].str,
            [done = std::move(done)](absl::StatusOr<std::optional<StoredApplication>> existing) {
              if (!existing.ok()) return done(existing.status());
              if (!existing->has_value()) {
                return done(absl::DataLossError("remembered application is gone"));
              }
              done(CreatedApplication{false, std::move(**existing)});
            });
      });
}

void RedisApplicantStore::LoadApplication(const std::string& application_id,
                                          Done<std::optional<StoredApplication>> done) {
  static const redis::Script kGet(WithLoad(R"lua(
return load_application(ARGV[1])
)lua"));
  redis_->Eval(kGet, {ApplicationKey(application_id)}, {application_id},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (reply->is_nil()) return done(std::optional<StoredApplication>());
                 absl::StatusOr<StoredApplication> stored = ParseStoredApplication(*reply);
                 if (!stored.ok()) return done(stored.status());
                 done(std::optional<StoredApplication>(std::move(*stored)));
               });
}

void RedisApplicantStore::GetApplication(const std::string& application_id,
                                         Done<StoredApplication> done) {
  LoadApplication(application_id, [application_id, done = std::move(done)](
                                      absl::StatusOr<std::optional<StoredApplication>> found) {
    if (!found.ok()) return done(found.status());
    if (!found->has_value()) {
      return done(ErrorWithInfo(absl::StatusCode::kNotFound,
                                absl::StrCat("applications/", application_id, " not found"),
                                "APPLICATION_NOT_FOUND", kDomain));
    }
    done(std::move(**found));
  });
}

void RedisApplicantStore::FindApplicationByKey(const std::string& idempotency_key,
                                               Done<std::optional<StoredApplication>> done) {
  static const redis::Script kFind(WithLoad(R"lua(
local id = redis.call('GET', KEYS[1])
if not id then return false end
return load_application(id)
)lua"));
  redis_->Eval(kFind, {idempotency_key}, {},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (reply->is_nil()) return done(std::optional<StoredApplication>());
                 absl::StatusOr<StoredApplication> stored = ParseStoredApplication(*reply);
                 if (!stored.ok()) return done(stored.status());
                 done(std::optional<StoredApplication>(std::move(*stored)));
               });
}

void RedisApplicantStore::FindLiveApplication(const std::string& applicant_id,
                                              const std::string& session,
                                              Done<std::optional<StoredApplication>> done) {
  static const redis::Script kFind(WithLoad(R"lua(
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return load_application(id)
)lua"));
  redis_->Eval(kFind, {LiveKey(applicant_id)}, {session},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (reply->is_nil()) return done(std::optional<StoredApplication>());
                 absl::StatusOr<StoredApplication> stored = ParseStoredApplication(*reply);
                 if (!stored.ok()) return done(stored.status());
                 done(std::optional<StoredApplication>(std::move(*stored)));
               });
}

void RedisApplicantStore::WriteApplication(const ApplicationWrite& write,
                                           Done<StoredApplication> done) {
  // KEYS: 1 application, 2 live, 3 waitlist, 4 offer expiries, 5 releases, 6 experience,
  //       7 idempotency key, 8 events.
  // ARGV: 1 id, 2 expected etag, 3 record, 4 etag, 5 state, 6 session, 7 leaves live,
  //       8 waitlist op, 9 waitlist position, 10 offer op, 11 offer expiry ms,
  //       12 release due ms or '', 13 experience entry or '', 14 idempotency ttl s,
  //       15 event type or '', 16 event.
  static const redis::Script kWrite(WithPublish(R"lua(
-- The event is serialized before the script runs, but the waitlist position is only known
-- here. Protobuf merges repeated occurrences of a message field, so appending
-- Event.application_transitioned (field 20) holding only waitlist_position (field 16) sets
-- that one field of the payload.
local function varint(n)
  local out = {}
  repeat
    local byte = n % 128
    n = math.floor(n / 128)
    if n > 0 then byte = byte + 128 end
    out[#out + 1] = string.char(byte)
  until n == 0
  return table.concat(out)
end
local function waitlist_position_field(position)
  local inner = '\128\001' .. varint(position)
  return '\162\001' .. varint(#inner) .. inner
end

local current = redis.call('HGET', KEYS[1], 'etag')
if not current then
  return redis.error_reply('NOT_FOUND APPLICATION_NOT_FOUND applications/' .. ARGV[1] .. ' not found')
end
if current ~= ARGV[2] then
  return redis.error_reply('ABORTED CONCURRENT_UPDATE the application changed meanwhile')
end
redis.call('HSET', KEYS[1], 'record', ARGV[3], 'etag', ARGV[4], 'state', ARGV[5])
if ARGV[7] == '1' and redis.call('HGET', KEYS[2], ARGV[6]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[6])
end
local position = 0
if ARGV[8] ~= 'none' then
  redis.call('LREM', KEYS[3], 0, ARGV[1])
  if ARGV[8] == 'insert' then
    local wanted = tonumber(ARGV[9])
    local length = redis.call('LLEN', KEYS[3])
    if wanted == 0 or wanted > length then
      position = redis.call('RPUSH', KEYS[3], ARGV[1])
    else
      local pivot = redis.call('LINDEX', KEYS[3], wanted - 1)
      redis.call('LINSERT', KEYS[3], 'BEFORE', pivot, ARGV[1])
      position = wanted
    end
  end
elseif ARGV[5] == 'WAITLISTED' then
  local p = redis.call('LPOS', KEYS[3], ARGV[1])
  if p then position = p + 1 end
end
if ARGV[10] == 'remove' then
  redis.call('ZREM', KEYS[4], ARGV[1])
elseif ARGV[10] == 'set' then
  redis.call('ZADD', KEYS[4], ARGV[11], ARGV[1])
end
if ARGV[12] ~= '' then redis.call('ZADD', KEYS[5], ARGV[12], ARGV[1]) end
if ARGV[13] ~= '' then redis.call('HSET', KEYS[6], ARGV[1], ARGV[13]) end
if KEYS[7] ~= 'app:-' then redis.call('SET', KEYS[7], ARGV[1], 'EX', ARGV[14]) end
if ARGV[15] ~= '' then
  local event = ARGV[16]
  if position > 0 and ARGV[8] == 'insert' then event = event .. waitlist_position_field(position) end
  publish_event(KEYS[8], ARGV[15], event)
end
return {ARGV[3], position}
)lua"));
  const v1::Application& app = write.next.application;
  std::string id = IdOf(app.name());
  std::string applicant_id = IdOf(app.applicant());
  const char* waitlist_op = "none";
  if (write.waitlist == ApplicationWrite::WaitlistOp::kRemove) waitlist_op = "remove";
  if (write.waitlist == ApplicationWrite::WaitlistOp::kInsert) waitlist_op = "insert";
  const char* offer_op = "none";
  if (write.offer_schedule == ApplicationWrite::OfferScheduleOp::kRemove) offer_op = "remove";
  if (write.offer_schedule == ApplicationWrite::OfferScheduleOp::kSet) offer_op = "set";
  int wait_replicas = TouchesAcceptance(app) ? wait_replicas_ : 0;
  redis_->EvalAndWait(
      kWrite,
      {ApplicationKey(id), LiveKey(applicant_id), WaitlistKey(app.session()), kOfferExpiries,
       kReleases, ExperienceKey(applicant_id),
       write.idempotency_key.empty() ? kNoKey : write.idempotency_key, kEventStream},
      {id, write.expected_etag, app.SerializeAsString(), app.etag(),
       v1::Application::State_Name(app.state()), app.session(), write.leaves_live ? "1" : "0",
       waitlist_op, absl::StrCat(write.waitlist_position), offer_op,
       write.offer_schedule == ApplicationWrite::OfferScheduleOp::kSet
           ? Millis(write.offer_expire_time)
           : "0",
       write.release_due ? Millis(*write.release_due) : "",
       write.experience ? write.experience->SerializeAsString() : "",
       Seconds(write.idempotency_ttl), write.event ? write.event->type : "",
       write.event ? write.event->serialized : ""},
      wait_replicas, wait_timeout_,
      [next = write.next, done = std::move(done)](absl::StatusOr<redis::Reply> reply) mutable {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        if (!reply->is_array() || reply->elements.size() != 2) {
          return done(absl::DataLossError("unexpected reply writing an application"));
        }
        absl::StatusOr<int64_t> position = reply->elements[1].AsInteger();
        next.application.set_waitlist_position(position.ok() ? static_cast<int32_t>(*position) : 0);
        done(std::move(next));
      });
}

void RedisApplicantStore::ListApplications(const ApplicationQuery& query,
                                           Done<ApplicationPage> done) {
  // Walks one index in order from the cursor, keeping entries that match every filter, until
  // the page is full plus one (to know whether more follow) or the scan budget is spent (then
  // the page may be short, and continues after the last entry looked at).
  // KEYS: index (zset, or the session's waitlist list).
  // ARGV: 1 order ('desc', 'asc', 'list'), 2 after, 3 page size, 4 applicant, 5 session,
  //       6 rotation, 7 site, 8 state, 9 scan budget.
  static const redis::Script kList(WithLoad(R"lua(
local key, order = KEYS[1], ARGV[1]
local page, budget = tonumber(ARGV[3]), tonumber(ARGV[9])
local start = 0
if ARGV[2] ~= '' then
  if order == 'list' then
    start = tonumber(ARGV[2])
  else
    local rank
    if order == 'desc' then rank = redis.call('ZREVRANK', key, ARGV[2])
    else rank = redis.call('ZRANK', key, ARGV[2]) end
    if not rank then
      return redis.error_reply('INVALID_ARGUMENT INVALID_PAGE_TOKEN page_token does not belong to this listing')
    end
    start = rank + 1
  end
end
local wanted = {ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]}
local matches, scanned, exhausted, extra = {}, 0, false, false
-- Position after the last entry looked at for this page; the next page starts there.
local cursor = ''
while not extra and scanned < budget do
  local chunk = math.min(100, budget - scanned)
  local ids
  if order == 'list' then ids = redis.call('LRANGE', key, start, start + chunk - 1)
  elseif order == 'desc' then ids = redis.call('ZREVRANGE', key, start, start + chunk - 1)
  else ids = redis.call('ZRANGE', key, start, start + chunk - 1) end
  for _, id in ipairs(ids) do
    local v = redis.call('HMGET', 'app:application:' .. id, 'applicant', 'session', 'rotation', 'site', 'state')
    local ok = v[1] ~= false
    for i = 1, 5 do
      if ok and wanted[i] ~= '' and v[i] ~= wanted[i] then ok = false end
    end
    if ok and #matches == page then
      extra = true
      break
    end
    scanned = scanned + 1
    start = start + 1
    if ok then matches[#matches + 1] = id end
    if order == 'list' then cursor = tostring(start) else cursor = id end
  end
  if not extra and #ids < chunk then
    exhausted = true
    break
  end
end
local more = extra or not exhausted
local out = {more and cursor or ''}
for _, id in ipairs(matches) do
  local a = load_application(id)
  if a then out[#out + 1] = a end
end
return out
)lua"));
  std::string key;
  const char* order = "desc";
  if (query.order == ApplicationQuery::Order::kWaitlist) {
    key = WaitlistKey(query.session);
    order = "list";
  } else {
    if (query.order == ApplicationQuery::Order::kOldestFirst) order = "asc";
    // The most selective index that the filters allow.
    if (!query.session.empty()) {
      key = absl::StrCat("app:idx:session:", query.session);
    } else if (!query.applicant.empty()) {
      key = absl::StrCat("app:idx:applicant:", IdOf(query.applicant));
    } else if (!query.rotation.empty()) {
      key = absl::StrCat("app:idx:rotation:", query.rotation);
    } else if (!query.site.empty()) {
      key = absl::StrCat("app:idx:site:", query.site);
    } else {
      key = "app:idx:all";
    }
  }
  redis_->Eval(kList, {key},
               {order, query.after, absl::StrCat(query.limit), query.applicant, query.session,
                query.rotation, query.site, query.state, "2000"},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (!reply->is_array() || reply->elements.empty()) {
                   return done(absl::DataLossError("unexpected reply listing applications"));
                 }
                 ApplicationPage page;
                 page.next = reply->elements[0].str;
                 for (size_t i = 1; i < reply->elements.size(); ++i) {
                   absl::StatusOr<StoredApplication> a = ParseStoredApplication(reply->elements[i]);
                   if (!a.ok()) return done(a.status());
                   page.applications.push_back(std::move(*a));
                 }
                 done(std::move(page));
               });
}

// ---------------------------------------------------------------------------------------
// Experience

void RedisApplicantStore::ListExperience(const std::string& applicant_id,
                                         Done<std::vector<v1::ExperienceEntry>> done) {
  redis_->Command({"HVALS", ExperienceKey(applicant_id)},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    std::vector<v1::ExperienceEntry> entries;
                    for (const redis::Reply& r : reply->elements) {
                      absl::StatusOr<v1::ExperienceEntry> e = ParseProto<v1::ExperienceEntry>(r);
                      if (!e.ok()) return done(e.status());
                      entries.push_back(std::move(*e));
                    }
                    done(std::move(entries));
                  });
}

void RedisApplicantStore::GetExperience(const std::string& applicant_id,
                                        const std::string& application_id,
                                        Done<std::optional<v1::ExperienceEntry>> done) {
  redis_->Command({"HGET", ExperienceKey(applicant_id), application_id},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    if (reply->is_nil()) return done(std::optional<v1::ExperienceEntry>());
                    absl::StatusOr<v1::ExperienceEntry> e = ParseProto<v1::ExperienceEntry>(*reply);
                    if (!e.ok()) return done(e.status());
                    done(std::optional<v1::ExperienceEntry>(std::move(*e)));
                  });
}

// ---------------------------------------------------------------------------------------
// Schedules

void RedisApplicantStore::Claim(const char* key, absl::Time now, absl::Duration lease, int limit,
                                Done<std::vector<std::string>> done) {
  // KEYS: schedule. ARGV: now ms, lease end ms, limit.
  static const redis::Script kClaim(R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return due
)lua");
  redis_->Eval(kClaim, {key}, {Millis(now), Millis(now + lease), absl::StrCat(limit)},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseStrings(*reply));
               });
}

void RedisApplicantStore::ClaimDueOfferExpiries(absl::Time now, absl::Duration lease, int limit,
                                                Done<std::vector<std::string>> done) {
  Claim(kOfferExpiries, now, lease, limit, std::move(done));
}

void RedisApplicantStore::ClaimDueReleases(absl::Time now, absl::Duration lease, int limit,
                                           Done<std::vector<std::string>> done) {
  Claim(kReleases, now, lease, limit, std::move(done));
}

void RedisApplicantStore::ScheduleOfferExpiry(const std::string& application_id, absl::Time at,
                                              Done<bool> done) {
  redis_->Command({"ZADD", kOfferExpiries, Millis(at), application_id},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    done(true);
                  });
}

void RedisApplicantStore::UnscheduleOfferExpiry(const std::string& application_id,
                                                Done<bool> done) {
  redis_->Command({"ZREM", kOfferExpiries, application_id},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    done(reply->integer == 1);
                  });
}

void RedisApplicantStore::FinishRelease(const std::string& application_id, Done<bool> done) {
  redis_->Command({"ZREM", kReleases, application_id},
                  [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    done(reply->integer == 1);
                  });
}

}  // namespace clerkship::applicant

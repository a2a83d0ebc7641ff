#include "services/matching/redis_round_store.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "common/events/events.h"
#include "common/status/status.h"
#include "common/util/ids.h"

namespace clerkship::matching {
namespace {

constexpr char kDomain[] = "clerkship.matching";
constexpr int kChunk = 2000;

// KEYS layout shared by the round scripts.
std::vector<std::string> RoundKeys(const std::string& id,
                                   std::vector<std::string> extra = {}) {
  std::string base = absl::StrCat("mat:round:", id);
  std::vector<std::string> keys = {base, base + ":sessions",
                                   base + ":ranklists", base + ":rankings",
                                   base + ":fill"};
  for (std::string& k : extra) keys.push_back(std::move(k));
  return keys;
}

std::string Base(const std::string& id) {
  return absl::StrCat("mat:round:", id);
}

// Helpers every round script starts with.
constexpr char kPrelude[] = R"lua(
local function etag_of(version)
  return string.sub(redis.sha1hex(KEYS[1] .. ':' .. tostring(version)), 1, 16)
end
local function view()
  local r = redis.call('HMGET', KEYS[1], 'record', 'version')
  return {r[1], etag_of(r[2]), redis.call('HLEN', KEYS[3]), redis.call('HLEN', KEYS[4])}
end
local function not_found()
  return redis.error_reply('NOT_FOUND ROUND_NOT_FOUND the round does not exist')
end
)lua";

redis::Script MakeScript(const char* body) {
  return redis::Script(absl::StrCat(kPrelude, body));
}

absl::Status ReplyStatus(const absl::StatusOr<redis::Reply>& reply) {
  return redis::ScriptStatus(reply, kDomain);
}

int64_t ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }

v1::Round::State ParseState(const std::string& s) {
  if (s == "OPEN") return v1::Round::OPEN;
  if (s == "RUN") return v1::Round::RUN;
  if (s == "PUBLISHED") return v1::Round::PUBLISHED;
  return v1::Round::STATE_UNSPECIFIED;
}

// {record, etag, rank lists, rankings [, sessions, fill]} → Round.
absl::StatusOr<v1::Round> ParseView(const redis::Reply& reply) {
  if (!reply.is_array() || reply.elements.size() < 4 ||
      reply.elements[0].type != redis::Reply::Type::kString) {
    return absl::DataLossError("stored round is unreadable");
  }
  v1::Round round;
  if (!round.ParseFromString(reply.elements[0].str)) {
    return absl::DataLossError("stored round is unreadable");
  }
  round.set_etag(reply.elements[1].str);
  round.set_rank_list_count(static_cast<int32_t>(reply.elements[2].integer));
  round.set_session_ranking_count(
      static_cast<int32_t>(reply.elements[3].integer));
  if (reply.elements.size() >= 6) {
    std::vector<std::string> sessions;
    for (const redis::Reply& s : reply.elements[4].elements)
      sessions.push_back(s.str);
    std::sort(sessions.begin(), sessions.end());
    for (std::string& s : sessions) round.add_sessions(std::move(s));
    if (reply.elements[5].type == redis::Reply::Type::kString) {
      v1::RoundStats fill;
      if (fill.ParseFromString(reply.elements[5].str)) {
        *round.mutable_stats()->mutable_session_fill() = fill.session_fill();
      }
    }
  }
  return round;
}

std::vector<std::string> SplitList(const std::string& joined) {
  if (joined.empty()) return {};
  return absl::StrSplit(joined, '\n');
}

}  // namespace

void RedisRoundStore::CreateRound(const v1::Round& round,
                                  const std::string& request_id,
                                  StoreDone<v1::Round> done) {
  static const redis::Script kCreate = MakeScript(R"lua(
if ARGV[5] == '1' then
  local earlier = redis.call('GET', KEYS[6])
  if earlier then return {'existing', earlier} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ALREADY_EXISTS ROUND_EXISTS the round id is already in use')
end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'state', 'OPEN', 'deadline_ms', ARGV[3],
           'max_ranks', ARGV[4], 'closed', '0', 'version', '1')
local batch = {}
for i = 6, #ARGV do
  batch[#batch + 1] = ARGV[i]
  if #batch == 1000 then
    redis.call('SADD', KEYS[2], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('SADD', KEYS[2], unpack(batch)) end
redis.call('ZADD', KEYS[7], 0, ARGV[1])
if ARGV[5] == '1' then redis.call('SET', KEYS[6], ARGV[1], 'EX', 86400) end
return {'created', ARGV[1]}
)lua");
  const std::string id = round.name().substr(sizeof("rounds/") - 1);
  v1::Round record = round;
  record.clear_sessions();
  std::vector<std::string> args = {
      id, record.SerializeAsString(),
      absl::StrCat(ToMillis(FromProtoTime(round.rank_deadline()))),
      absl::StrCat(round.max_ranks_per_applicant()),
      request_id.empty() ? "0" : "1"};
  for (const std::string& s : round.sessions()) args.push_back(s);
  redis_->Eval(
      kCreate,
      RoundKeys(
          id, {request_id.empty() ? "mat:idem:round:-"
                                  : absl::StrCat("mat:idem:round:", request_id),
               "mat:rounds"}),
      std::move(args),
      [this, done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
        absl::Status s = ReplyStatus(reply);
        if (!s.ok()) return done(s);
        if (!reply->is_array() || reply->elements.size() != 2) {
          return done(absl::InternalError("unexpected reply"));
        }
        // Created or found: read it back in the BASIC view.
        GetRound(reply->elements[1].str, false, done);
      });
}

void RedisRoundStore::GetRound(const std::string& id, bool full,
                               StoreDone<v1::Round> done) {
  static const redis::Script kGet = MakeScript(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return not_found() end
local out = view()
if ARGV[1] == '1' then
  out[5] = redis.call('SMEMBERS', KEYS[2])
  out[6] = redis.call('GET', KEYS[5])
end
return out
)lua");
  redis_->Eval(kGet, RoundKeys(id), {full ? "1" : "0"},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseView(*reply));
               });
}

void RedisRoundStore::GetControl(const std::string& id,
                                 const std::vector<std::string>& sessions,
                                 StoreDone<RoundControl> done) {
  static const redis::Script kControl = MakeScript(R"lua(
local r = redis.call('HMGET', KEYS[1], 'state', 'deadline_ms', 'max_ranks', 'closed')
if not r[1] then return not_found() end
local member = {}
for i = 1, #ARGV do member[i] = redis.call('SISMEMBER', KEYS[2], ARGV[i]) end
return {r[1], r[2], r[3], r[4], member}
)lua");
  redis_->Eval(kControl, RoundKeys(id), sessions,
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (!reply->is_array() || reply->elements.size() != 5) {
                   return done(absl::InternalError("unexpected reply"));
                 }
                 RoundControl control;
                 const auto& e = reply->elements;
                 control.state = ParseState(e[0].str);
                 control.rank_deadline =
                     absl::FromUnixMillis(e[1].AsInteger().value_or(0));
                 control.max_ranks =
                     static_cast<int32_t>(e[2].AsInteger().value_or(0));
                 control.ranking_closed = e[3].str == "1";
                 for (const redis::Reply& m : e[4].elements)
                   control.in_round.push_back(m.integer == 1);
                 done(control);
               });
}

namespace {

const redis::Script& StoreListScript() {
  // KEYS[6]: the hash to write. ARGV: field, joined list ('' removes), now in
  // ms.
  static const redis::Script kStore = MakeScript(R"lua(
local r = redis.call('HMGET', KEYS[1], 'state', 'deadline_ms', 'closed')
if not r[1] then return not_found() end
if r[1] ~= 'OPEN' or r[3] == '1' or tonumber(ARGV[3]) >= tonumber(r[2]) then
  return redis.error_reply('FAILED_PRECONDITION RANKING_CLOSED ranking is closed for this round')
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[6], ARGV[1])
else
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[2])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1
)lua");
  return kStore;
}

}  // namespace

void RedisRoundStore::StoreRankList(const std::string& id,
                                    const std::string& applicant,
                                    const std::vector<std::string>& sessions,
                                    absl::Time now, StoreStatusDone done) {
  redis_->Eval(
      StoreListScript(), RoundKeys(id, {Base(id) + ":ranklists"}),
      {applicant, absl::StrJoin(sessions, "\n"), absl::StrCat(ToMillis(now))},
      [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
        done(ReplyStatus(reply));
      });
}

void RedisRoundStore::StoreSessionRanking(
    const std::string& id, const std::string& session,
    const std::vector<std::string>& applicants, absl::Time now,
    StoreStatusDone done) {
  redis_->Eval(
      StoreListScript(), RoundKeys(id, {Base(id) + ":rankings"}),
      {session, absl::StrJoin(applicants, "\n"), absl::StrCat(ToMillis(now))},
      [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
        done(ReplyStatus(reply));
      });
}

void RedisRoundStore::ListResults(const std::string& id,
                                  const ResultFilter& filter,
                                  StoreDone<ResultPage> done) {
  // KEYS[6] results, KEYS[7] result_order, KEYS[8] result_by_session.
  // ARGV: mode (applicant|session|all), filter value, after, limit.
  static const redis::Script kList = MakeScript(R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return not_found() end
if state == 'OPEN' then return {state, 0, {}} end
local limit = tonumber(ARGV[4])
local names = {}
local total = 0
if ARGV[1] == 'applicant' then
  if redis.call('HEXISTS', KEYS[6], ARGV[2]) == 1 then
    names = {ARGV[2]}
    total = 1
  end
elseif ARGV[1] == 'session' then
  local prefix = ARGV[2] .. ' '
  local stop = '(' .. ARGV[2] .. '!'
  total = redis.call('ZLEXCOUNT', KEYS[8], '[' .. prefix, stop)
  local start = '[' .. prefix
  if ARGV[3] ~= '' then start = '(' .. prefix .. ARGV[3] end
  local members = redis.call('ZRANGEBYLEX', KEYS[8], start, stop, 'LIMIT', 0, limit + 1)
  for i, m in ipairs(members) do names[i] = string.sub(m, #prefix + 1) end
else
  total = redis.call('ZCARD', KEYS[7])
  local start = '-'
  if ARGV[3] ~= '' then start = '(' .. ARGV[3] end
  names = redis.call('ZRANGEBYLEX', KEYS[7], start, '+', 'LIMIT', 0, limit + 1)
end
local records = {}
if #names > 0 then records = redis.call('HMGET', KEYS[6], unpack(names)) end
return {state, total, records}
)lua");
  std::string mode = !filter.applicant.empty() ? "applicant"
                     : !filter.session.empty() ? "session"
                                               : "all";
  std::string value =
      !filter.applicant.empty() ? filter.applicant : filter.session;
  const int limit = filter.limit;
  const std::string session_filter = filter.session;
  const bool by_applicant = !filter.applicant.empty();
  redis_->Eval(kList,
               RoundKeys(id, {Base(id) + ":results", Base(id) + ":result_order",
                              Base(id) + ":result_by_session"}),
               {mode, value, filter.after, absl::StrCat(limit)},
               [done = std::move(done), limit, session_filter,
                by_applicant](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 if (!reply->is_array() || reply->elements.size() != 3) {
                   return done(absl::InternalError("unexpected reply"));
                 }
                 ResultPage page;
                 page.state = ParseState(reply->elements[0].str);
                 page.total = static_cast<int32_t>(reply->elements[1].integer);
                 for (const redis::Reply& r : reply->elements[2].elements) {
                   if (r.type != redis::Reply::Type::kString) continue;
                   v1::RoundResult result;
                   if (!result.ParseFromString(r.str))
                     return done(absl::DataLossError("unreadable result"));
                   page.results.push_back(std::move(result));
                 }
                 if (by_applicant && !session_filter.empty() &&
                     !page.results.empty() &&
                     page.results[0].session() != session_filter) {
                   page.results.clear();
                   page.total = 0;
                 }
                 if (static_cast<int>(page.results.size()) > limit) {
                   page.results.resize(limit);
                   page.more = true;
                 }
                 done(std::move(page));
               });
}

absl::StatusOr<v1::Round> RedisRoundStore::CloseRanking(
    const std::string& id, const std::string& etag) {
  static const redis::Script kClose = MakeScript(R"lua(
local r = redis.call('HMGET', KEYS[1], 'state', 'version')
if not r[1] then return not_found() end
if ARGV[1] ~= '' and ARGV[1] ~= etag_of(r[2]) then
  return redis.error_reply('ABORTED ETAG_MISMATCH the round has changed since it was read')
end
if r[1] ~= 'OPEN' then
  return redis.error_reply('FAILED_PRECONDITION ROUND_NOT_OPEN the round is ' .. r[1] .. ', not OPEN')
end
redis.call('HSET', KEYS[1], 'closed', '1')
return view()
)lua");
  auto reply = redis_->EvalSync(kClose, RoundKeys(id), {etag});
  if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
  return ParseView(*reply);
}

absl::Status RedisRoundStore::RunPipelined(
    std::vector<std::vector<std::string>> commands) {
  if (commands.empty()) return absl::OkStatus();
  absl::BlockingCounter pending(static_cast<int>(commands.size()));
  absl::Mutex mu;
  absl::Status first_error;
  for (auto& command : commands) {
    redis_->Command(std::move(command),
                    [&](absl::StatusOr<redis::Reply> reply) {
                      absl::Status s = ReplyStatus(reply);
                      if (!s.ok()) {
                        absl::MutexLock lock(&mu);
                        if (first_error.ok()) first_error = s;
                      }
                      pending.DecrementCount();
                    });
  }
  pending.Wait();
  absl::MutexLock lock(&mu);
  return first_error;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
RedisRoundStore::ScanHash(const std::string& key) {
  // HSCAN in slices rather than one HGETALL: a national round's rank lists are
  // ~20 MB, and one reply that large would hold up everything else queued on
  // the connection.
  std::map<std::string, std::string>
      fields;  // HSCAN may repeat a field; keep one
  std::string cursor = "0";
  do {
    auto reply = redis_->CommandSync(
        {"HSCAN", key, cursor, "COUNT", absl::StrCat(kChunk)});
    if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
    if (!reply->is_array() || reply->elements.size() != 2) {
      return absl::InternalError("unexpected HSCAN reply");
    }
    cursor = reply->elements[0].str;
    const auto& items = reply->elements[1].elements;
    for (size_t i = 0; i + 1 < items.size(); i += 2)
      fields[items[i].str] = items[i + 1].str;
  } while (cursor != "0");
  return std::vector<std::pair<std::string, std::string>>(fields.begin(),
                                                          fields.end());
}

absl::StatusOr<StoredRoundInputs> RedisRoundStore::LoadInputs(
    const std::string& id) {
  const std::string base = Base(id);
  StoredRoundInputs inputs;
  auto record = redis_->CommandSync({"HGET", base, "record"});
  if (absl::Status s = ReplyStatus(record); !s.ok()) return s;
  if (record->is_nil()) return absl::NotFoundError("the round does not exist");
  if (!inputs.round.ParseFromString(record->str)) {
    return absl::DataLossError("stored round is unreadable");
  }
  auto sessions = redis_->CommandSync({"SMEMBERS", base + ":sessions"});
  if (absl::Status s = ReplyStatus(sessions); !s.ok()) return s;
  for (const redis::Reply& s : sessions->elements)
    inputs.sessions.push_back(s.str);
  std::sort(inputs.sessions.begin(), inputs.sessions.end());

  auto rank_lists = ScanHash(base + ":ranklists");
  if (!rank_lists.ok()) return rank_lists.status();
  for (auto& [applicant, joined] : *rank_lists) {
    inputs.rank_lists.emplace_back(applicant, SplitList(joined));
  }
  auto rankings = ScanHash(base + ":rankings");
  if (!rankings.ok()) return rankings.status();
  for (auto& [session, joined] : *rankings)
    inputs.rankings.emplace_back(session, SplitList(joined));
  auto capacities = ScanHash(base + ":capacity");
  if (!capacities.ok()) return capacities.status();
  for (auto& [session, value] : *capacities) {
    int32_t capacity = 0;
    if (!absl::SimpleAtoi(value, &capacity))
      return absl::DataLossError("unreadable capacity");
    inputs.capacities.emplace_back(session, capacity);
  }
  return inputs;
}

absl::Status RedisRoundStore::StoreResults(
    const std::string& id,
    const std::vector<std::pair<std::string, int32_t>>& capacities,
    const std::vector<v1::RoundResult>& results) {
  const std::string base = Base(id);
  // A previous attempt may have left part of a result set behind: start clean.
  if (absl::Status s =
          RunPipelined({{"DEL", base + ":capacity", base + ":results",
                         base + ":result_order", base + ":result_by_session"}});
      !s.ok()) {
    return s;
  }
  std::vector<std::vector<std::string>> commands;
  for (size_t i = 0; i < capacities.size(); i += kChunk) {
    std::vector<std::string> hset = {"HSET", base + ":capacity"};
    for (size_t j = i; j < std::min(capacities.size(), i + kChunk); ++j) {
      hset.push_back(capacities[j].first);
      hset.push_back(absl::StrCat(capacities[j].second));
    }
    commands.push_back(std::move(hset));
  }
  for (size_t i = 0; i < results.size(); i += kChunk) {
    std::vector<std::string> hset = {"HSET", base + ":results"};
    std::vector<std::string> order = {"ZADD", base + ":result_order"};
    std::vector<std::string> by_session = {"ZADD", base + ":result_by_session"};
    for (size_t j = i; j < std::min(results.size(), i + kChunk); ++j) {
      const v1::RoundResult& r = results[j];
      hset.push_back(r.applicant());
      hset.push_back(r.SerializeAsString());
      order.push_back("0");
      order.push_back(r.applicant());
      if (!r.session().empty()) {
        by_session.push_back("0");
        by_session.push_back(absl::StrCat(r.session(), " ", r.applicant()));
      }
    }
    commands.push_back(std::move(hset));
    commands.push_back(std::move(order));
    if (by_session.size() > 2) commands.push_back(std::move(by_session));
  }
  return RunPipelined(std::move(commands));
}

absl::StatusOr<v1::Round> RedisRoundStore::CommitRun(
    const std::string& id, const v1::Round& record,
    const v1::RoundStats& fill) {
  static const redis::Script kCommit = MakeScript(R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return not_found() end
if state ~= 'OPEN' then
  return redis.error_reply('FAILED_PRECONDITION ROUND_NOT_OPEN the round is ' .. state .. ', not OPEN')
end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'state', 'RUN')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SET', KEYS[5], ARGV[2])
return view()
)lua");
  auto reply =
      redis_->EvalSync(kCommit, RoundKeys(id),
                       {record.SerializeAsString(), fill.SerializeAsString()});
  if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
  return ParseView(*reply);
}

absl::StatusOr<std::vector<v1::RoundResult>> RedisRoundStore::LoadResults(
    const std::string& id) {
  auto stored = ScanHash(Base(id) + ":results");
  if (!stored.ok()) return stored.status();
  std::vector<v1::RoundResult> results;
  results.reserve(stored->size());
  for (const auto& [applicant, bytes] : *stored) {
    v1::RoundResult r;
    if (!r.ParseFromString(bytes))
      return absl::DataLossError("stored result is unreadable");
    results.push_back(std::move(r));
  }
  return results;  // ScanHash orders by applicant
}

absl::Status RedisRoundStore::UpdateResults(
    const std::string& id, const std::vector<v1::RoundResult>& results) {
  std::vector<std::vector<std::string>> commands;
  for (size_t i = 0; i < results.size(); i += kChunk) {
    std::vector<std::string> hset = {"HSET", Base(id) + ":results"};
    for (size_t j = i; j < std::min(results.size(), i + kChunk); ++j) {
      hset.push_back(results[j].applicant());
      hset.push_back(results[j].SerializeAsString());
    }
    commands.push_back(std::move(hset));
  }
  return RunPipelined(std::move(commands));
}

absl::StatusOr<v1::Round> RedisRoundStore::CommitPublish(
    const std::string& id, const v1::Round& record, const std::string& event) {
  static const redis::Script kPublish(
      absl::StrCat(events::kLuaPublish, kPrelude, R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return not_found() end
if state == 'OPEN' then
  return redis.error_reply('FAILED_PRECONDITION ROUND_NOT_RUN the round has not been run yet')
end
if state == 'RUN' then
  redis.call('HSET', KEYS[1], 'record', ARGV[1], 'state', 'PUBLISHED')
  publish_event(KEYS[6], 'round.published', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return view()
)lua"));
  auto reply = redis_->EvalSync(kPublish, RoundKeys(id, {"mat:events"}),
                                {record.SerializeAsString(), event});
  if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
  return ParseView(*reply);
}

absl::StatusOr<RedisPromotionClaims::Claim> RedisPromotionClaims::Acquire(
    const std::string& event_id, const std::string& consumer) {
  static const redis::Script kAcquire(R"lua(
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, 5) == 'done ' then return 'done' end
  if current ~= 'pending ' .. ARGV[1] then return 'other' end
end
redis.call('SET', KEYS[1], 'pending ' .. ARGV[1], 'PX', ARGV[2])
return 'claimed'
)lua");
  auto reply = redis_->EvalSync(
      kAcquire, {absl::StrCat("mat:promoted:", event_id)},
      {consumer, absl::StrCat(absl::ToInt64Milliseconds(lease_))});
  if (absl::Status s = redis::ScriptStatus(reply, kDomain); !s.ok()) return s;
  if (reply->str == "done") return Claim::kAlreadyDone;
  if (reply->str == "other") return Claim::kHeldByOther;
  return Claim::kClaimed;
}

absl::Status RedisPromotionClaims::Finish(const std::string& event_id,
                                          const std::string& consumer,
                                          const std::string& outcome) {
  static const redis::Script kFinish(R"lua(
local current = redis.call('GET', KEYS[1])
if current and current ~= 'pending ' .. ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'done ' .. ARGV[2], 'PX', ARGV[3])
return 1
)lua");
  auto reply = redis_->EvalSync(
      kFinish, {absl::StrCat("mat:promoted:", event_id)},
      {consumer, outcome, absl::StrCat(absl::ToInt64Milliseconds(retention_))});
  return redis::ScriptStatus(reply, kDomain);
}

absl::Status RedisPromotionClaims::Release(const std::string& event_id,
                                           const std::string& consumer) {
  static const redis::Script kRelease(R"lua(
if redis.call('GET', KEYS[1]) == 'pending ' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)lua");
  auto reply = redis_->EvalSync(
      kRelease, {absl::StrCat("mat:promoted:", event_id)}, {consumer});
  return redis::ScriptStatus(reply, kDomain);
}

}  // namespace clerkship::matching

#include "common/events/events.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/logging/log.h"

namespace clerkship::events {

const char kLuaPublish[] = R"lua(
local function publish_event(stream, event_type, payload)
  return redis.call('XADD', stream, 'MAXLEN', '~', 1000000, '*', 'type', event_type, 'event', payload)
end
)lua";

std::string NewUuid() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff,
                         hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

clerkship::events::v1::Event NewEvent(const std::string& source, const std::string& type,
                                      const std::string& subject, const std::string& actor) {
  clerkship::events::v1::Event e;
  e.set_id(NewUuid());
  e.set_type(type);
  e.set_source(source);
  e.set_subject(subject);
  e.set_actor(actor);
  absl::Time now = absl::Now();
  int64_t nanos = absl::ToUnixNanos(now);
  e.mutable_time()->set_seconds(nanos / 1000000000);
  e.mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return e;
}

std::vector<StreamEntry> ParseEntries(const redis::Reply& entries) {
  std::vector<StreamEntry> out;
  if (!entries.is_array()) return out;
  for (const redis::Reply& e : entries.elements) {
    // XAUTOCLAIM lists deleted entries as nil; skip them.
    if (!e.is_array() || e.elements.size() != 2 || !e.elements[1].is_array()) continue;
    StreamEntry entry;
    entry.id = e.elements[0].str;
    const auto& fields = e.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "type") entry.type = fields[i + 1].str;
      if (fields[i].str == "event") entry.data = fields[i + 1].str;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

StreamConsumer::StreamConsumer(redis::ClientOptions redis_options, ConsumerOptions options,
                               Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  redis_options.connections = 1;
  // The blocking read must not trip the per-command deadline.
  redis_options.command_timeout =
      std::max(redis_options.command_timeout, options_.block + absl::Seconds(2));
  redis_ = redis::Client::Create(std::move(redis_options));
}

StreamConsumer::~StreamConsumer() { Stop(); }

void StreamConsumer::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    absl::Duration backoff = absl::Milliseconds(100);
    while (!stop_) {
      absl::StatusOr<int> handled = PollOnce(options_.block);
      if (!handled.ok()) {
        log::Warning("event consumer pass failed",
                     {{"stream", options_.stream}, {"error", std::string(handled.status().message())}});
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(2));
      } else {
        backoff = absl::Milliseconds(100);
      }
    }
  });
}

void StreamConsumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::Status StreamConsumer::EnsureGroup() {
  if (group_ready_) return absl::OkStatus();
  auto r = redis_->CommandSync(
      {"XGROUP", "CREATE", options_.stream, options_.group, options_.start_id, "MKSTREAM"});
  if (!r.ok()) return r.status();
  if (r->is_error() && r->str.rfind("BUSYGROUP", 0) != 0) return redis::ErrorReplyStatus(*r);
  group_ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<int> StreamConsumer::PollOnce(absl::Duration block) {
  if (!redis_->healthy() && !redis_->WaitHealthy(absl::Seconds(1))) {
    return absl::UnavailableError("redis is unavailable");
  }
  if (absl::Status s = EnsureGroup(); !s.ok()) return s;
  int handled = 0;
  if (absl::Now() - last_claim_ >= options_.claim_interval) {
    absl::StatusOr<int> claimed = Reclaim();
    if (!claimed.ok()) return claimed.status();
    handled += *claimed;
    last_claim_ = absl::Now();
  }
  std::vector<std::string> cmd = {"XREADGROUP", "GROUP", options_.group, options_.consumer,
                                  "COUNT", absl::StrCat(options_.batch_size)};
  if (block > absl::ZeroDuration()) {
    cmd.push_back("BLOCK");
    cmd.push_back(absl::StrCat(absl::ToInt64Milliseconds(block)));
  }
  cmd.insert(cmd.end(), {"STREAMS", options_.stream, ">"});
  auto r = redis_->CommandSync(std::move(cmd));
  if (!r.ok()) return r.status();
  if (r->is_error()) {
    if (r->str.rfind("NOGROUP", 0) == 0) group_ready_ = false;  // stream deleted under us
    return redis::ErrorReplyStatus(*r);
  }
  if (r->is_nil() || !r->is_array() || r->elements.empty()) return handled;
  // [[stream, [entries...]]]
  const redis::Reply& stream = r->elements[0];
  if (!stream.is_array() || stream.elements.size() != 2) return handled;
  absl::StatusOr<int> n = Handle(ParseEntries(stream.elements[1]));
  if (!n.ok()) return n.status();
  return handled + *n;
}

absl::StatusOr<int> StreamConsumer::Reclaim() {
  auto r = redis_->CommandSync({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                                absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle)),
                                "0-0", "COUNT", absl::StrCat(options_.batch_size)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return redis::ErrorReplyStatus(*r);
  if (!r->is_array() || r->elements.size() < 2) return 0;
  std::vector<StreamEntry> entries = ParseEntries(r->elements[1]);
  if (entries.empty()) return 0;
  // Delivery counts of what we just claimed.
  auto pending = redis_->CommandSync({"XPENDING", options_.stream, options_.group,
                                      entries.front().id, entries.back().id,
                                      absl::StrCat(entries.size() * 2), options_.consumer});
  if (pending.ok() && pending->is_array()) {
    std::map<std::string, int64_t> counts;
    for (const redis::Reply& p : pending->elements) {
      if (p.is_array() && p.elements.size() == 4) counts[p.elements[0].str] = p.elements[3].integer;
    }
    for (StreamEntry& e : entries) {
      auto it = counts.find(e.id);
      if (it != counts.end()) e.deliveries = it->second;
    }
  }
  return Handle(std::move(entries));
}

absl::StatusOr<int> StreamConsumer::Handle(std::vector<StreamEntry> entries) {
  int handled = 0;
  for (const StreamEntry& entry : entries) {
    if (entry.deliveries > options_.max_deliveries) {
      std::string error;
      {
        absl::MutexLock lock(&errors_mu_);
        auto it = last_errors_.find(entry.id);
        error = it == last_errors_.end() ? "failed on another consumer" : it->second;
        last_errors_.erase(entry.id);
      }
      if (absl::Status s = DeadLetter(entry, error); !s.ok()) return s;
      continue;
    }
    absl::Status s = handler_(entry);
    if (!s.ok()) {
      log::Warning("event handling failed; it will be retried",
                   {{"stream", options_.stream}, {"entry", entry.id}, {"type", entry.type},
                    {"error", std::string(s.message())}});
      absl::MutexLock lock(&errors_mu_);
      last_errors_[entry.id] = std::string(s.message());
      continue;  // stays pending; reclaimed after claim_idle
    }
    {
      absl::MutexLock lock(&errors_mu_);
      last_errors_.erase(entry.id);
    }
    auto ack = redis_->CommandSync({"XACK", options_.stream, options_.group, entry.id});
    if (!ack.ok()) return ack.status();
    ++handled;
  }
  return handled;
}

absl::Status StreamConsumer::DeadLetter(const StreamEntry& entry, const std::string& error) {
  static const redis::Script kMove(R"lua(
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'type', ARGV[3], 'event', ARGV[4],
           'origin_stream', KEYS[1], 'origin_id', ARGV[2], 'error', ARGV[5], 'group', ARGV[1])
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
)lua");
  auto r = redis_->EvalSync(kMove, {options_.stream, options_.dead_letter_stream},
                            {options_.group, entry.id, entry.type, entry.data, error});
  if (!r.ok()) return r.status();
  if (r->is_error()) return redis::ErrorReplyStatus(*r);
  dead_lettered_++;
  log::Error("event moved to the dead-letter stream",
             {{"stream", options_.stream}, {"entry", entry.id}, {"type", entry.type},
              {"dead_letter_stream", options_.dead_letter_stream}, {"error", error}});
  return absl::OkStatus();
}

absl::Status ReplayDeadLetter(redis::Client* redis, const std::string& dead_letter_stream,
                              const std::string& entry_id) {
  static const redis::Script kReplay(R"lua(
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return redis.error_reply('NOT_FOUND no such dead letter') end
local f = e[1][2]
local m = {}
for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
local id = redis.call('XADD', m['origin_stream'], '*', 'type', m['type'], 'event', m['event'])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
)lua");
  auto r = redis->EvalSync(kReplay, {dead_letter_stream}, {entry_id});
  if (!r.ok()) return r.status();
  if (r->is_error()) {
    if (r->str.rfind("NOT_FOUND", 0) == 0) {
      return absl::NotFoundError(absl::StrCat("no dead letter ", entry_id));
    }
    return redis::ErrorReplyStatus(*r);
  }
  return absl::OkStatus();
}

}  // namespace clerkship::events

#include "services/notification/live_stream_hub.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/events/events.h"
#include "common/logging/log.h"
#include "common/status/status.h"
#include "common/status/validation.h"

namespace clerkship::notification {
namespace {

constexpr absl::Duration kBlock = absl::Milliseconds(500);

}  // namespace

LiveStreamHub::LiveStreamHub(redis::ClientOptions redis_options, NotificationStore* store,
                             HubOptions options, NotificationMetrics* metrics)
    : store_(store), options_(std::move(options)), metrics_(metrics) {
  redis_options.connections = 1;
  redis_options.command_timeout =
      std::max(redis_options.command_timeout, kBlock + absl::Seconds(2));
  reader_ = redis::Client::Create(std::move(redis_options));
}

LiveStreamHub::~LiveStreamHub() { Stop(); }

void LiveStreamHub::Start() {
  stop_ = false;
  // Start from the stream's current end, so that every notification created after a
  // subscriber connects is seen.
  if (reader_->WaitHealthy(absl::Seconds(2))) {
    auto last = reader_->CommandSync({"XREVRANGE", options_.stream, "+", "-", "COUNT", "1"});
    if (last.ok() && last->is_array()) {
      last_id_ = last->elements.empty() ? "0-0" : last->elements[0].elements[0].str;
    }
  }
  thread_ = std::thread([this] { Run(); });
}

void LiveStreamHub::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::Status LiveStreamHub::Subscribe(StreamSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  if (closing_) {
    return ErrorWithInfo(absl::StatusCode::kUnavailable, "the server is shutting down; reconnect",
                         "SHUTTING_DOWN", "clerkship.notification");
  }
  if (static_cast<int>(subscribers_.size()) >= options_.max_streams) {
    return ErrorWithInfo(absl::StatusCode::kResourceExhausted,
                         "too many notification streams on this server; retry later",
                         "TOO_MANY_STREAMS", "clerkship.notification");
  }
  if (static_cast<int>(subscribers_.count(subscriber->recipient_id())) >=
      options_.max_streams_per_recipient) {
    return ErrorWithInfo(absl::StatusCode::kResourceExhausted,
                         "too many notification streams for this recipient",
                         "TOO_MANY_STREAMS", "clerkship.notification");
  }
  subscribers_.emplace(subscriber->recipient_id(), subscriber);
  metrics_->Streams(static_cast<double>(subscribers_.size()));
  return absl::OkStatus();
}

void LiveStreamHub::Unsubscribe(StreamSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto range = subscribers_.equal_range(subscriber->recipient_id());
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == subscriber) {
      subscribers_.erase(it);
      break;
    }
  }
  metrics_->Streams(static_cast<double>(subscribers_.size()));
}

void LiveStreamHub::CloseAll() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
  grpc::Status unavailable = ToGrpcStatus(
      ErrorWithInfo(absl::StatusCode::kUnavailable, "the server is shutting down; reconnect",
                    "SHUTTING_DOWN", "clerkship.notification"));
  for (auto& [recipient, subscriber] : subscribers_) subscriber->Close(unavailable);
}

int LiveStreamHub::active_streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(subscribers_.size());
}

void LiveStreamHub::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_) {
    {
      absl::MutexLock lock(&mu_);
      absl::Time now = absl::Now();
      for (auto& [recipient, subscriber] : subscribers_) subscriber->Tick(now);
    }
    auto reply = reader_->CommandSync({"XREAD", "COUNT", "256", "BLOCK",
                                       absl::StrCat(absl::ToInt64Milliseconds(kBlock)), "STREAMS",
                                       options_.stream, last_id_.empty() ? "$" : last_id_});
    if (!reply.ok() || reply->is_error()) {
      log::Warning("live-stream feed unavailable",
                   {{"error", reply.ok() ? reply->str : std::string(reply.status().message())}});
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    backoff = absl::Milliseconds(100);
    if (reply->is_nil() || !reply->is_array() || reply->elements.empty()) continue;
    const redis::Reply& stream = reply->elements[0];
    if (!stream.is_array() || stream.elements.size() != 2) continue;
    Dispatch(stream.elements[1]);
  }
}

void LiveStreamHub::Dispatch(const redis::Reply& entries) {
  std::vector<events::StreamEntry> parsed = events::ParseEntries(entries);
  if (parsed.empty()) return;
  last_id_ = parsed.back().id;
  // Only notifications someone here is waiting for are fetched.
  std::vector<std::pair<std::string, std::string>> wanted;
  {
    absl::MutexLock lock(&mu_);
    for (const events::StreamEntry& e : parsed) {
      clerkship::events::v1::Event event;
      if (e.type != "notification.created" || !event.ParseFromString(e.data) ||
          !event.has_notification_created()) {
        continue;
      }
      const std::string& name = event.notification_created().notification();
      std::vector<std::string> parts = absl::StrSplit(name, '/');
      if (parts.size() != 4 || !IsValidResourceId(parts[1])) continue;
      if (subscribers_.count(parts[1]) == 0) continue;
      wanted.emplace_back(parts[1], parts[3]);
    }
  }
  if (wanted.empty()) return;
  absl::StatusOr<std::vector<v1::Notification>> notifications =
      Await<std::vector<v1::Notification>>([&](Done<std::vector<v1::Notification>> done) {
        store_->GetNotifications(wanted, std::move(done));
      });
  if (!notifications.ok()) {
    log::Warning("could not fetch notifications for live streams",
                 {{"error", std::string(notifications.status().message())}});
    return;
  }
  absl::MutexLock lock(&mu_);
  for (v1::Notification& n : *notifications) {
    auto shared = std::make_shared<const v1::Notification>(std::move(n));
    std::string recipient_id = shared->recipient().substr(shared->recipient().find('/') + 1);
    auto range = subscribers_.equal_range(recipient_id);
    for (auto it = range.first; it != range.second; ++it) it->second->Push(shared);
  }
}

}  // namespace clerkship::notification

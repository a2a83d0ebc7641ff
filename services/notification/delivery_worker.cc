#include "services/notification/delivery_worker.h"

#include <google/protobuf/util/json_util.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "common/logging/log.h"
#include "common/util/ids.h"
#include "services/notification/quiet_hours.h"
#include "services/notification/settings_rules.h"
#include "services/notification/webhook_signature.h"

namespace clerkship::notification {
namespace {

const char* ChannelName(v1::Delivery::Channel c) {
  return c == v1::Delivery::EMAIL ? "email" : "webhook";
}

std::string RecipientIdOf(const std::string& recipient_name) {
  return recipient_name.substr(recipient_name.find('/') + 1);
}

}  // namespace

DeliveryWorker::DeliveryWorker(NotificationStore* store, RecipientDirectory* directory,
                               EmailSender* email, WebhookSender* webhook, Clock* clock,
                               DeliveryOptions options, NotificationMetrics* metrics)
    : store_(store),
      directory_(directory),
      email_(email),
      webhook_(webhook),
      clock_(clock),
      options_(std::move(options)),
      metrics_(metrics) {}

DeliveryWorker::~DeliveryWorker() { Stop(); }

void DeliveryWorker::Start() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Loop(); });
}

void DeliveryWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void DeliveryWorker::Loop() {
  while (true) {
    absl::StatusOr<int> claimed = RunOnce();
    if (!claimed.ok()) {
      log::Warning("delivery queue unavailable", {{"error", std::string(claimed.status().message())}});
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!claimed.ok() || *claimed == 0) {
      // Sleep until the next poll, waking early on Stop().
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval);
      if (stopping_) return;
    }
  }
}

absl::StatusOr<int> DeliveryWorker::RunOnce() {
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Await<std::vector<ClaimedDelivery>>(
      [&](Done<std::vector<ClaimedDelivery>> done) {
        store_->ClaimDueDeliveries(clock_->Now(), options_.lease, options_.batch_size,
                                   std::move(done));
      });
  if (!claimed.ok()) return claimed.status();
  for (const ClaimedDelivery& c : *claimed) Process(c);
  return static_cast<int>(claimed->size());
}

absl::Duration DeliveryWorker::Backoff(int attempts) const {
  absl::Duration delay = options_.backoff_initial;
  for (int i = 1; i < attempts && delay < options_.backoff_max; ++i) delay *= 2;
  delay = std::min(delay, options_.backoff_max);
  static thread_local std::mt19937_64 rng(std::random_device{}());
  double factor = std::uniform_real_distribution<double>(0.5, 1.0)(rng);
  return delay * factor;
}

void DeliveryWorker::Save(const ClaimedDelivery& claim, const v1::Delivery& updated,
                          std::optional<absl::Time> next_due) {
  absl::StatusOr<bool> saved = Await<bool>([&](Done<bool> done) {
    store_->SaveDelivery(claim, updated, next_due, std::move(done));
  });
  if (!saved.ok()) {
    // The lease runs out and another attempt follows: at least once, never lost.
    log::Warning("could not record a delivery attempt",
                 {{"delivery", updated.name()}, {"error", std::string(saved.status().message())}});
  } else if (!*saved) {
    log::Warning("delivery lease lost before the attempt was recorded", {{"delivery", updated.name()}});
  }
}

void DeliveryWorker::Process(const ClaimedDelivery& claim) {
  v1::Delivery d = claim.delivery;
  absl::Time now = clock_->Now();
  const char* channel = ChannelName(d.channel());
  auto fail = [&](const std::string& why) {
    d.set_state(v1::Delivery::FAILED);
    d.clear_next_attempt_time();
    v1::Delivery::Attempt* a = d.add_attempts();
    *a->mutable_time() = ToProtoTime(now);
    a->set_error(why);
    metrics_->Delivery(channel, "failed");
    Save(claim, d, std::nullopt);
  };
  if (!claim.notification) return fail("the notification is no longer in the inbox");
  const v1::Notification& n = *claim.notification;
  const std::string recipient_id = RecipientIdOf(d.recipient());
  v1::NotificationSettings settings =
      claim.settings ? *claim.settings : DefaultSettings(recipient_id);

  bool enabled = d.channel() == v1::Delivery::EMAIL
                     ? settings.email_enabled() && email_ != nullptr
                     : settings.webhook_enabled() && !settings.webhook_url().empty() &&
                           !settings.webhook_secret().empty();
  if (!enabled) return fail("the channel is turned off in the recipient's settings");

  // The profile is looked up only when the settings leave something to it.
  std::optional<absl::StatusOr<RecipientProfile>> profile;
  auto lookup = [&]() -> const absl::StatusOr<RecipientProfile>& {
    if (!profile) profile = directory_->LookupSync(d.recipient());
    return *profile;
  };

  std::optional<QuietHours> quiet =
      ParseQuietHours(settings.quiet_hours_start(), settings.quiet_hours_end());
  if (quiet) {
    std::string zone = settings.time_zone();
    if (zone.empty() && lookup().ok()) zone = lookup()->time_zone;
    absl::TimeZone tz = absl::UTCTimeZone();
    if (!zone.empty()) LoadTimeZoneByName(zone, &tz);
    if (std::optional<absl::Time> end = QuietHoursEnd(*quiet, now, tz)) {
      d.set_state(v1::Delivery::DEFERRED);
      *d.mutable_next_attempt_time() = ToProtoTime(*end);
      metrics_->Delivery(channel, "deferred");
      return Save(claim, d, *end);
    }
  }

  auto retry_or_fail = [&](const v1::Delivery::Attempt& attempt, bool retryable) {
    *d.add_attempts() = attempt;
    if (retryable && d.attempts_size() < options_.max_attempts) {
      absl::Time next = now + Backoff(d.attempts_size());
      d.set_state(v1::Delivery::RETRYING);
      *d.mutable_next_attempt_time() = ToProtoTime(next);
      metrics_->Delivery(channel, "retry");
      Save(claim, d, next);
    } else {
      d.set_state(v1::Delivery::FAILED);
      d.clear_next_attempt_time();
      metrics_->Delivery(channel, "failed");
      Save(claim, d, std::nullopt);
    }
  };

  v1::Delivery::Attempt attempt;
  *attempt.mutable_time() = ToProtoTime(now);
  AttemptResult result;
  absl::Time started = absl::Now();
  if (d.channel() == v1::Delivery::EMAIL) {
    std::string address = settings.email_address();
    if (address.empty()) {
      const absl::StatusOr<RecipientProfile>& p = lookup();
      if (p.ok()) {
        address = p->email;
      } else if (p.status().code() != absl::StatusCode::kNotFound &&
                 p.status().code() != absl::StatusCode::kUnimplemented) {
        attempt.set_error("the applicant directory is unavailable; the address is unknown");
        return retry_or_fail(attempt, true);
      }
    }
    if (address.empty()) return fail("no e-mail address is known for the recipient");
    d.set_destination(address);
    EmailContent email;
    email.from = options_.email_from;
    email.to = address;
    email.subject = n.title();
    email.text_body = n.body();
    email.html_body = n.html_body();
    email.message_id = absl::StrCat(n.name().substr(n.name().rfind('/') + 1), ".", recipient_id,
                                    "@clerkship.notification");
    email.date = now;
    result = email_->Send(email);
  } else {
    d.set_destination(settings.webhook_url());
    std::string body;
    google::protobuf::util::JsonPrintOptions json;
    json.preserve_proto_field_names = false;
    if (!google::protobuf::util::MessageToJsonString(n, &body, json).ok()) {
      return fail("the notification cannot be encoded as JSON");
    }
    int64_t timestamp = absl::ToUnixSeconds(now);
    result = webhook_->Post(settings.webhook_url(), body,
                            {{"X-Clerkship-Timestamp", absl::StrCat(timestamp)},
                             {"X-Clerkship-Signature",
                              WebhookSignature(settings.webhook_secret(), timestamp, body)},
                             {"X-Clerkship-Delivery", d.name()}});
  }
  attempt.set_duration_ms(absl::ToInt64Milliseconds(absl::Now() - started));
  attempt.set_response_code(result.response_code);
  attempt.set_error(result.error);
  if (result.delivered) {
    *d.add_attempts() = attempt;
    d.set_state(v1::Delivery::DELIVERED);
    d.clear_next_attempt_time();
    *d.mutable_deliver_time() = ToProtoTime(clock_->Now());
    metrics_->Delivery(channel, "delivered");
    return Save(claim, d, std::nullopt);
  }
  log::Info("delivery attempt failed",
            {{"delivery", d.name()}, {"code", absl::StrCat(result.response_code)},
             {"retryable", result.retryable ? "true" : "false"}});
  retry_or_fail(attempt, result.retryable);
}

}  // namespace clerkship::notification

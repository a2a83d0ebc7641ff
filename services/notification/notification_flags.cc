#include "services/notification/notification_flags.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/server/server_runner.h"

namespace clerkship::notification {
namespace {

std::string CheckOptionalHostPort(const std::string& value) {
  return value.empty() ? "" : CheckHostPort(value);
}

std::string CheckSmtpUrl(const std::string& value) {
  if (value.empty() || absl::StartsWith(value, "smtp://") || absl::StartsWith(value, "smtps://")) {
    return "";
  }
  return "must be smtp://host[:port] or smtps://host[:port] (or empty to turn e-mail off)";
}

std::string CheckStreams(const std::string& value) {
  for (absl::string_view s : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    if (!absl::EndsWith(s, ":events") || absl::StartsWith(s, "ntf:")) {
      return "must be a comma-separated list of other services' event streams, e.g. "
             "app:events,cat:events,mat:events";
    }
  }
  return "";
}

}  // namespace

std::string DefaultConsumerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    return absl::StrCat("notification-", getpid());
  }
  return absl::StrCat(host, "-", getpid());
}

void AddNotificationFlags(Config* config) {
  config->AddString("consumer_name", "",
                    "name of this process in the consumer group (default: hostname-pid)");
  config->AddString("consumer_group", "notification", "consumer group on the event streams",
                    CheckNonEmpty);
  config->AddString("consumer_streams", "app:events,cat:events,mat:events",
                    "event streams to consume", CheckStreams);
  config->AddString("consumer_start_id", "0",
                    "where a newly created consumer group starts: 0 (whole stream) or $ (new "
                    "events only)",
                    [](const std::string& v) { return CheckOneOf(v, {"0", "$"}); });
  config->AddInt("consumer_batch_size", 64, "events read per XREADGROUP", 1, 1000);
  config->AddDuration("claim_idle", absl::Seconds(30),
                      "pending this long, an event is taken over from its (crashed) consumer",
                      absl::Milliseconds(10));
  config->AddDuration("claim_interval", absl::Seconds(5), "how often pending events are reclaimed");
  config->AddInt("max_deliveries", 5,
                 "tries before an event goes to the dead-letter stream ntf:deadletter", 1, 100);
  config->AddInt("inbox_retention", 500, "notifications kept per recipient", 1, 100000);
  config->AddDuration("inbox_max_age", absl::Hours(24 * 180),
                      "notifications older than this leave the inbox", absl::Hours(1));
  config->AddDuration("dedupe_ttl", absl::Hours(24 * 7),
                      "how long processed event ids are remembered", absl::Minutes(1));
  config->AddInt("max_streams", 10000, "StreamNotifications calls per process", 1, 1000000);
  config->AddInt("max_streams_per_recipient", 10, "StreamNotifications calls per recipient", 1,
                 1000);
  config->AddInt("stream_queue_limit", 256,
                 "notifications queued for a slow stream client before it is dropped", 1, 100000);
  config->AddString("smtp_url", "",
                    "SMTP server, smtp://host:port or smtps://host:port (empty: no e-mail)",
                    CheckSmtpUrl);
  config->AddString("smtp_user", "", "SMTP user (empty: no authentication)");
  config->AddString("smtp_password", "", "SMTP password");
  config->AddString("smtp_from", "Clerkship <no-reply@clerkship.example>",
                    "From: of notification e-mail", CheckNonEmpty);
  config->AddBool("smtp_starttls", false, "require STARTTLS on smtp:// connections");
  config->AddDuration("smtp_timeout", absl::Seconds(30), "deadline of one SMTP transaction",
                      absl::Seconds(1));
  config->AddDuration("webhook_timeout", absl::Seconds(10), "deadline of one webhook request",
                      absl::Milliseconds(100));
  config->AddBool("allow_http_webhooks", false,
                  "accept http:// webhook URLs (local testing only)");
  config->AddBool("webhook_allow_private_networks", false,
                  "let webhooks reach loopback and private addresses (local testing only)");
  config->AddInt("delivery_threads", 4, "delivery worker threads", 1, 64);
  config->AddDuration("delivery_poll_interval", absl::Milliseconds(200),
                      "how often idle delivery workers look for due deliveries",
                      absl::Milliseconds(1));
  config->AddDuration("delivery_lease", absl::Minutes(5),
                      "a claimed delivery returns to the queue after this if its worker dies",
                      absl::Seconds(1));
  config->AddInt("delivery_max_attempts", 8, "attempts per delivery before it fails", 1, 100);
  config->AddDuration("delivery_backoff_initial", absl::Seconds(30), "first retry delay",
                      absl::Milliseconds(1));
  config->AddDuration("delivery_backoff_max", absl::Hours(1), "longest retry delay",
                      absl::Milliseconds(1));
  config->AddDuration("reminder_poll_interval", absl::Seconds(1),
                      "how often due reminders are looked for", absl::Milliseconds(1));
  config->AddString("applicant_addr", "127.0.0.1:50052",
                    "applicant service host:port, for names, addresses and time zones (empty: "
                    "none)",
                    CheckOptionalHostPort);
  config->AddString("matching_addr", "127.0.0.1:50053",
                    "matching service host:port, for round results (empty: none)",
                    CheckOptionalHostPort);
  config->AddDuration("backend_timeout", absl::Seconds(2), "deadline of calls to other services",
                      absl::Milliseconds(10));
}

NotificationOptions NotificationOptionsFromConfig(const Config& config) {
  NotificationOptions o;
  o.redis = RedisOptionsFromConfig(config);
  o.streams.clear();
  for (absl::string_view s :
       absl::StrSplit(config.GetString("consumer_streams"), ',', absl::SkipWhitespace())) {
    o.streams.emplace_back(absl::StripAsciiWhitespace(s));
  }
  o.consumer_group = config.GetString("consumer_group");
  o.consumer_name = config.GetString("consumer_name");
  if (o.consumer_name.empty()) o.consumer_name = DefaultConsumerName();
  o.consumer_start_id = config.GetString("consumer_start_id");
  o.consumer_batch_size = static_cast<int>(config.GetInt("consumer_batch_size"));
  o.claim_idle = config.GetDuration("claim_idle");
  o.claim_interval = config.GetDuration("claim_interval");
  o.max_deliveries = static_cast<int>(config.GetInt("max_deliveries"));
  o.store.inbox_retention = static_cast<int>(config.GetInt("inbox_retention"));
  o.store.inbox_max_age = config.GetDuration("inbox_max_age");
  o.composer.dedupe_ttl = config.GetDuration("dedupe_ttl");
  o.hub.max_streams = static_cast<int>(config.GetInt("max_streams"));
  o.hub.max_streams_per_recipient = static_cast<int>(config.GetInt("max_streams_per_recipient"));
  o.service.stream_queue_limit = static_cast<size_t>(config.GetInt("stream_queue_limit"));
  o.service.settings_policy.allow_http_webhooks = config.GetBool("allow_http_webhooks");
  o.smtp.url = config.GetString("smtp_url");
  o.smtp.user = config.GetString("smtp_user");
  o.smtp.password = config.GetString("smtp_password");
  o.smtp.from = config.GetString("smtp_from");
  o.smtp.starttls = config.GetBool("smtp_starttls");
  o.smtp.timeout = config.GetDuration("smtp_timeout");
  o.webhook.timeout = config.GetDuration("webhook_timeout");
  o.webhook.allow_private_networks = config.GetBool("webhook_allow_private_networks");
  o.delivery.threads = static_cast<int>(config.GetInt("delivery_threads"));
  o.delivery.poll_interval = config.GetDuration("delivery_poll_interval");
  o.delivery.lease = config.GetDuration("delivery_lease");
  o.delivery.max_attempts = static_cast<int>(config.GetInt("delivery_max_attempts"));
  o.delivery.backoff_initial = config.GetDuration("delivery_backoff_initial");
  o.delivery.backoff_max = config.GetDuration("delivery_backoff_max");
  o.reminders.poll_interval = config.GetDuration("reminder_poll_interval");
  o.applicant_addr = config.GetString("applicant_addr");
  o.matching_addr = config.GetString("matching_addr");
  o.backend_timeout = config.GetDuration("backend_timeout");
  return o;
}

}  // namespace clerkship::notification

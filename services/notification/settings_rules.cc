#include "services/notification/settings_rules.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/validation.h"
#include "services/notification/quiet_hours.h"

namespace clerkship::notification {
namespace {

constexpr char kPrefix[] = "notification_settings.";

const std::set<std::string>& UpdatablePaths() {
  static const std::set<std::string> kPaths = {
      "email_enabled", "webhook_enabled",   "email_address",  "webhook_url",
      "webhook_secret", "time_zone", "quiet_hours_start", "quiet_hours_end"};
  return kPaths;
}

bool IsSet(const v1::NotificationSettings& s, const std::string& path) {
  if (path == "email_enabled") return s.email_enabled();
  if (path == "webhook_enabled") return s.webhook_enabled();
  if (path == "email_address") return !s.email_address().empty();
  if (path == "webhook_url") return !s.webhook_url().empty();
  if (path == "webhook_secret") return !s.webhook_secret().empty();
  if (path == "time_zone") return !s.time_zone().empty();
  if (path == "quiet_hours_start") return !s.quiet_hours_start().empty();
  if (path == "quiet_hours_end") return !s.quiet_hours_end().empty();
  return false;
}

void Copy(const v1::NotificationSettings& from, const std::string& path,
          v1::NotificationSettings* to) {
  if (path == "email_enabled") to->set_email_enabled(from.email_enabled());
  if (path == "webhook_enabled") to->set_webhook_enabled(from.webhook_enabled());
  if (path == "email_address") to->set_email_address(from.email_address());
  if (path == "webhook_url") to->set_webhook_url(from.webhook_url());
  if (path == "webhook_secret") to->set_webhook_secret(from.webhook_secret());
  if (path == "time_zone") to->set_time_zone(from.time_zone());
  if (path == "quiet_hours_start") to->set_quiet_hours_start(from.quiet_hours_start());
  if (path == "quiet_hours_end") to->set_quiet_hours_end(from.quiet_hours_end());
}

}  // namespace

std::string SettingsApplicantId(const std::string& name) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 3 || parts[0] != "applicants" || parts[2] != "notificationSettings" ||
      !IsValidResourceId(parts[1])) {
    return "";
  }
  return parts[1];
}

v1::NotificationSettings DefaultSettings(const std::string& applicant_id) {
  v1::NotificationSettings s;
  s.set_name(absl::StrCat("applicants/", applicant_id, "/notificationSettings"));
  s.set_email_enabled(true);
  return s;
}

v1::NotificationSettings PublicSettings(const v1::NotificationSettings& stored) {
  v1::NotificationSettings out = stored;
  out.set_webhook_secret_set(!stored.webhook_secret().empty());
  out.clear_webhook_secret();
  return out;
}

bool IsAcceptableWebhookUrl(const std::string& url, bool allow_http) {
  if (url.size() > 2048 || !IsValidUtf8(url)) return false;
  std::string rest;
  if (absl::StartsWith(url, "https://")) {
    rest = url.substr(8);
  } else if (allow_http && absl::StartsWith(url, "http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  for (char c : url) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  // Credentials in the URL would end up in logs and delivery records.
  if (authority.empty() || absl::StrContains(authority, "@")) return false;
  std::string host = authority;
  if (host.front() == '[') return host.find(']') != std::string::npos;  // IPv6 literal
  host = host.substr(0, host.find(':'));
  return !host.empty();
}

absl::StatusOr<v1::NotificationSettings> ApplySettingsUpdate(
    const v1::NotificationSettings& stored, const v1::UpdateNotificationSettingsRequest& request,
    const SettingsPolicy& policy) {
  const v1::NotificationSettings& in = request.notification_settings();
  Validator v;
  // Which fields the update touches.
  std::set<std::string> paths;
  if (request.update_mask().paths_size() == 0) {
    for (const std::string& p : UpdatablePaths()) {
      if (IsSet(in, p)) paths.insert(p);
    }
  } else {
    for (const std::string& raw : request.update_mask().paths()) {
      std::string p = absl::StartsWith(raw, kPrefix) ? raw.substr(sizeof(kPrefix) - 1) : raw;
      if (p == "*") {
        paths.insert(UpdatablePaths().begin(), UpdatablePaths().end());
      } else if (UpdatablePaths().count(p) != 0) {
        paths.insert(p);
      } else {
        v.Add("update_mask.paths",
              absl::StrCat("\"", raw.substr(0, 100), "\" is not an updatable field; updatable: "
                           "email_enabled, webhook_enabled, email_address, webhook_url, "
                           "webhook_secret, time_zone, quiet_hours_start, quiet_hours_end"));
      }
    }
  }

  auto field = [](const char* name) { return absl::StrCat(kPrefix, name); };
  if (paths.count("email_address") && !in.email_address().empty()) {
    v.RequireEmail(field("email_address"), in.email_address());
  }
  if (paths.count("webhook_url") && !in.webhook_url().empty()) {
    v.Check(IsAcceptableWebhookUrl(in.webhook_url(), policy.allow_http_webhooks),
            field("webhook_url"),
            policy.allow_http_webhooks
                ? "must be an absolute http:// or https:// URL of up to 2048 characters, "
                  "without credentials"
                : "must be an absolute https:// URL of up to 2048 characters, without "
                  "credentials");
  }
  if (paths.count("webhook_secret") && !in.webhook_secret().empty()) {
    v.RequireLength(field("webhook_secret"), in.webhook_secret(), 16, 256);
  }
  if (paths.count("time_zone") && !in.time_zone().empty()) {
    absl::TimeZone tz;
    v.Check(LoadTimeZoneByName(in.time_zone(), &tz), field("time_zone"),
            "must be an IANA time zone such as America/New_York");
  }
  for (const char* name : {"quiet_hours_start", "quiet_hours_end"}) {
    const std::string& value =
        std::string(name) == "quiet_hours_start" ? in.quiet_hours_start() : in.quiet_hours_end();
    if (paths.count(name) && !value.empty()) {
      v.Check(ParseClockTime(value).has_value(), field(name),
              "must be a time of day \"HH:MM\" on the 24-hour clock");
    }
  }
  if (!v.ok()) return v.Finish();

  v1::NotificationSettings merged = stored;
  for (const std::string& p : paths) {
    // Clearing the secret by naming it with an empty value is allowed; an empty secret in a
    // wildcard update means "keep the stored one" (it is input only, never read back).
    if (p == "webhook_secret" && in.webhook_secret().empty() &&
        request.update_mask().paths_size() != 0) {
      bool named = false;
      for (const std::string& raw : request.update_mask().paths()) {
        named = named || raw == "webhook_secret" || raw == field("webhook_secret");
      }
      if (!named) continue;
    }
    Copy(in, p, &merged);
  }

  // Rules over the result.
  if (merged.webhook_enabled()) {
    v.Check(!merged.webhook_url().empty(), field("webhook_url"),
            "is required when webhook_enabled is true");
    v.Check(!merged.webhook_secret().empty(), field("webhook_secret"),
            "is required when webhook_enabled is true and no secret is stored yet");
  }
  bool has_start = !merged.quiet_hours_start().empty();
  bool has_end = !merged.quiet_hours_end().empty();
  if (has_start != has_end) {
    v.Add(field(has_start ? "quiet_hours_end" : "quiet_hours_start"),
          "quiet_hours_start and quiet_hours_end must be set together (or both cleared)");
  } else if (has_start && merged.quiet_hours_start() == merged.quiet_hours_end()) {
    v.Add(field("quiet_hours_end"), "must differ from quiet_hours_start");
  }
  if (!v.ok()) return v.Finish();
  return merged;
}

}  // namespace clerkship::notification

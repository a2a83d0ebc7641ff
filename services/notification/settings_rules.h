#pragma once

// Notification settings: defaults, the public view (the webhook secret never leaves the
// service), and the rules of UpdateNotificationSettings (update_mask semantics, field
// validation, cross-field requirements). Plain domain code.

#include <string>

#include "absl/status/statusor.h"
#include "clerkship/notification/v1/notification.pb.h"

namespace clerkship::notification {

struct SettingsPolicy {
  bool allow_http_webhooks = false;  // http:// webhook URLs (local tests only)
};

// "applicants/{id}/notificationSettings" → id, or "" when malformed.
std::string SettingsApplicantId(const std::string& name);

// The settings of someone who never changed them: e-mail on (to the profile address),
// webhook off, no quiet hours.
v1::NotificationSettings DefaultSettings(const std::string& applicant_id);

// What callers see: the secret removed, webhook_secret_set filled in.
v1::NotificationSettings PublicSettings(const v1::NotificationSettings& stored);

// Validates `request` (everything except its name and etag, which the caller checked)
// and applies it to `stored` (the current settings, secret included). INVALID_ARGUMENT
// with a field violation per problem.
absl::StatusOr<v1::NotificationSettings> ApplySettingsUpdate(
    const v1::NotificationSettings& stored, const v1::UpdateNotificationSettingsRequest& request,
    const SettingsPolicy& policy);

// A webhook URL we are willing to call: absolute https:// (http:// when allowed), a host,
// no credentials, no whitespace, up to 2048 characters.
bool IsAcceptableWebhookUrl(const std::string& url, bool allow_http);

}  // namespace clerkship::notification

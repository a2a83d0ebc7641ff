#pragma once

// Webhook signatures as documented on NotificationSettings:
//   X-Clerkship-Signature: sha256=<lower-case hex of HMAC-SHA256(secret, timestamp + "." + body)>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace clerkship::notification {

std::string HmacSha256Hex(absl::string_view key, absl::string_view data);

// The X-Clerkship-Signature header value for a body signed at `unix_seconds`.
std::string WebhookSignature(absl::string_view secret, int64_t unix_seconds,
                             absl::string_view body);

}  // namespace clerkship::notification

#pragma once

// Quiet hours: a daily window, in the recipient's time zone, during which e-mail and
// webhooks wait. Plain domain code (no Redis, no gRPC) so the edge cases (windows that
// wrap midnight, daylight-saving changes) are tested directly.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clerkship::notification {

// Minutes since midnight of "HH:MM" (24-hour clock), or nullopt if malformed.
std::optional<int> ParseClockTime(absl::string_view text);

struct QuietHours {
  int start_minute = 0;  // inclusive
  int end_minute = 0;    // exclusive; may be before start (the window wraps midnight)
};

// Both "HH:MM" strings valid and different → the window; anything else → nullopt.
std::optional<QuietHours> ParseQuietHours(absl::string_view start, absl::string_view end);

// When `t` falls inside the quiet window, the moment the window ends (in `tz`);
// otherwise nullopt (deliver now).
std::optional<absl::Time> QuietHoursEnd(const QuietHours& quiet, absl::Time t,
                                        absl::TimeZone tz);

// An IANA zone name that exists ("America/New_York", "UTC"); rejects names that are not
// zone names (paths, empty, overly long) before asking the zone database.
bool LoadTimeZoneByName(absl::string_view name, absl::TimeZone* tz);

}  // namespace clerkship::notification

#include "services/notification/quiet_hours.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "common/status/validation.h"

namespace clerkship::notification {

std::optional<int> ParseClockTime(absl::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  int hours = (text[0] - '0') * 10 + (text[1] - '0');
  int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  return hours * 60 + minutes;
}

std::optional<QuietHours> ParseQuietHours(absl::string_view start, absl::string_view end) {
  std::optional<int> s = ParseClockTime(start);
  std::optional<int> e = ParseClockTime(end);
  if (!s || !e || *s == *e) return std::nullopt;
  return QuietHours{*s, *e};
}

std::optional<absl::Time> QuietHoursEnd(const QuietHours& quiet, absl::Time t,
                                        absl::TimeZone tz) {
  absl::CivilMinute local = absl::ToCivilMinute(t, tz);
  int minute = local.hour() * 60 + local.minute();
  absl::CivilDay today = absl::CivilDay(local);
  absl::CivilDay end_day;
  if (quiet.start_minute < quiet.end_minute) {
    if (minute < quiet.start_minute || minute >= quiet.end_minute) return std::nullopt;
    end_day = today;
  } else {  // wraps midnight, e.g. 22:00-07:00
    if (minute >= quiet.start_minute) {
      end_day = today + 1;
    } else if (minute < quiet.end_minute) {
      end_day = today;
    } else {
      return std::nullopt;
    }
  }
  absl::CivilMinute end(end_day.year(), end_day.month(), end_day.day(), quiet.end_minute / 60,
                        quiet.end_minute % 60);
  absl::Time end_time = absl::FromCivil(end, tz);
  // A daylight-saving jump can make the computed end land at or before t; never defer
  // into the past.
  if (end_time <= t) return std::nullopt;
  return end_time;
}

bool LoadTimeZoneByName(absl::string_view name, absl::TimeZone* tz) {
  return LoadClientTimeZone(name, tz);
}

}  // namespace clerkship::notification

#include "services/applicant/domain_support.h"

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "services/applicant/applicant_store.h"

namespace clerkship::applicant {

absl::CivilDay TodayIn(absl::Time now, absl::string_view time_zone) {
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!time_zone.empty() && !absl::LoadTimeZone(std::string(time_zone), &tz)) {
    tz = absl::UTCTimeZone();
  }
  return absl::ToCivilDay(now, tz);
}

absl::Status StaleEtagError(absl::string_view what) {
  return ErrorWithInfo(absl::StatusCode::kAborted,
                       absl::StrCat("the ", what, " changed since it was read (etag mismatch)"),
                       "ETAG_MISMATCH", kDomain);
}

bool IsConcurrentUpdate(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAborted && ErrorReasonOf(status) == kConcurrentUpdate;
}

}  // namespace clerkship::applicant

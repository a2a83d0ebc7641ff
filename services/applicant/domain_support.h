#pragma once

// Small pieces shared by the applicant service's domain classes.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/util/page_token.h"

namespace clerkship::applicant {

inline constexpr char kDomain[] = "clerkship.applicant";
inline constexpr char kEventSource[] = "applicant";

// Today's calendar day in an IANA zone (UTC when the zone is empty or unknown).
absl::CivilDay TodayIn(absl::Time now, absl::string_view time_zone);

// ABORTED, reason ETAG_MISMATCH: the caller's etag names an older version.
absl::Status StaleEtagError(absl::string_view what);
bool IsConcurrentUpdate(const absl::Status& status);

// Recomputes the etag of a stored resource: a hash of everything but the etag itself.
template <typename Message>
void StampEtag(Message* message) {
  message->clear_etag();
  message->set_etag(EtagOf(message->SerializeAsString()));
}

}  // namespace clerkship::applicant

#include "services/catalog/catalog_validation.h"

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "common/status/validation.h"
#include "common/util/ids.h"

namespace clerkship::catalog {

absl::Status ValidateCreateSite(const v1::CreateSiteRequest& request) {
  Validator v;
  if (!request.has_site()) {
    v.Add("site", "is required");
    return v.Finish();
  }
  const v1::Site& site = request.site();
  v.RequireLength("site.display_name", site.display_name(), 1, 200);
  v.RequireLength("site.organization", site.organization(), 0, 200);
  v.RequireLength("site.city", site.city(), 1, 100);
  v.RequireUsState("site.us_state", site.us_state());
  v.RequireLength("site.address", site.address(), 0, 300);
  absl::TimeZone tz;
  if (v.RequireNonEmpty("site.time_zone", site.time_zone())) {
    v.Check(absl::LoadTimeZone(site.time_zone(), &tz), "site.time_zone",
            "must be an IANA time zone such as America/New_York");
  }
  if (!site.website().empty()) {
    v.Check(site.website().size() <= 500 && absl::StartsWith(site.website(), "https://") &&
                site.website().size() > 8 && IsValidUtf8(site.website()),
            "site.website", "must be an absolute https:// URL of at most 500 characters");
  }
  if (!site.coordinator_email().empty()) {
    v.RequireEmail("site.coordinator_email", site.coordinator_email());
  }
  if (!request.site_id().empty()) {
    v.Check(IsValidResourceId(request.site_id()), "site_id",
            "must be 1-63 characters of lowercase letters, digits and hyphens");
  }
  if (!request.request_id().empty()) {
    v.Check(IsValidRequestId(request.request_id()), "request_id",
            "must be 1-64 characters of letters, digits, '-' and '_'");
  }
  return v.Finish();
}

}  // namespace clerkship::catalog

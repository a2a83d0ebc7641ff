#pragma once

// Catalog domain rules as plain functions over protos: dates and deadlines, the fee total,
// the search terms a rotation is indexed under, update masks, the search query, and who may
// see or change what. No gRPC or Redis here, so all of it is testable on its own.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "common/auth/identity.h"
#include "google/protobuf/field_mask.pb.h"

namespace clerkship::catalog {

inline constexpr char kDomain[] = "clerkship.catalog";

// ---- Dates -------------------------------------------------------------------------------

// Days since 1970-01-01 of a valid "YYYY-MM-DD" date; used as sorted-set scores.
int64_t DayNumber(absl::string_view date);
// The "YYYY-MM-DD" date of a day number.
std::string DateOfDay(int64_t day);
// Today's date in an IANA time zone (UTC if the zone is unknown).
std::string TodayIn(absl::Time now, absl::string_view time_zone);
// Applications are accepted through the whole deadline day in the site's time zone, so they
// close at the start of the following day there.
absl::Time ApplicationsCloseAt(absl::string_view deadline, absl::string_view time_zone);

// ---- Rotations ---------------------------------------------------------------------------

int64_t TotalFeeCents(const type::v1::FeeBreakdown& fees);
// Trims the free-text fields and recomputes fees.total_cents; done before validation and
// storage, as types.proto promises.
void NormalizeRotationInput(v1::Rotation* rotation);

// Trims the three dates of a session (types.proto: white space is trimmed before
// validation).
void NormalizeSessionInput(v1::Session* session);

// City names are matched case-insensitively (ASCII) with white space collapsed.
std::string NormalizeCity(absl::string_view city);

// The search terms a PUBLISHED rotation is indexed under, one per filter value that matches
// it: "specialty:CARDIOLOGY", "type:ELECTIVE", "setting:MIXED", "hands_on:1", "state:NY",
// "city:queens", "lor:0", and "visa:<V>" for every visa status it accepts (all of them when
// its accepted list is empty).
std::vector<std::string> SearchTermsOf(const v1::Rotation& rotation);

// Updatable paths of UpdateRotationRequest.update_mask (top level; sub-paths of hands_on,
// fees and eligibility are allowed too).
const std::vector<std::string>& RotationUpdatablePaths();
// Applies `patch` to `target` along `mask` (AIP-134: empty mask = the fields set in patch,
// "*" = every updatable field) and recomputes the fee total. Returns the paths applied, or
// INVALID_ARGUMENT naming update_mask for an unknown or non-updatable path.
absl::StatusOr<std::vector<std::string>> ApplyRotationUpdate(
    const v1::Rotation& patch, const google::protobuf::FieldMask& mask, v1::Rotation* target);
absl::StatusOr<std::vector<std::string>> ApplySessionUpdate(
    const v1::Session& patch, const google::protobuf::FieldMask& mask, v1::Session* target);

// ---- Who may do what ---------------------------------------------------------------------

// Writes to a site's rotations and sessions: its coordinator, admins and backend services.
bool CanManageSite(const auth::Identity& who, absl::string_view site_name);
// Roles that can manage some site at all; anyone else is refused before any lookup.
bool CanManageAnySite(const auth::Identity& who);
// DRAFT rotations exist only for those who may manage them.
bool CanSeeRotation(const auth::Identity& who, const v1::Rotation& rotation);
bool CanSeeRotation(const auth::Identity& who, v1::Rotation::State state,
                    const std::string& site);

// ---- Search ------------------------------------------------------------------------------

enum class SearchOrder { kStartDate, kTotalFee, kSeatsAvailable };

struct SearchQuery {
  std::vector<std::string> terms;  // every term must hold
  std::optional<int64_t> max_total_fee_cents;
  std::optional<int64_t> start_from_day;
  std::optional<int64_t> start_to_day;
  bool has_seats = false;
  SearchOrder order = SearchOrder::kStartDate;
  uint64_t fingerprint = 0;  // of the filters and the order, for page tokens
};

// Validates a search request (one violation per bad field) and turns it into a query.
absl::StatusOr<SearchQuery> ParseSearchQuery(const v1::SearchRotationsRequest& request);

// Where a page ended: the last rotation's sort score and id.
struct SearchCursor {
  int64_t score = 0;
  std::string rotation_id;
};
std::string EncodeSearchCursor(const SearchCursor& cursor);
std::optional<SearchCursor> DecodeSearchCursor(absl::string_view position);

}  // namespace clerkship::catalog

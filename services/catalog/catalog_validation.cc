#include "services/catalog/catalog_validation.h"

#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/util/ids.h"
#include "services/catalog/catalog_rules.h"

namespace clerkship::catalog {
namespace {

constexpr int64_t kMaxCents = 10'000'000;

size_t CodePoints(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Length in Unicode code points of the trimmed text (types.proto), and valid UTF-8.
bool RequireChars(Validator* v, absl::string_view field, absl::string_view value, size_t min,
                  size_t max) {
  if (!v->Check(IsValidUtf8(value), field, "must be valid UTF-8")) return false;
  absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  if (min > 0 && trimmed.empty()) {
    v->Add(field, "is required");
    return false;
  }
  size_t n = CodePoints(trimmed);
  return v->Check(n >= min && n <= max, field,
                  min == 0 ? absl::StrCat("must be at most ", max, " characters")
                           : absl::StrCat("must be ", min, "-", max, " characters"));
}

// A required enum: set, and a value this server knows.
void RequireEnum(Validator* v, absl::string_view field, int value, bool (*is_valid)(int)) {
  if (value == 0) {
    v->Add(field, "is required");
  } else {
    v->Check(is_valid(value), field, "is not a known value");
  }
}

// A list of enum values: each known and set, none repeated.
template <typename List>
void RequireEnumList(Validator* v, absl::string_view field, const List& values,
                     bool (*is_valid)(int), size_t max_size) {
  std::set<int> seen;
  bool ok = true;
  for (int value : values) {
    if (value == 0 || !is_valid(value)) {
      if (ok) v->Add(field, "contains an unspecified or unknown value");
      ok = false;
    } else if (!seen.insert(value).second) {
      if (ok) v->Add(field, "contains a value twice");
      ok = false;
    }
  }
  if (ok) {
    v->Check(static_cast<size_t>(values.size()) <= max_size, field,
             absl::StrCat("must have at most ", max_size, " entries"));
  }
}

void RequireCents(Validator* v, absl::string_view field, int64_t cents) {
  v->RequireRange(field, cents, 0, kMaxCents);
}

// A holder is a resource name: segments of [A-Za-z0-9._~-] joined by '/'.
bool IsHolderName(absl::string_view holder) {
  if (holder.empty() || holder.size() > 200 || holder.find('/') == absl::string_view::npos) {
    return false;
  }
  for (absl::string_view segment : absl::StrSplit(holder, '/')) {
    if (segment.empty()) return false;
    for (char c : segment) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '~' && c != '-') return false;
    }
  }
  return true;
}

void RequireHolder(Validator* v, absl::string_view holder) {
  if (holder.empty()) {
    v->Add("holder", "is required");
    return;
  }
  v->Check(IsHolderName(holder), "holder",
           "must be a resource name of at most 200 characters, such as applications/{id}");
}

void RequireOptionalIds(Validator* v, absl::string_view id_field, const std::string& id,
                        const std::string& request_id) {
  if (!id.empty()) {
    v->Check(IsValidResourceId(id), id_field,
             "must be 1-63 characters of lowercase letters, digits and hyphens");
  }
  if (!request_id.empty()) {
    v->Check(IsValidRequestId(request_id), "request_id",
             "must be 1-64 characters of letters, digits, '-' and '_'");
  }
}

}  // namespace

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
    v.Check(LoadClientTimeZone(site.time_zone(), &tz), "site.time_zone",
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
  RequireOptionalIds(&v, "site_id", request.site_id(), request.request_id());
  return v.Finish();
}

void ValidateRotationFields(const v1::Rotation& r, Validator* v) {
  RequireChars(v, "rotation.title", r.title(), 1, 200);
  RequireChars(v, "rotation.description", r.description(), 0, 10000);
  RequireEnum(v, "rotation.specialty", r.specialty(),
                                   type::v1::Specialty_IsValid);
  RequireEnum(v, "rotation.experience_type", r.experience_type(),
                                        type::v1::ExperienceType_IsValid);
  RequireEnum(v, "rotation.setting", r.setting(), type::v1::Setting_IsValid);

  const type::v1::HandsOn& hands_on = r.hands_on();
  v->RequireRange("rotation.hands_on.students_per_preceptor", hands_on.students_per_preceptor(),
                  0, 50);
  bool observing = r.experience_type() == type::v1::OBSERVERSHIP ||
                   r.experience_type() == type::v1::SHADOWING;
  if (observing) {
    v->Check(!hands_on.patient_contact(), "rotation.hands_on.patient_contact",
             "must be false for observerships and shadowing");
    v->Check(!hands_on.note_writing(), "rotation.hands_on.note_writing",
             "must be false for observerships and shadowing");
  }
  v->RequireRange("rotation.duration_weeks", r.duration_weeks(), 1, 52);

  const type::v1::FeeBreakdown& fees = r.fees();
  RequireCents(v, "rotation.fees.program_fee_cents", fees.program_fee_cents());
  RequireCents(v, "rotation.fees.application_fee_cents", fees.application_fee_cents());
  RequireCents(v, "rotation.fees.background_check_cents", fees.background_check_cents());
  RequireCents(v, "rotation.fees.malpractice_insurance_cents",
               fees.malpractice_insurance_cents());
  RequireCents(v, "rotation.fees.housing_estimate_cents", fees.housing_estimate_cents());
  RequireEnum(v, "rotation.refund_policy", r.refund_policy(),
                                      type::v1::RefundPolicy_IsValid);
  RequireCents(v, "rotation.stipend_cents", r.stipend_cents());

  const type::v1::EligibilityRules& e = r.eligibility();
  RequireEnumList(v, "rotation.eligibility.allowed_training_stages", e.allowed_training_stages(),
                  type::v1::TrainingStage_IsValid, 2);
  v->RequireRange("rotation.eligibility.min_step2ck_score", e.min_step2ck_score(), 0, 300);
  RequireEnumList(v, "rotation.eligibility.accepted_visa_statuses", e.accepted_visa_statuses(),
                  type::v1::VisaStatus_IsValid, 9);
  v->RequireRange("rotation.eligibility.max_years_since_graduation",
                  e.max_years_since_graduation(), 0, 50);
  RequireEnumList(v, "rotation.required_documents", r.required_documents(),
                  type::v1::DocumentKind_IsValid, 13);
  RequireChars(v, "rotation.supervising_physician", r.supervising_physician(), 0, 200);
}

absl::Status ValidateCreateRotation(const v1::CreateRotationRequest& request) {
  Validator v;
  if (!request.has_rotation()) {
    v.Add("rotation", "is required");
    return v.Finish();
  }
  v.RequireName("rotation.site", request.rotation().site(), "sites");
  ValidateRotationFields(request.rotation(), &v);
  RequireOptionalIds(&v, "rotation_id", request.rotation_id(), request.request_id());
  return v.Finish();
}

absl::Status ValidateUpdateRotationRequest(const v1::UpdateRotationRequest& request) {
  Validator v;
  if (!request.has_rotation()) {
    v.Add("rotation", "is required");
  } else {
    v.RequireName("rotation.name", request.rotation().name(), "rotations");
  }
  return v.Finish();
}

void ValidateSessionFields(const v1::Session& s, Validator* v) {
  bool start_ok = v->RequireDate("session.start_date", s.start_date());
  bool end_ok = v->RequireDate("session.end_date", s.end_date());
  bool deadline_ok = v->RequireDate("session.application_deadline", s.application_deadline());
  if (start_ok && end_ok) {
    int64_t days = DayNumber(s.end_date()) - DayNumber(s.start_date());
    v->Check(days >= 0, "session.end_date", "must not be before start_date") &&
        v->Check(days <= 366, "session.end_date", "must be at most 366 days after start_date");
  }
  if (start_ok && deadline_ok) {
    v->Check(DayNumber(s.application_deadline()) <= DayNumber(s.start_date()),
             "session.application_deadline", "must be on or before start_date");
  }
  v->RequireRange("session.capacity", s.capacity(), 1, 1000);
}

absl::Status ValidateCreateSession(const v1::CreateSessionRequest& request) {
  Validator v;
  v.RequireName("parent", request.parent(), "rotations");
  if (!request.has_session()) {
    v.Add("session", "is required");
  } else {
    ValidateSessionFields(request.session(), &v);
  }
  RequireOptionalIds(&v, "session_id", request.session_id(), request.request_id());
  return v.Finish();
}

absl::Status ValidateUpdateSessionRequest(const v1::UpdateSessionRequest& request) {
  Validator v;
  if (!request.has_session()) {
    v.Add("session", "is required");
  } else {
    RequireSessionName(&v, "session.name", request.session().name());
  }
  return v.Finish();
}

bool ParseSessionName(absl::string_view name, std::string* rotation_id,
                      std::string* session_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "rotations" || parts[2] != "sessions" ||
      !IsValidResourceId(parts[1]) || !IsValidResourceId(parts[3])) {
    return false;
  }
  *rotation_id = std::string(parts[1]);
  *session_id = std::string(parts[3]);
  return true;
}

bool RequireSessionName(Validator* v, absl::string_view field, absl::string_view name) {
  if (name.empty()) {
    v->Add(field, "is required (rotations/{rotation}/sessions/{session})");
    return false;
  }
  std::string r, s;
  return v->Check(ParseSessionName(name, &r, &s), field,
                  "must be a resource name of the form rotations/{rotation}/sessions/{session}");
}

absl::Status ValidateHoldSeat(const v1::HoldSeatRequest& request, absl::Time now) {
  Validator v;
  RequireSessionName(&v, "session", request.session());
  RequireHolder(&v, request.holder());
  if (!request.has_expire_time()) {
    v.Add("expire_time", "is required");
  } else {
    const auto& t = request.expire_time();
    if (v.Check(t.nanos() >= 0 && t.nanos() < 1'000'000'000 && t.seconds() > 0 &&
                    t.seconds() < 253402300800,  // before year 10000
                "expire_time", "is not a valid timestamp")) {
      absl::Time expire = FromProtoTime(t);
      v.Check(expire > now, "expire_time", "must be in the future") &&
          v.Check(expire <= now + absl::Hours(24 * 30), "expire_time",
                  "must be at most 30 days ahead");
    }
  }
  return v.Finish();
}

absl::Status ValidateConfirmSeat(const v1::ConfirmSeatRequest& request) {
  Validator v;
  RequireSessionName(&v, "session", request.session());
  RequireHolder(&v, request.holder());
  return v.Finish();
}

absl::Status ValidateReleaseSeat(const v1::ReleaseSeatRequest& request) {
  Validator v;
  RequireSessionName(&v, "session", request.session());
  RequireHolder(&v, request.holder());
  const std::string& reason = request.reason();
  bool upper_snake = reason.size() <= 64;
  for (char c : reason) {
    upper_snake = upper_snake && (absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '_');
  }
  v.Check(upper_snake, "reason", "must be UPPER_SNAKE text of at most 64 characters");
  return v.Finish();
}

absl::Status ValidateGetSeatInventory(const v1::GetSeatInventoryRequest& request) {
  Validator v;
  RequireSessionName(&v, "session", request.session());
  return v.Finish();
}

}  // namespace clerkship::catalog

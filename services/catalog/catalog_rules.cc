#include "services/catalog/catalog_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/page_token.h"
#include "google/protobuf/util/field_mask_util.h"

namespace clerkship::catalog {
namespace {

using google::protobuf::FieldMask;
using google::protobuf::util::FieldMaskUtil;

absl::CivilDay ParseDay(absl::string_view date) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(date, &day)) return absl::CivilDay(1970, 1, 1);
  return day;
}

absl::TimeZone ZoneOrUtc(absl::string_view name) {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(name, &tz)) return absl::UTCTimeZone();
  return tz;
}

std::string Trimmed(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

// Sub-paths of the three nested messages that a mask may name one by one.
const std::vector<std::string>& RotationLeafPaths() {
  static const auto* paths = new std::vector<std::string>{
      "hands_on.patient_contact",
      "hands_on.emr_access",
      "hands_on.note_writing",
      "hands_on.students_per_preceptor",
      "fees.program_fee_cents",
      "fees.application_fee_cents",
      "fees.background_check_cents",
      "fees.malpractice_insurance_cents",
      "fees.housing_estimate_cents",
      "eligibility.allowed_training_stages",
      "eligibility.step1_pass_required",
      "eligibility.step2ck_required",
      "eligibility.min_step2ck_score",
      "eligibility.ecfmg_required",
      "eligibility.accepted_visa_statuses",
      "eligibility.max_years_since_graduation",
  };
  return *paths;
}

bool IsNestedMessagePath(absl::string_view path) {
  return path == "hands_on" || path == "fees" || path == "eligibility";
}

// The fields of `message` that are set (proto3: non-default), as paths under `prefix`.
void AppendSetFields(const google::protobuf::Message& message, const std::string& prefix,
                     std::vector<std::string>* out) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const auto* field : fields) out->push_back(prefix + field->name());
}

// Applies `paths` (already checked) from patch to target: set values are copied, unset ones
// cleared, messages and lists replaced as a whole.
template <typename T>
void MergeAlong(const T& patch, const std::vector<std::string>& paths, T* target) {
  FieldMask mask;
  for (const std::string& p : paths) mask.add_paths(p);
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(patch, mask, options, target);
}

absl::Status BadMaskPath(absl::string_view path) {
  return InvalidFieldError(
      "update_mask", absl::StrCat("path \"", path, "\" is unknown or cannot be updated"));
}

}  // namespace

// ---- Dates -------------------------------------------------------------------------------

int64_t DayNumber(absl::string_view date) { return ParseDay(date) - absl::CivilDay(1970, 1, 1); }

std::string DateOfDay(int64_t day) {
  return absl::FormatCivilTime(absl::CivilDay(1970, 1, 1) + day);
}

std::string TodayIn(absl::Time now, absl::string_view time_zone) {
  return absl::FormatCivilTime(absl::ToCivilDay(now, ZoneOrUtc(time_zone)));
}

absl::Time ApplicationsCloseAt(absl::string_view deadline, absl::string_view time_zone) {
  return absl::FromCivil(ParseDay(deadline) + 1, ZoneOrUtc(time_zone));
}

// ---- Rotations ---------------------------------------------------------------------------

int64_t TotalFeeCents(const type::v1::FeeBreakdown& fees) {
  return fees.program_fee_cents() + fees.application_fee_cents() +
         fees.background_check_cents() + fees.malpractice_insurance_cents() +
         fees.housing_estimate_cents();
}

void NormalizeRotationInput(v1::Rotation* rotation) {
  rotation->set_title(Trimmed(rotation->title()));
  rotation->set_description(Trimmed(rotation->description()));
  rotation->set_supervising_physician(Trimmed(rotation->supervising_physician()));
  rotation->set_site(Trimmed(rotation->site()));
  rotation->mutable_fees()->set_total_cents(TotalFeeCents(rotation->fees()));
}

void NormalizeSessionInput(v1::Session* session) {
  session->set_start_date(Trimmed(session->start_date()));
  session->set_end_date(Trimmed(session->end_date()));
  session->set_application_deadline(Trimmed(session->application_deadline()));
}

std::string NormalizeCity(absl::string_view city) {
  std::vector<absl::string_view> words =
      absl::StrSplit(city, absl::ByAnyChar(" \t\r\n\f\v"), absl::SkipEmpty());
  return absl::AsciiStrToLower(absl::StrJoin(words, " "));
}

std::vector<std::string> SearchTermsOf(const v1::Rotation& r) {
  std::vector<std::string> terms = {
      absl::StrCat("specialty:", type::v1::Specialty_Name(r.specialty())),
      absl::StrCat("type:", type::v1::ExperienceType_Name(r.experience_type())),
      absl::StrCat("setting:", type::v1::Setting_Name(r.setting())),
      absl::StrCat("hands_on:", r.hands_on().patient_contact() ? 1 : 0),
      absl::StrCat("state:", r.us_state()),
      absl::StrCat("city:", NormalizeCity(r.city())),
      absl::StrCat("lor:", r.lor_offered() ? 1 : 0),
  };
  const auto& accepted = r.eligibility().accepted_visa_statuses();
  const auto* visas = type::v1::VisaStatus_descriptor();
  for (int i = 0; i < visas->value_count(); ++i) {
    auto visa = static_cast<type::v1::VisaStatus>(visas->value(i)->number());
    if (visa == type::v1::VISA_STATUS_UNSPECIFIED) continue;
    if (accepted.empty() || std::find(accepted.begin(), accepted.end(), visa) != accepted.end()) {
      terms.push_back(absl::StrCat("visa:", visas->value(i)->name()));
    }
  }
  return terms;
}

const std::vector<std::string>& RotationUpdatablePaths() {
  static const auto* paths = new std::vector<std::string>{
      "title",          "description",   "specialty",
      "experience_type", "setting",      "hands_on",
      "duration_weeks", "fees",          "refund_policy",
      "stipend_cents",  "lor_offered",   "eligibility",
      "required_documents", "verified_documents_required", "supervising_physician"};
  return *paths;
}

absl::StatusOr<std::vector<std::string>> ApplyRotationUpdate(const v1::Rotation& patch,
                                                             const FieldMask& mask,
                                                             v1::Rotation* target) {
  const auto& top = RotationUpdatablePaths();
  const auto& leaves = RotationLeafPaths();
  std::vector<std::string> paths;
  bool all = mask.paths_size() == 1 && mask.paths(0) == "*";
  if (all) {
    paths = top;
  } else if (mask.paths_size() == 0) {
    // The implied mask: every field that is set, down to the leaves of nested messages so
    // that a partial PATCH of fees does not zero the other components.
    const auto* descriptor = v1::Rotation::descriptor();
    const auto* reflection = patch.GetReflection();
    for (const std::string& path : top) {
      const auto* field = descriptor->FindFieldByName(path);
      if (IsNestedMessagePath(path)) {
        if (!reflection->HasField(patch, field)) continue;
        std::vector<std::string> set;
        AppendSetFields(reflection->GetMessage(patch, field), path + ".", &set);
        for (std::string& p : set) {
          if (p != "fees.total_cents") paths.push_back(std::move(p));  // output only
        }
      } else if (field->is_repeated() ? reflection->FieldSize(patch, field) > 0
                                      : reflection->HasField(patch, field)) {
        paths.push_back(path);
      }
    }
  } else {
    for (const std::string& path : mask.paths()) {
      bool known = std::find(top.begin(), top.end(), path) != top.end() ||
                   std::find(leaves.begin(), leaves.end(), path) != leaves.end();
      if (!known) return BadMaskPath(path);
      if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
    }
  }
  MergeAlong(patch, paths, target);
  NormalizeRotationInput(target);
  return paths;
}

absl::StatusOr<std::vector<std::string>> ApplySessionUpdate(const v1::Session& patch,
                                                            const FieldMask& mask,
                                                            v1::Session* target) {
  static const std::vector<std::string> kUpdatable = {"start_date", "end_date",
                                                      "application_deadline", "capacity"};
  std::vector<std::string> paths;
  if (mask.paths_size() == 1 && mask.paths(0) == "*") {
    paths = kUpdatable;
  } else if (mask.paths_size() == 0) {
    if (!patch.start_date().empty()) paths.push_back("start_date");
    if (!patch.end_date().empty()) paths.push_back("end_date");
    if (!patch.application_deadline().empty()) paths.push_back("application_deadline");
    if (patch.capacity() != 0) paths.push_back("capacity");
  } else {
    for (const std::string& path : mask.paths()) {
      if (std::find(kUpdatable.begin(), kUpdatable.end(), path) == kUpdatable.end()) {
        return BadMaskPath(path);
      }
      if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
    }
  }
  MergeAlong(patch, paths, target);
  NormalizeSessionInput(target);
  return paths;
}

// ---- Who may do what ---------------------------------------------------------------------

bool CanManageSite(const auth::Identity& who, absl::string_view site_name) {
  return who.is_privileged() || who.is_coordinator_of(site_name);
}

bool CanManageAnySite(const auth::Identity& who) {
  return who.is_privileged() || (who.role == auth::Role::kCoordinator && !who.site.empty());
}

bool CanSeeRotation(const auth::Identity& who, const v1::Rotation& rotation) {
  return CanSeeRotation(who, rotation.state(), rotation.site());
}

bool CanSeeRotation(const auth::Identity& who, v1::Rotation::State state,
                    const std::string& site) {
  return state != v1::Rotation::DRAFT || CanManageSite(who, site);
}

// ---- Search ------------------------------------------------------------------------------

absl::StatusOr<SearchQuery> ParseSearchQuery(const v1::SearchRotationsRequest& r) {
  Validator v;
  SearchQuery q;
  std::vector<std::string> canonical;
  if (r.specialty() != type::v1::SPECIALTY_UNSPECIFIED &&
      v.Check(type::v1::Specialty_IsValid(r.specialty()), "specialty",
              "is not a known specialty")) {
    q.terms.push_back(absl::StrCat("specialty:", type::v1::Specialty_Name(r.specialty())));
  }
  if (r.experience_type() != type::v1::EXPERIENCE_TYPE_UNSPECIFIED &&
      v.Check(type::v1::ExperienceType_IsValid(r.experience_type()), "experience_type",
              "is not a known experience type")) {
    q.terms.push_back(
        absl::StrCat("type:", type::v1::ExperienceType_Name(r.experience_type())));
  }
  if (r.setting() != type::v1::SETTING_UNSPECIFIED &&
      v.Check(type::v1::Setting_IsValid(r.setting()), "setting", "is not a known setting")) {
    q.terms.push_back(absl::StrCat("setting:", type::v1::Setting_Name(r.setting())));
  }
  if (r.has_hands_on()) q.terms.push_back(absl::StrCat("hands_on:", r.hands_on() ? 1 : 0));
  std::string state = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(r.us_state()));
  if (!state.empty() && v.RequireUsState("us_state", state)) {
    q.terms.push_back(absl::StrCat("state:", state));
  }
  std::string city = NormalizeCity(r.city());
  if (!r.city().empty() && v.RequireLength("city", r.city(), 0, 400)) {
    // 100 characters (code points); 400 bytes bounds any UTF-8 spelling of them.
    int code_points = 0;
    for (char c : r.city()) code_points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (v.Check(code_points <= 100, "city", "must be at most 100 characters") && !city.empty()) {
      q.terms.push_back(absl::StrCat("city:", city));
    }
  }
  if (r.has_lor_offered()) q.terms.push_back(absl::StrCat("lor:", r.lor_offered() ? 1 : 0));
  if (r.visa() != type::v1::VISA_STATUS_UNSPECIFIED &&
      v.Check(type::v1::VisaStatus_IsValid(r.visa()), "visa", "is not a known visa status")) {
    q.terms.push_back(absl::StrCat("visa:", type::v1::VisaStatus_Name(r.visa())));
  }
  if (v.Check(r.max_total_fee_cents() >= 0, "max_total_fee_cents", "must not be negative") &&
      r.max_total_fee_cents() > 0) {
    q.max_total_fee_cents = r.max_total_fee_cents();
  }
  bool from_ok = v.RequireDate("start_from", r.start_from(), false);
  bool to_ok = v.RequireDate("start_to", r.start_to(), false);
  if (from_ok && !r.start_from().empty()) q.start_from_day = DayNumber(r.start_from());
  if (to_ok && !r.start_to().empty()) q.start_to_day = DayNumber(r.start_to());
  if (q.start_from_day && q.start_to_day) {
    v.Check(*q.start_to_day >= *q.start_from_day, "start_to", "must not be before start_from");
  }
  q.has_seats = r.has_seats();
  if (r.order_by().empty() || r.order_by() == "start_date") {
    q.order = SearchOrder::kStartDate;
  } else if (r.order_by() == "total_fee") {
    q.order = SearchOrder::kTotalFee;
  } else if (r.order_by() == "seats_available desc") {
    q.order = SearchOrder::kSeatsAvailable;
  } else {
    v.Add("order_by", "must be one of \"start_date\", \"total_fee\", \"seats_available desc\"");
  }
  v.Check(r.page_size() >= 0, "page_size", "must not be negative");
  if (absl::Status s = v.Finish(); !s.ok()) return s;

  // Terms are pushed in a fixed order, so the same filters always give the same text.
  q.fingerprint = Fingerprint(absl::StrCat(
      "search/v1|", absl::StrJoin(q.terms, "|"), "|fee=", q.max_total_fee_cents.value_or(0),
      "|from=", q.start_from_day ? absl::StrCat(*q.start_from_day) : "",
      "|to=", q.start_to_day ? absl::StrCat(*q.start_to_day) : "", "|seats=", q.has_seats,
      "|order=", static_cast<int>(q.order)));
  return q;
}

std::string EncodeSearchCursor(const SearchCursor& cursor) {
  return absl::StrCat(cursor.score, "|", cursor.rotation_id);
}

std::optional<SearchCursor> DecodeSearchCursor(absl::string_view position) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(position, absl::MaxSplits('|', 1));
  SearchCursor cursor;
  if (!absl::SimpleAtoi(parts.first, &cursor.score) || !IsValidResourceId(parts.second)) {
    return std::nullopt;
  }
  cursor.rotation_id = std::string(parts.second);
  return cursor;
}

}  // namespace clerkship::catalog

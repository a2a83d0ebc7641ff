#include "services/applicant/applicant_validation.h"

#include <google/protobuf/util/field_mask_util.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace clerkship::applicant {
namespace {

namespace type = clerkship::type::v1;

constexpr std::array<const char*, 17> kUpdatablePaths = {
    "given_name",       "family_name",     "email",           "training_stage",
    "medical_school",   "school_country",  "graduation_year", "step1_status",
    "step2ck_score",    "ecfmg_certified", "visa_status",     "specialty_interests",
    "preferred_states", "availability",    "budget_cents",    "prefers_hands_on",
    "time_zone"};

size_t CodePoints(absl::string_view s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

void Trim(std::string* s) { *s = std::string(absl::StripAsciiWhitespace(*s)); }

std::string Path(absl::string_view prefix, absl::string_view field) {
  return absl::StrCat(prefix, field);
}

}  // namespace

bool RequireChars(Validator* v, absl::string_view field, absl::string_view value, size_t min,
                  size_t max) {
  if (!v->Check(IsValidUtf8(value), field, "must be valid UTF-8")) return false;
  size_t n = CodePoints(absl::StripAsciiWhitespace(value));
  if (min > 0 && n == 0) {
    v->Add(field, "is required");
    return false;
  }
  return v->Check(n >= min && n <= max, field,
                  absl::StrCat("must be between ", min, " and ", max, " characters long"));
}

std::string RotationOfSession(absl::string_view session) {
  std::vector<absl::string_view> parts = absl::StrSplit(session, '/');
  if (parts.size() != 4 || parts[0] != "rotations" || parts[2] != "sessions" ||
      !IsValidResourceId(parts[1]) || !IsValidResourceId(parts[3])) {
    return "";
  }
  return absl::StrCat("rotations/", parts[1]);
}

bool RequireSessionName(Validator* v, absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    v->Add(field, "is required (rotations/{rotation}/sessions/{session})");
    return false;
  }
  return v->Check(!RotationOfSession(value).empty(), field,
                  "must be a resource name of the form rotations/{rotation}/sessions/{session}");
}

void NormalizeApplicant(v1::Applicant* a) {
  Trim(a->mutable_given_name());
  Trim(a->mutable_family_name());
  Trim(a->mutable_email());
  Trim(a->mutable_medical_school());
  Trim(a->mutable_school_country());
  Trim(a->mutable_time_zone());
  for (std::string& s : *a->mutable_preferred_states()) Trim(&s);
  for (type::DateRange& r : *a->mutable_availability()) {
    Trim(r.mutable_start_date());
    Trim(r.mutable_end_date());
  }
}

void NormalizeDocument(v1::Document* d) {
  Trim(d->mutable_display_name());
  Trim(d->mutable_uri());
  Trim(d->mutable_sha256());
  absl::AsciiStrToLower(d->mutable_sha256());
  Trim(d->mutable_issue_date());
  Trim(d->mutable_expiry_date());
}

void ValidateApplicantFields(const v1::Applicant& a, int current_year, absl::string_view prefix,
                             Validator* v) {
  RequireChars(v, Path(prefix, "given_name"), a.given_name(), 1, 100);
  RequireChars(v, Path(prefix, "family_name"), a.family_name(), 1, 100);
  if (a.email().empty()) {
    v->Add(Path(prefix, "email"), "is required");
  } else {
    v->RequireEmail(Path(prefix, "email"), a.email());
  }
  v->Check(type::TrainingStage_IsValid(a.training_stage()) &&
               a.training_stage() != type::TRAINING_STAGE_UNSPECIFIED,
           Path(prefix, "training_stage"), "is required: STUDENT or GRADUATE");
  RequireChars(v, Path(prefix, "medical_school"), a.medical_school(), 1, 200);
  v->Check(IsValidCountryCode(a.school_country()), Path(prefix, "school_country"),
           "must be an ISO 3166-1 alpha-2 country code in upper case, such as IN");
  v->RequireRange(Path(prefix, "graduation_year"), a.graduation_year(), 1950, current_year + 8);
  v->Check(type::Step1Status_IsValid(a.step1_status()) &&
               a.step1_status() != type::STEP1_STATUS_UNSPECIFIED,
           Path(prefix, "step1_status"), "is required");
  v->RequireRange(Path(prefix, "step2ck_score"), a.step2ck_score(), 0, 300);
  v->Check(
      type::VisaStatus_IsValid(a.visa_status()) && a.visa_status() != type::VISA_STATUS_UNSPECIFIED,
      Path(prefix, "visa_status"), "is required");

  std::string interests = Path(prefix, "specialty_interests");
  if (v->Check(a.specialty_interests_size() <= 10, interests, "must have at most 10 entries")) {
    std::set<int> seen;
    for (int s : a.specialty_interests()) {
      if (!type::Specialty_IsValid(s) || s == type::SPECIALTY_UNSPECIFIED) {
        v->Add(interests, "must name known specialties");
        break;
      }
      if (!seen.insert(s).second) {
        v->Add(interests, "must not repeat a specialty");
        break;
      }
    }
  }
  std::string states = Path(prefix, "preferred_states");
  if (v->Check(a.preferred_states_size() <= 52, states, "must have at most 52 entries")) {
    std::set<std::string> seen;
    for (const std::string& s : a.preferred_states()) {
      if (!IsUsStateCode(s)) {
        v->Add(states, "must be two-letter US state codes such as NY");
        break;
      }
      if (!seen.insert(s).second) {
        v->Add(states, "must not repeat a state");
        break;
      }
    }
  }
  std::string availability = Path(prefix, "availability");
  if (v->Check(a.availability_size() <= 20, availability, "must have at most 20 ranges")) {
    for (int i = 0; i < a.availability_size(); ++i) {
      const type::DateRange& r = a.availability(i);
      std::string at = absl::StrCat(availability, "[", i, "]");
      bool start_ok = v->RequireDate(absl::StrCat(at, ".start_date"), r.start_date());
      bool end_ok = v->RequireDate(absl::StrCat(at, ".end_date"), r.end_date());
      if (start_ok && end_ok) {
        v->Check(r.start_date() <= r.end_date(), absl::StrCat(at, ".end_date"),
                 "must be on or after start_date");
      }
    }
  }
  v->RequireRange(Path(prefix, "budget_cents"), a.budget_cents(), 0, 100000000);
  if (!a.time_zone().empty()) {
    absl::TimeZone tz;
    v->Check(LoadClientTimeZone(a.time_zone(), &tz), Path(prefix, "time_zone"),
             "must be an IANA time zone such as Asia/Kolkata");
  }
}

absl::StatusOr<std::vector<std::string>> ResolveUpdatePaths(
    const v1::UpdateApplicantRequest& request) {
  std::vector<std::string> paths;
  const auto& mask = request.update_mask().paths();
  if (mask.empty()) {
    // Every updatable field that is set in the request.
    const google::protobuf::Descriptor* d = v1::Applicant::descriptor();
    const google::protobuf::Reflection* r = v1::Applicant::GetReflection();
    for (const char* path : kUpdatablePaths) {
      const google::protobuf::FieldDescriptor* f = d->FindFieldByName(path);
      bool set = f->is_repeated() ? r->FieldSize(request.applicant(), f) > 0
                                  : r->HasField(request.applicant(), f);
      if (set) paths.push_back(path);
    }
    return paths;
  }
  for (const std::string& path : mask) {
    if (path == "*") {
      return std::vector<std::string>(kUpdatablePaths.begin(), kUpdatablePaths.end());
    }
    if (std::find(kUpdatablePaths.begin(), kUpdatablePaths.end(), path) == kUpdatablePaths.end()) {
      return InvalidFieldError(
          "update_mask", absl::StrCat("\"", path, "\" cannot be updated; updatable paths are ",
                                      absl::StrJoin(kUpdatablePaths, ", "), " or *"));
    }
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  }
  return paths;
}

void ApplyUpdatePaths(const v1::Applicant& from, const std::vector<std::string>& paths,
                      v1::Applicant* to) {
  google::protobuf::FieldMask mask;
  for (const std::string& p : paths) mask.add_paths(p);
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_repeated_fields(true);
  options.set_replace_message_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(from, mask, options, to);
}

void ValidateDocumentFields(const v1::Document& d, absl::string_view prefix, Validator* v) {
  v->Check(type::DocumentKind_IsValid(d.kind()) && d.kind() != type::DOCUMENT_KIND_UNSPECIFIED,
           Path(prefix, "kind"), "is required");
  RequireChars(v, Path(prefix, "display_name"), d.display_name(), 1, 200);
  std::string uri = Path(prefix, "uri");
  if (d.uri().empty()) {
    v->Add(uri, "is required");
  } else {
    bool scheme_ok = false;
    for (const char* scheme : {"https://", "s3://", "gs://"}) {
      if (absl::StartsWith(d.uri(), scheme) && d.uri().size() > strlen(scheme)) scheme_ok = true;
    }
    bool chars_ok =
        IsValidUtf8(d.uri()) && std::none_of(d.uri().begin(), d.uri().end(), [](char c) {
          return absl::ascii_isspace(c) || absl::ascii_iscntrl(c);
        });
    v->Check(scheme_ok && chars_ok && d.uri().size() <= 2048, uri,
             "must be an absolute https://, s3:// or gs:// URI of at most 2048 characters");
  }
  v->Check(d.sha256().size() == 64 && std::all_of(d.sha256().begin(), d.sha256().end(),
                                                  [](char c) { return absl::ascii_isxdigit(c); }),
           Path(prefix, "sha256"), "must be 64 hexadecimal digits");
  bool issue_ok = v->RequireDate(Path(prefix, "issue_date"), d.issue_date(), false);
  bool expiry_ok = v->RequireDate(Path(prefix, "expiry_date"), d.expiry_date(), false);
  if (issue_ok && expiry_ok && !d.issue_date().empty() && !d.expiry_date().empty()) {
    v->Check(d.expiry_date() >= d.issue_date(), Path(prefix, "expiry_date"),
             "must be on or after issue_date");
  }
}

bool IsValidCountryCode(absl::string_view code) {
  // ISO 3166-1 alpha-2, officially assigned codes.
  static const std::set<absl::string_view> kCodes = {
      "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX",
      "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ",
      "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK",
      "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
      "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR",
      "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS",
      "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN",
      "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
      "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV",
      "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ",
      "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI",
      "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
      "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC",
      "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV",
      "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR",
      "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
      "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"};
  return kCodes.count(code) > 0;
}

std::string EmailDigest(absl::string_view email) {
  return Sha256Hex(absl::AsciiStrToLower(absl::StripAsciiWhitespace(email)));
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

}  // namespace clerkship::applicant

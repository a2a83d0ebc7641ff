#pragma once

// The eligibility engine: may this applicant take this rotation, and if not, why not?
//
// Plain functions over the API protos, with no I/O, so that the applicant service
// (CheckEligibility, SubmitApplication) and the matching service (recommendations, rank
// lists) give the same answer for the same input. "Today" is passed in, never read from a
// clock, so callers decide the time zone and tests decide the date.
//
// Two separate questions:
//   CheckEligibility  the rotation's EligibilityRules and the platform rules (B-1/B-2
//                     graduates only observe or shadow; students need a school authorization
//                     letter for hands-on rotations). Codes as in
//                     applicant.v1.EligibilityReason.
//   CheckDocuments    the rotation's required documents: present (not rejected), verified
//                     where the rotation requires it, not expiring before the session ends.
//                     Codes as in applicant.v1.DocumentIssue.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "clerkship/applicant/v1/applicant.pb.h"
#include "clerkship/catalog/v1/catalog.pb.h"

namespace clerkship::eligibility {

// Codes of eligibility reasons (applicant.v1.EligibilityReason.code).
inline constexpr char kRotationNotPublished[] = "ROTATION_NOT_PUBLISHED";
inline constexpr char kTrainingStageNotAllowed[] = "TRAINING_STAGE_NOT_ALLOWED";
inline constexpr char kStep1PassRequired[] = "STEP1_PASS_REQUIRED";
inline constexpr char kStep2ckRequired[] = "STEP2CK_REQUIRED";
inline constexpr char kStep2ckScoreBelowMinimum[] = "STEP2CK_SCORE_BELOW_MINIMUM";
inline constexpr char kEcfmgRequired[] = "ECFMG_REQUIRED";
inline constexpr char kVisaNotAccepted[] = "VISA_NOT_ACCEPTED";
inline constexpr char kGraduatedTooLongAgo[] = "GRADUATED_TOO_LONG_AGO";
inline constexpr char kB1B2ObservershipOnly[] = "B1_B2_OBSERVERSHIP_ONLY";
inline constexpr char kSchoolAuthorizationRequired[] = "SCHOOL_AUTHORIZATION_REQUIRED";

// Codes of document issues (applicant.v1.DocumentIssue.code).
inline constexpr char kDocumentMissing[] = "DOCUMENT_MISSING";
inline constexpr char kDocumentNotVerified[] = "DOCUMENT_NOT_VERIFIED";
inline constexpr char kDocumentExpiresTooSoon[] = "DOCUMENT_EXPIRES_TOO_SOON";

struct Reason {
  std::string code;
  std::string message;  // plain words, shown to the applicant
};

struct DocumentIssue {
  clerkship::type::v1::DocumentKind kind = clerkship::type::v1::DOCUMENT_KIND_UNSPECIFIED;
  std::string code;
  std::string message;
};

struct EligibilityInput {
  const catalog::v1::Rotation* rotation = nullptr;      // required
  const catalog::v1::Session* session = nullptr;        // optional: documents must last through it
  const applicant::v1::Applicant* applicant = nullptr;  // required
  const std::vector<applicant::v1::Document>* documents = nullptr;  // optional (none)
  absl::CivilDay today;                                             // in the applicant's time zone
};

// Every reason the applicant may not take the rotation, in a fixed order; empty = eligible.
std::vector<Reason> CheckEligibility(const EligibilityInput& input);

// Every problem with the rotation's required documents, in the rotation's order; empty =
// ready. A document counts when it is not REJECTED, has no expiry_date before
// `valid_through`, and (if the rotation has verified_documents_required) is VERIFIED.
std::vector<DocumentIssue> CheckDocuments(const catalog::v1::Rotation& rotation,
                                          const std::vector<applicant::v1::Document>& documents,
                                          absl::CivilDay valid_through,
                                          bool valid_through_is_session_end);

// The day documents must still be valid on: the session's end date, or today without one.
absl::CivilDay DocumentsValidThrough(const catalog::v1::Session* session, absl::CivilDay today);

// A rotation is hands-on exactly when it has patient contact (types.proto, HandsOn).
bool IsHandsOn(const catalog::v1::Rotation& rotation);

// "YYYY-MM-DD" → day; false for anything else (including impossible dates).
bool ParseDay(absl::string_view text, absl::CivilDay* day);
std::string FormatDay(absl::CivilDay day);

// Words for enum values in messages: "passport", "B-1/B-2 visa", "observership".
std::string DocumentKindWords(clerkship::type::v1::DocumentKind kind);
std::string VisaWords(clerkship::type::v1::VisaStatus visa);
std::string ExperienceTypeWords(clerkship::type::v1::ExperienceType type);

}  // namespace clerkship::eligibility

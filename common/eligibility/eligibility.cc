#include "common/eligibility/eligibility.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace clerkship::eligibility {
namespace {

using applicant::v1::Applicant;
using applicant::v1::Document;
using catalog::v1::Rotation;
namespace type = clerkship::type::v1;

bool Contains(const google::protobuf::RepeatedField<int>& values, int value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// The document is usable on `valid_through`: no expiry date, or one on or after that day.
bool LastsThrough(const Document& doc, absl::CivilDay valid_through) {
  if (doc.expiry_date().empty()) return true;
  absl::CivilDay expiry;
  // An unreadable stored date cannot be trusted to last.
  if (!ParseDay(doc.expiry_date(), &expiry)) return false;
  return expiry >= valid_through;
}

std::string TrainingStageWords(type::TrainingStage stage, bool plural) {
  switch (stage) {
    case type::STUDENT:
      return plural ? "medical students" : "medical student";
    case type::GRADUATE:
      return plural ? "medical graduates" : "medical graduate";
    default:
      return plural ? "applicants of an unknown training stage" : "unknown stage";
  }
}

std::string WithArticle(const std::string& words) {
  if (words.empty()) return words;
  char first = absl::ascii_tolower(words[0]);
  bool vowel = first == 'a' || first == 'e' || first == 'i' || first == 'o' || first == 'u';
  return absl::StrCat(vowel ? "an " : "a ", words);
}

// The school authorization letter rule (platform): a student needs one for a hands-on
// rotation. Follows applicant.proto: a letter that is not rejected counts; where the rotation
// wants verified documents it must be verified too, and it must last through the session.
bool HasUsableSchoolAuthorization(const Rotation& rotation, const std::vector<Document>& documents,
                                  absl::CivilDay valid_through) {
  for (const Document& doc : documents) {
    if (doc.kind() != type::SCHOOL_AUTHORIZATION_LETTER) continue;
    if (doc.state() == Document::REJECTED) continue;
    if (rotation.verified_documents_required() && doc.state() != Document::VERIFIED) continue;
    if (!LastsThrough(doc, valid_through)) continue;
    return true;
  }
  return false;
}

}  // namespace

bool ParseDay(absl::string_view text, absl::CivilDay* day) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(text[i])) return false;
  }
  int year =
      (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
  int month = (text[5] - '0') * 10 + (text[6] - '0');
  int dom = (text[8] - '0') * 10 + (text[9] - '0');
  absl::CivilDay parsed(year, month, dom);
  // CivilDay normalizes 2027-02-30 to 2027-03-02; a real date survives unchanged.
  if (parsed.year() != year || parsed.month() != month || parsed.day() != dom) return false;
  *day = parsed;
  return true;
}

std::string FormatDay(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

bool IsHandsOn(const Rotation& rotation) { return rotation.hands_on().patient_contact(); }

absl::CivilDay DocumentsValidThrough(const catalog::v1::Session* session, absl::CivilDay today) {
  absl::CivilDay end;
  if (session != nullptr && ParseDay(session->end_date(), &end)) return end;
  return today;
}

std::string DocumentKindWords(type::DocumentKind kind) {
  switch (kind) {
    case type::CV:
      return "CV";
    case type::PASSPORT:
      return "passport";
    case type::PHOTO:
      return "photo";
    case type::IMMUNIZATION_RECORD:
      return "immunization record";
    case type::TB_TEST:
      return "TB test result";
    case type::BACKGROUND_CHECK:
      return "background check";
    case type::LIABILITY_INSURANCE:
      return "liability insurance certificate";
    case type::USMLE_TRANSCRIPT:
      return "USMLE transcript";
    case type::MEDICAL_DIPLOMA:
      return "medical diploma";
    case type::DEANS_LETTER:
      return "dean's letter";
    case type::SCHOOL_AUTHORIZATION_LETTER:
      return "school authorization letter";
    case type::BLS_CERTIFICATE:
      return "BLS certificate";
    case type::OTHER_DOCUMENT:
      return "other document";
    default:
      return "document";
  }
}

std::string VisaWords(type::VisaStatus visa) {
  switch (visa) {
    case type::US_CITIZEN:
      return "US citizen";
    case type::PERMANENT_RESIDENT:
      return "permanent resident";
    case type::B1_B2:
      return "B-1/B-2 visa";
    case type::F1:
      return "F-1 visa";
    case type::J1:
      return "J-1 visa";
    case type::H1B:
      return "H-1B visa";
    case type::EAD:
      return "employment authorization document";
    case type::NO_US_VISA:
      return "no US visa";
    case type::OTHER_VISA:
      return "other visa status";
    default:
      return "unknown visa status";
  }
}

std::string ExperienceTypeWords(type::ExperienceType t) {
  switch (t) {
    case type::CLINICAL_ROTATION:
      return "clinical rotation";
    case type::ELECTIVE:
      return "elective";
    case type::EXTERNSHIP:
      return "externship";
    case type::OBSERVERSHIP:
      return "observership";
    case type::SHADOWING:
      return "shadowing placement";
    case type::RESEARCH:
      return "research placement";
    case type::TELEHEALTH:
      return "telehealth rotation";
    default:
      return "rotation";
  }
}

std::vector<Reason> CheckEligibility(const EligibilityInput& input) {
  static const std::vector<Document> kNoDocuments;
  const Rotation& rotation = *input.rotation;
  const Applicant& applicant = *input.applicant;
  const std::vector<Document>& documents =
      input.documents != nullptr ? *input.documents : kNoDocuments;
  const type::EligibilityRules& rules = rotation.eligibility();
  std::vector<Reason> reasons;

  if (rotation.state() != Rotation::PUBLISHED) {
    reasons.push_back({kRotationNotPublished, "This rotation is not open for applications."});
  }

  if (rules.allowed_training_stages_size() > 0 &&
      !Contains(rules.allowed_training_stages(), applicant.training_stage())) {
    std::vector<std::string> allowed;
    for (int stage : rules.allowed_training_stages()) {
      allowed.push_back(TrainingStageWords(static_cast<type::TrainingStage>(stage), true));
    }
    reasons.push_back(
        {kTrainingStageNotAllowed,
         absl::StrCat("This rotation is open to ", absl::StrJoin(allowed, " and "), " only.")});
  }

  if (rules.step1_pass_required() && applicant.step1_status() != type::STEP1_PASSED) {
    reasons.push_back({kStep1PassRequired, "This rotation requires a passed USMLE Step 1."});
  }

  // A minimum score implies that a score is required (types.proto, EligibilityRules).
  bool score_required = rules.step2ck_required() || rules.min_step2ck_score() > 0;
  if (score_required && applicant.step2ck_score() <= 0) {
    reasons.push_back({kStep2ckRequired, "This rotation requires a USMLE Step 2 CK score."});
  } else if (rules.min_step2ck_score() > 0 &&
             applicant.step2ck_score() < rules.min_step2ck_score()) {
    reasons.push_back({kStep2ckScoreBelowMinimum,
                       absl::StrCat("This rotation requires a USMLE Step 2 CK score of at least ",
                                    rules.min_step2ck_score(), ".")});
  }

  if (rules.ecfmg_required() && !applicant.ecfmg_certified()) {
    reasons.push_back({kEcfmgRequired, "This rotation requires ECFMG certification."});
  }

  if (rules.accepted_visa_statuses_size() > 0 &&
      !Contains(rules.accepted_visa_statuses(), applicant.visa_status())) {
    std::vector<std::string> accepted;
    for (int visa : rules.accepted_visa_statuses()) {
      accepted.push_back(VisaWords(static_cast<type::VisaStatus>(visa)));
    }
    reasons.push_back(
        {kVisaNotAccepted, absl::StrCat("This rotation accepts only these visa statuses: ",
                                        absl::StrJoin(accepted, ", "), ".")});
  }

  // Students always pass the years-since-graduation rule (their year is an expected one).
  if (rules.max_years_since_graduation() > 0 && applicant.training_stage() == type::GRADUATE &&
      input.today.year() - applicant.graduation_year() > rules.max_years_since_graduation()) {
    reasons.push_back(
        {kGraduatedTooLongAgo,
         absl::StrCat("This rotation accepts graduates up to ", rules.max_years_since_graduation(),
                      rules.max_years_since_graduation() == 1 ? " year" : " years",
                      " after graduation.")});
  }

  // Platform rule: a graduate on a visitor visa may only observe.
  bool observational = rotation.experience_type() == type::OBSERVERSHIP ||
                       rotation.experience_type() == type::SHADOWING;
  if (applicant.training_stage() == type::GRADUATE && applicant.visa_status() == type::B1_B2 &&
      !observational) {
    reasons.push_back(
        {kB1B2ObservershipOnly,
         absl::StrCat("Graduates on a B-1/B-2 visa may only take observerships or shadowing; "
                      "this rotation is ",
                      WithArticle(ExperienceTypeWords(rotation.experience_type())), ".")});
  }

  // Platform rule: a student needs the school's permission for patient contact.
  if (applicant.training_stage() == type::STUDENT && IsHandsOn(rotation) &&
      !HasUsableSchoolAuthorization(rotation, documents,
                                    DocumentsValidThrough(input.session, input.today))) {
    reasons.push_back(
        {kSchoolAuthorizationRequired,
         rotation.verified_documents_required()
             ? "Medical students need a verified school authorization letter, valid through "
               "the rotation, for hands-on rotations."
             : "Medical students need a school authorization letter, valid through the "
               "rotation, for hands-on rotations."});
  }
  return reasons;
}

std::vector<DocumentIssue> CheckDocuments(const Rotation& rotation,
                                          const std::vector<Document>& documents,
                                          absl::CivilDay valid_through,
                                          bool valid_through_is_session_end) {
  std::vector<DocumentIssue> issues;
  for (int kind_value : rotation.required_documents()) {
    auto kind = static_cast<type::DocumentKind>(kind_value);
    std::string words = DocumentKindWords(kind);
    bool present = false, lasting = false, satisfied = false;
    for (const Document& doc : documents) {
      if (doc.kind() != kind || doc.state() == Document::REJECTED) continue;
      present = true;
      if (!LastsThrough(doc, valid_through)) continue;
      lasting = true;
      if (rotation.verified_documents_required() && doc.state() != Document::VERIFIED) continue;
      satisfied = true;
      break;
    }
    if (satisfied) continue;
    // Report the first thing the applicant has to fix: add it, renew it, get it verified.
    if (!present) {
      issues.push_back({kind, kDocumentMissing,
                        absl::StrCat("This rotation requires ", WithArticle(words),
                                     "; add one to your documents.")});
    } else if (!lasting) {
      issues.push_back({kind, kDocumentExpiresTooSoon,
                        valid_through_is_session_end
                            ? absl::StrCat("Your ", words, " expires before the session ends on ",
                                           FormatDay(valid_through), "; add a renewed one.")
                            : absl::StrCat("Your ", words, " has expired; add a renewed one.")});
    } else {
      issues.push_back({kind, kDocumentNotVerified,
                        absl::StrCat("This rotation requires a verified ", words,
                                     "; yours is still waiting for review.")});
    }
  }
  return issues;
}

}  // namespace clerkship::eligibility

// The eligibility engine on its own: table-driven cases over the rotation's rules, the
// platform rules and the document requirements.

#include "common/eligibility/eligibility.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace clerkship::eligibility {
namespace {

using applicant::v1::Applicant;
using applicant::v1::Document;
using catalog::v1::Rotation;
using catalog::v1::Session;
namespace type = clerkship::type::v1;

const absl::CivilDay kToday(2027, 3, 15);

Rotation OpenClinicalRotation() {
  Rotation r;
  r.set_name("rotations/im-queens");
  r.set_experience_type(type::CLINICAL_ROTATION);
  r.set_state(Rotation::PUBLISHED);
  r.mutable_hands_on()->set_patient_contact(true);
  return r;
}

Applicant Graduate() {
  Applicant a;
  a.set_name("applicants/a1");
  a.set_training_stage(type::GRADUATE);
  a.set_graduation_year(2024);
  a.set_step1_status(type::STEP1_PASSED);
  a.set_step2ck_score(245);
  a.set_ecfmg_certified(true);
  a.set_visa_status(type::J1);
  return a;
}

Applicant Student() {
  Applicant a = Graduate();
  a.set_training_stage(type::STUDENT);
  a.set_graduation_year(2028);
  a.set_ecfmg_certified(false);
  a.set_step2ck_score(0);
  return a;
}

Document Doc(type::DocumentKind kind, Document::State state, std::string expiry = "") {
  Document d;
  d.set_kind(kind);
  d.set_state(state);
  d.set_expiry_date(std::move(expiry));
  return d;
}

std::set<std::string> Codes(const std::vector<Reason>& reasons) {
  std::set<std::string> out;
  for (const Reason& r : reasons) out.insert(r.code);
  return out;
}

struct EligibilityCase {
  std::string name;
  std::function<void(Rotation*)> rotation;
  std::function<void(Applicant*)> applicant;
  std::vector<Document> documents;
  std::set<std::string> want;
};

TEST(EligibilityTest, RulesTable) {
  auto none = [](auto*) {};
  std::vector<EligibilityCase> cases = {
      {"open rotation, qualified graduate", none, none, {}, {}},
      {"draft rotation",
       [](Rotation* r) { r->set_state(Rotation::DRAFT); },
       none,
       {},
       {kRotationNotPublished}},
      {"archived rotation",
       [](Rotation* r) { r->set_state(Rotation::ARCHIVED); },
       none,
       {},
       {kRotationNotPublished}},
      {"graduates only, student applies",
       [](Rotation* r) { r->mutable_eligibility()->add_allowed_training_stages(type::GRADUATE); },
       [](Applicant* a) { *a = Student(); },
       {Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::VERIFIED)},
       {kTrainingStageNotAllowed}},
      {"students and graduates allowed",
       [](Rotation* r) {
         r->mutable_eligibility()->add_allowed_training_stages(type::STUDENT);
         r->mutable_eligibility()->add_allowed_training_stages(type::GRADUATE);
       },
       none,
       {},
       {}},
      {"step 1 pass required, not taken",
       [](Rotation* r) { r->mutable_eligibility()->set_step1_pass_required(true); },
       [](Applicant* a) { a->set_step1_status(type::STEP1_NOT_TAKEN); },
       {},
       {kStep1PassRequired}},
      {"step 1 pass required, failed",
       [](Rotation* r) { r->mutable_eligibility()->set_step1_pass_required(true); },
       [](Applicant* a) { a->set_step1_status(type::STEP1_FAILED); },
       {},
       {kStep1PassRequired}},
      {"step 2 CK required, none",
       [](Rotation* r) { r->mutable_eligibility()->set_step2ck_required(true); },
       [](Applicant* a) { a->set_step2ck_score(0); },
       {},
       {kStep2ckRequired}},
      {"minimum score implies a score is required",
       [](Rotation* r) { r->mutable_eligibility()->set_min_step2ck_score(230); },
       [](Applicant* a) { a->set_step2ck_score(0); },
       {},
       {kStep2ckRequired}},
      {"score below minimum",
       [](Rotation* r) { r->mutable_eligibility()->set_min_step2ck_score(250); },
       [](Applicant* a) { a->set_step2ck_score(249); },
       {},
       {kStep2ckScoreBelowMinimum}},
      {"score exactly at minimum",
       [](Rotation* r) { r->mutable_eligibility()->set_min_step2ck_score(245); },
       none,
       {},
       {}},
      {"ECFMG required, not certified",
       [](Rotation* r) { r->mutable_eligibility()->set_ecfmg_required(true); },
       [](Applicant* a) { a->set_ecfmg_certified(false); },
       {},
       {kEcfmgRequired}},
      {"visa not accepted",
       [](Rotation* r) {
         r->mutable_eligibility()->add_accepted_visa_statuses(type::US_CITIZEN);
         r->mutable_eligibility()->add_accepted_visa_statuses(type::H1B);
       },
       none,
       {},
       {kVisaNotAccepted}},
      {"visa accepted",
       [](Rotation* r) { r->mutable_eligibility()->add_accepted_visa_statuses(type::J1); },
       none,
       {},
       {}},
      {"graduated too long ago",
       [](Rotation* r) { r->mutable_eligibility()->set_max_years_since_graduation(5); },
       [](Applicant* a) { a->set_graduation_year(2021); },
       {},
       {kGraduatedTooLongAgo}},
      {"graduated exactly the maximum years ago",
       [](Rotation* r) { r->mutable_eligibility()->set_max_years_since_graduation(5); },
       [](Applicant* a) { a->set_graduation_year(2022); },
       {},
       {}},
      {"students always pass the graduation-year rule",
       [](Rotation* r) {
         r->mutable_eligibility()->set_max_years_since_graduation(1);
         r->mutable_hands_on()->set_patient_contact(false);
       },
       [](Applicant* a) {
         *a = Student();
         a->set_graduation_year(2000);
       },
       {},
       {}},
      {"B-1/B-2 graduate on a clinical rotation",
       none,
       [](Applicant* a) { a->set_visa_status(type::B1_B2); },
       {},
       {kB1B2ObservershipOnly}},
      {"B-1/B-2 graduate on an externship",
       [](Rotation* r) { r->set_experience_type(type::EXTERNSHIP); },
       [](Applicant* a) { a->set_visa_status(type::B1_B2); },
       {},
       {kB1B2ObservershipOnly}},
      {"B-1/B-2 graduate on a telehealth rotation",
       [](Rotation* r) {
         r->set_experience_type(type::TELEHEALTH);
         r->mutable_hands_on()->set_patient_contact(false);
       },
       [](Applicant* a) { a->set_visa_status(type::B1_B2); },
       {},
       {kB1B2ObservershipOnly}},
      {"B-1/B-2 graduate on an observership",
       [](Rotation* r) {
         r->set_experience_type(type::OBSERVERSHIP);
         r->mutable_hands_on()->set_patient_contact(false);
       },
       [](Applicant* a) { a->set_visa_status(type::B1_B2); },
       {},
       {}},
      {"B-1/B-2 graduate shadowing",
       [](Rotation* r) {
         r->set_experience_type(type::SHADOWING);
         r->mutable_hands_on()->set_patient_contact(false);
       },
       [](Applicant* a) { a->set_visa_status(type::B1_B2); },
       {},
       {}},
      {"B-1/B-2 student is not restricted by the graduate rule",
       none,
       [](Applicant* a) {
         *a = Student();
         a->set_visa_status(type::B1_B2);
       },
       {Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::PENDING)},
       {}},
      {"student, hands-on, no school letter",
       none,
       [](Applicant* a) { *a = Student(); },
       {},
       {kSchoolAuthorizationRequired}},
      {"student, hands-on, rejected school letter",
       none,
       [](Applicant* a) { *a = Student(); },
       {Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::REJECTED)},
       {kSchoolAuthorizationRequired}},
      {"student, hands-on, expired school letter",
       none,
       [](Applicant* a) { *a = Student(); },
       {Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::VERIFIED, "2027-03-14")},
       {kSchoolAuthorizationRequired}},
      {"student, hands-on, pending school letter",
       none,
       [](Applicant* a) { *a = Student(); },
       {Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::PENDING, "2027-03-15")},
       {}},
      {"student, hands-on, pending letter where verified documents are required",
       [](Rotation* r) { r->set_verified_documents_required(true); },
       [](Applicant* a) { *a = Student(); },
       {Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::PENDING)},
       {kSchoolAuthorizationRequired}},
      {"student, observational rotation needs no letter",
       [](Rotation* r) {
         r->set_experience_type(type::OBSERVERSHIP);
         r->mutable_hands_on()->set_patient_contact(false);
       },
       [](Applicant* a) { *a = Student(); },
       {},
       {}},
      {"every rule at once",
       [](Rotation* r) {
         r->set_state(Rotation::DRAFT);
         auto* e = r->mutable_eligibility();
         e->add_allowed_training_stages(type::STUDENT);
         e->set_step1_pass_required(true);
         e->set_min_step2ck_score(260);
         e->set_ecfmg_required(true);
         e->add_accepted_visa_statuses(type::US_CITIZEN);
         e->set_max_years_since_graduation(2);
       },
       [](Applicant* a) {
         a->set_visa_status(type::B1_B2);
         a->set_graduation_year(2010);
         a->set_step1_status(type::STEP1_FAILED);
         a->set_ecfmg_certified(false);
       },
       {},
       {kRotationNotPublished, kTrainingStageNotAllowed, kStep1PassRequired,
        kStep2ckScoreBelowMinimum, kEcfmgRequired, kVisaNotAccepted, kGraduatedTooLongAgo,
        kB1B2ObservershipOnly}},
  };
  for (const EligibilityCase& c : cases) {
    Rotation rotation = OpenClinicalRotation();
    c.rotation(&rotation);
    Applicant applicant = Graduate();
    c.applicant(&applicant);
    EligibilityInput input;
    input.rotation = &rotation;
    input.applicant = &applicant;
    input.documents = &c.documents;
    input.today = kToday;
    std::vector<Reason> reasons = CheckEligibility(input);
    EXPECT_EQ(Codes(reasons), c.want) << c.name;
    for (const Reason& r : reasons) {
      EXPECT_FALSE(r.message.empty()) << c.name << ": " << r.code;
      EXPECT_EQ(r.message.back(), '.') << c.name << ": " << r.message;
    }
  }
}

TEST(EligibilityTest, MessagesAreInPlainWords) {
  Rotation rotation = OpenClinicalRotation();
  rotation.mutable_eligibility()->set_min_step2ck_score(250);
  rotation.mutable_eligibility()->add_accepted_visa_statuses(type::US_CITIZEN);
  rotation.mutable_eligibility()->add_accepted_visa_statuses(type::PERMANENT_RESIDENT);
  Applicant applicant = Graduate();
  applicant.set_visa_status(type::B1_B2);
  applicant.set_step2ck_score(201);
  EligibilityInput input{&rotation, nullptr, &applicant, nullptr, kToday};
  std::vector<Reason> reasons = CheckEligibility(input);
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_EQ(reasons[0].message, "This rotation requires a USMLE Step 2 CK score of at least 250.");
  EXPECT_EQ(reasons[1].message,
            "This rotation accepts only these visa statuses: US citizen, permanent resident.");
  EXPECT_EQ(reasons[2].message,
            "Graduates on a B-1/B-2 visa may only take observerships or shadowing; this "
            "rotation is a clinical rotation.");
  // The applicant's own score is personal data and is not repeated back.
  for (const Reason& r : reasons) EXPECT_EQ(r.message.find("201"), std::string::npos);
}

TEST(EligibilityTest, SchoolLetterMustLastThroughTheSession) {
  Rotation rotation = OpenClinicalRotation();
  Applicant student = Student();
  std::vector<Document> docs = {
      Doc(type::SCHOOL_AUTHORIZATION_LETTER, Document::VERIFIED, "2027-05-31")};
  Session session;
  session.set_end_date("2027-06-30");
  EligibilityInput input{&rotation, &session, &student, &docs, kToday};
  EXPECT_EQ(Codes(CheckEligibility(input)), std::set<std::string>{kSchoolAuthorizationRequired});
  session.set_end_date("2027-05-31");
  EXPECT_TRUE(CheckEligibility(input).empty());
}

struct DocumentCase {
  std::string name;
  bool verified_required;
  std::vector<Document> documents;
  // Issue code per required kind (PASSPORT, TB_TEST), "" = satisfied.
  std::string passport;
  std::string tb_test;
};

TEST(EligibilityTest, DocumentsTable) {
  const std::string kEnd = "2027-06-30";  // the session's last day
  std::vector<DocumentCase> cases = {
      {"nothing in the vault", false, {}, kDocumentMissing, kDocumentMissing},
      {"pending documents suffice",
       false,
       {Doc(type::PASSPORT, Document::PENDING), Doc(type::TB_TEST, Document::PENDING, kEnd)},
       "",
       ""},
      {"verified required, pending",
       true,
       {Doc(type::PASSPORT, Document::PENDING), Doc(type::TB_TEST, Document::VERIFIED)},
       kDocumentNotVerified,
       ""},
      {"rejected counts as missing",
       false,
       {Doc(type::PASSPORT, Document::REJECTED), Doc(type::TB_TEST, Document::VERIFIED)},
       kDocumentMissing,
       ""},
      {"expires the day before the session ends",
       false,
       {Doc(type::PASSPORT, Document::VERIFIED, "2027-06-29"),
        Doc(type::TB_TEST, Document::VERIFIED)},
       kDocumentExpiresTooSoon,
       ""},
      {"already expired",
       true,
       {Doc(type::PASSPORT, Document::VERIFIED, "2026-01-01"),
        Doc(type::TB_TEST, Document::VERIFIED, "2027-01-01")},
       kDocumentExpiresTooSoon,
       kDocumentExpiresTooSoon},
      {"an old expired copy and a renewed one",
       true,
       {Doc(type::PASSPORT, Document::VERIFIED, "2026-01-01"),
        Doc(type::PASSPORT, Document::VERIFIED, "2032-01-01"),
        Doc(type::TB_TEST, Document::VERIFIED, "2028-01-01")},
       "",
       ""},
      {"renewed copy still pending, verified required",
       true,
       {Doc(type::PASSPORT, Document::VERIFIED, "2026-01-01"),
        Doc(type::PASSPORT, Document::PENDING, "2032-01-01"),
        Doc(type::TB_TEST, Document::VERIFIED)},
       kDocumentNotVerified,
       ""},
      {"other kinds do not count",
       false,
       {Doc(type::CV, Document::VERIFIED), Doc(type::PHOTO, Document::VERIFIED)},
       kDocumentMissing,
       kDocumentMissing},
  };
  for (const DocumentCase& c : cases) {
    Rotation rotation = OpenClinicalRotation();
    rotation.add_required_documents(type::PASSPORT);
    rotation.add_required_documents(type::TB_TEST);
    rotation.set_verified_documents_required(c.verified_required);
    absl::CivilDay end;
    ASSERT_TRUE(ParseDay(kEnd, &end));
    std::vector<DocumentIssue> issues = CheckDocuments(rotation, c.documents, end, true);
    std::string passport, tb_test;
    for (const DocumentIssue& issue : issues) {
      EXPECT_FALSE(issue.message.empty());
      if (issue.kind == type::PASSPORT) passport = issue.code;
      if (issue.kind == type::TB_TEST) tb_test = issue.code;
    }
    EXPECT_EQ(passport, c.passport) << c.name;
    EXPECT_EQ(tb_test, c.tb_test) << c.name;
  }
}

TEST(EligibilityTest, DocumentMessagesNameTheDocumentAndDate) {
  Rotation rotation = OpenClinicalRotation();
  rotation.add_required_documents(type::TB_TEST);
  rotation.add_required_documents(type::IMMUNIZATION_RECORD);
  std::vector<Document> docs = {Doc(type::TB_TEST, Document::PENDING, "2027-04-01")};
  std::vector<DocumentIssue> at_session_end =
      CheckDocuments(rotation, docs, absl::CivilDay(2027, 4, 30), true);
  ASSERT_EQ(at_session_end.size(), 2u);
  EXPECT_EQ(at_session_end[0].message,
            "Your TB test result expires before the session ends on 2027-04-30; add a renewed "
            "one.");
  EXPECT_EQ(at_session_end[1].message,
            "This rotation requires an immunization record; add one to your documents.");
  // Without a session the question is whether it has expired by today.
  std::vector<DocumentIssue> today =
      CheckDocuments(rotation, docs, absl::CivilDay(2027, 4, 2), false);
  ASSERT_EQ(today.size(), 2u);
  EXPECT_EQ(today[0].message, "Your TB test result has expired; add a renewed one.");
  EXPECT_TRUE(CheckDocuments(rotation, docs, absl::CivilDay(2027, 4, 1), false).size() == 1);
}

TEST(EligibilityTest, DocumentsValidThroughSessionEndOrToday) {
  Session session;
  session.set_end_date("2027-08-01");
  EXPECT_EQ(DocumentsValidThrough(&session, kToday), absl::CivilDay(2027, 8, 1));
  EXPECT_EQ(DocumentsValidThrough(nullptr, kToday), kToday);
}

TEST(EligibilityTest, ParseDayAcceptsOnlyRealDates) {
  absl::CivilDay d;
  EXPECT_TRUE(ParseDay("2028-02-29", &d));
  EXPECT_EQ(d, absl::CivilDay(2028, 2, 29));
  for (const char* bad : {"2027-02-29", "2027-02-30", "2027-13-01", "27-01-01", "2027-1-01",
                          "2027/01/01", "", "abcd-ef-gh"}) {
    EXPECT_FALSE(ParseDay(bad, &d)) << bad;
  }
  EXPECT_EQ(FormatDay(absl::CivilDay(2027, 3, 5)), "2027-03-05");
}

}  // namespace
}  // namespace clerkship::eligibility

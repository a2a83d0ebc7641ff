// Applicant profiles, the document vault and CheckEligibility through the real service, a
// real catalog and a real Redis.

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/logging/log.h"
#include "common/status/validation.h"
#include "tests/services/applicant/applicant_test_env.h"

namespace clerkship::applicant {
namespace {

using testing::ReasonOf;
using testing::ViolatedFields;
using Stub = v1::ApplicantService::Stub;

class ApplicantProfileTest : public ApplicantTestEnv {};

TEST_F(ApplicantProfileTest, CreateGetAndUpdateWithMaskAndEtag) {
  v1::CreateApplicantRequest create;
  *create.mutable_applicant() = Graduate();
  create.mutable_applicant()->set_given_name("  Asha  ");  // trimmed
  v1::Applicant created;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::CreateApplicant, create, &created).ok());
  EXPECT_EQ(created.name(), "applicants/a1");
  EXPECT_EQ(created.given_name(), "Asha");
  EXPECT_EQ(created.time_zone(), "Asia/Kolkata");
  EXPECT_EQ(FromProtoTime(created.create_time()), clock_.Now());
  EXPECT_FALSE(created.etag().empty());

  v1::GetApplicantRequest get;
  get.set_name("applicants/a1");
  v1::Applicant fetched;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::GetApplicant, get, &fetched).ok());
  EXPECT_EQ(fetched.email(), "asha.rao@example.org");
  EXPECT_EQ(fetched.etag(), created.etag());

  // Only the masked field changes, even though others are sent.
  clock_.Advance(absl::Minutes(1));
  v1::UpdateApplicantRequest update;
  update.mutable_applicant()->set_name("applicants/a1");
  update.mutable_applicant()->set_step2ck_score(255);
  update.mutable_applicant()->set_given_name("Ignored");
  update.mutable_applicant()->set_etag(created.etag());
  update.mutable_update_mask()->add_paths("step2ck_score");
  v1::Applicant updated;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::UpdateApplicant, update, &updated).ok());
  EXPECT_EQ(updated.step2ck_score(), 255);
  EXPECT_EQ(updated.given_name(), "Asha");
  EXPECT_NE(updated.etag(), created.etag());
  EXPECT_EQ(FromProtoTime(updated.update_time()), clock_.Now());
  EXPECT_EQ(FromProtoTime(updated.create_time()), FromProtoTime(created.create_time()));

  // The old etag is stale now.
  grpc::Status stale = Call(Applicant("a1"), &Stub::UpdateApplicant, update, &updated);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(stale), "ETAG_MISMATCH");

  // An explicit mask can set a field back to its default.
  update.mutable_applicant()->clear_etag();
  update.mutable_applicant()->set_ecfmg_certified(false);
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("ecfmg_certified");
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::UpdateApplicant, update, &updated).ok());
  EXPECT_FALSE(updated.ecfmg_certified());

  // Without a mask, every field that is set is applied.
  v1::UpdateApplicantRequest implicit;
  implicit.mutable_applicant()->set_name("applicants/a1");
  implicit.mutable_applicant()->add_preferred_states("NY");
  implicit.mutable_applicant()->add_preferred_states("NJ");
  implicit.mutable_applicant()->set_budget_cents(500000);
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::UpdateApplicant, implicit, &updated).ok());
  EXPECT_EQ(updated.preferred_states_size(), 2);
  EXPECT_EQ(updated.budget_cents(), 500000);
  EXPECT_EQ(updated.step2ck_score(), 255);

  // Paths outside the updatable list are refused.
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("create_time");
  grpc::Status bad = Call(Applicant("a1"), &Stub::UpdateApplicant, update, &updated);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(bad), std::set<std::string>{"update_mask"});

  // The merged result is validated, with the request's field paths.
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("graduation_year");
  update.mutable_applicant()->set_graduation_year(1900);
  bad = Call(Applicant("a1"), &Stub::UpdateApplicant, update, &updated);
  EXPECT_EQ(ViolatedFields(bad), std::set<std::string>{"applicant.graduation_year"});

  // Unknown applicant.
  update.mutable_applicant()->set_name("applicants/ghost");
  update.mutable_applicant()->set_graduation_year(2020);
  EXPECT_EQ(Call(Admin(), &Stub::UpdateApplicant, update, &updated).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApplicantProfileTest, EmailsAreUniqueRegardlessOfCase) {
  MakeApplicant("a1");  // a1@example.org
  v1::CreateApplicantRequest create;
  *create.mutable_applicant() = Graduate();
  create.mutable_applicant()->set_email("A1@Example.ORG");
  v1::Applicant out;
  grpc::Status s = Call(Applicant("a2"), &Stub::CreateApplicant, create, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "EMAIL_IN_USE");
  // The address is never in the error, nor in a Redis key.
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(s.error_message()), "a1@example"));
  absl::StatusOr<redis::Reply> keys = redis_->CommandSync({"KEYS", "*example*"});
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->elements.empty());

  // Moving a1 to another address frees the old one.
  v1::UpdateApplicantRequest update;
  update.mutable_applicant()->set_name("applicants/a1");
  update.mutable_applicant()->set_email("new-a1@example.org");
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::UpdateApplicant, update, &out).ok());
  ASSERT_TRUE(Call(Applicant("a2"), &Stub::CreateApplicant, create, &out).ok());
  // And a1 cannot take a2's address.
  update.mutable_applicant()->set_email("a1@example.org");
  s = Call(Applicant("a1"), &Stub::UpdateApplicant, update, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "EMAIL_IN_USE");

  // A second profile under the same id is refused.
  create.mutable_applicant()->set_email("other@example.org");
  s = Call(Applicant("a2"), &Stub::CreateApplicant, create, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "APPLICANT_EXISTS");
}

TEST_F(ApplicantProfileTest, CreateIsIdempotentByRequestIdAndAdminsMayPickIds) {
  v1::CreateApplicantRequest create;
  *create.mutable_applicant() = Graduate();
  create.set_request_id("req-1");
  v1::Applicant first, second;
  ASSERT_TRUE(Call(Admin(), &Stub::CreateApplicant, create, &first).ok());
  ASSERT_TRUE(Call(Admin(), &Stub::CreateApplicant, create, &second).ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_TRUE(IsValidResourceId(ResourceId(first.name(), "applicants")));

  create.set_request_id("");
  create.set_applicant_id("chosen-id");
  create.mutable_applicant()->set_email("chosen@example.org");
  ASSERT_TRUE(Call(Admin(), &Stub::CreateApplicant, create, &first).ok());
  EXPECT_EQ(first.name(), "applicants/chosen-id");
}

TEST_F(ApplicantProfileTest, EveryInvalidFieldIsNamed) {
  struct Case {
    std::string field;
    std::function<void(v1::Applicant*)> spoil;
  };
  std::vector<Case> cases = {
      {"applicant.given_name", [](auto* a) { a->set_given_name("   "); }},
      {"applicant.family_name", [](auto* a) { a->set_family_name(std::string(101, 'x')); }},
      {"applicant.email", [](auto* a) { a->set_email("not-an-address"); }},
      {"applicant.email", [](auto* a) { a->clear_email(); }},
      {"applicant.training_stage", [](auto* a) { a->clear_training_stage(); }},
      {"applicant.training_stage",
       [](auto* a) { a->set_training_stage(static_cast<type::TrainingStage>(42)); }},
      {"applicant.medical_school", [](auto* a) { a->clear_medical_school(); }},
      {"applicant.school_country", [](auto* a) { a->set_school_country("in"); }},
      {"applicant.school_country", [](auto* a) { a->set_school_country("XX"); }},
      {"applicant.graduation_year", [](auto* a) { a->set_graduation_year(1949); }},
      {"applicant.graduation_year", [](auto* a) { a->set_graduation_year(2027 + 9); }},
      {"applicant.step1_status", [](auto* a) { a->clear_step1_status(); }},
      {"applicant.step2ck_score", [](auto* a) { a->set_step2ck_score(301); }},
      {"applicant.visa_status", [](auto* a) { a->clear_visa_status(); }},
      {"applicant.specialty_interests",
       [](auto* a) { a->add_specialty_interests(type::INTERNAL_MEDICINE); }},
      {"applicant.preferred_states", [](auto* a) { a->add_preferred_states("ZZ"); }},
      {"applicant.availability[0].end_date",
       [](auto* a) {
         auto* r = a->add_availability();
         r->set_start_date("2027-05-01");
         r->set_end_date("2027-04-01");
       }},
      {"applicant.availability[0].start_date",
       [](auto* a) {
         auto* r = a->add_availability();
         r->set_start_date("2027-02-30");
         r->set_end_date("2027-04-01");
       }},
      {"applicant.budget_cents", [](auto* a) { a->set_budget_cents(-1); }},
      {"applicant.time_zone", [](auto* a) { a->set_time_zone("Mars/Olympus_Mons"); }},
  };
  for (const Case& c : cases) {
    v1::CreateApplicantRequest create;
    *create.mutable_applicant() = Graduate();
    c.spoil(create.mutable_applicant());
    v1::Applicant out;
    grpc::Status s = Call(Applicant("a1"), &Stub::CreateApplicant, create, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field})
        << c.field << ": " << s.error_message();
  }
  EXPECT_EQ(redis_server_->Command({"EXISTS", "app:applicant:a1"}), "0");
  // Names in scripts other than Latin count as characters, not bytes.
  v1::CreateApplicantRequest create;
  *create.mutable_applicant() = Graduate();
  std::string devanagari;
  for (int i = 0; i < 100; ++i) devanagari += "\xE0\xA4\x85";  // 100 × "अ", 300 bytes
  create.mutable_applicant()->set_given_name(devanagari);
  v1::Applicant out;
  EXPECT_TRUE(Call(Applicant("a1"), &Stub::CreateApplicant, create, &out).ok());
}

TEST_F(ApplicantProfileTest, DocumentVaultAddListVerifyAndExpiry) {
  MakeApplicant("a1");
  v1::Document cv = AddDocument("a1", type::CV);
  EXPECT_EQ(cv.state(), v1::Document::PENDING);
  EXPECT_TRUE(absl::StartsWith(cv.name(), "applicants/a1/documents/"));
  EXPECT_FALSE(cv.expired());
  clock_.Advance(absl::Seconds(1));
  v1::Document old_tb = AddDocument("a1", type::TB_TEST, Day(-1));  // expired yesterday
  EXPECT_TRUE(old_tb.expired());
  clock_.Advance(absl::Seconds(1));
  // Upper-case hashes are stored in lower case.
  v1::AddDocumentRequest add;
  add.set_parent("applicants/a1");
  add.set_request_id("upload-1");
  auto* d = add.mutable_document();
  d->set_kind(type::PASSPORT);
  d->set_display_name("Passport (expires 2031)");
  d->set_uri("s3://vault/a1/passport.pdf");
  d->set_sha256(std::string(64, 'F'));
  d->set_expiry_date("2031-01-01");
  v1::Document passport, retried;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::AddDocument, add, &passport).ok());
  EXPECT_EQ(passport.sha256(), std::string(64, 'f'));
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::AddDocument, add, &retried).ok());
  EXPECT_EQ(retried.name(), passport.name());

  v1::ListDocumentsRequest list;
  list.set_parent("applicants/a1");
  v1::ListDocumentsResponse response;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::ListDocuments, list, &response).ok());
  ASSERT_EQ(response.documents_size(), 3);                   // the retry added nothing
  EXPECT_EQ(response.documents(0).name(), passport.name());  // newest first
  EXPECT_EQ(response.documents(1).name(), old_tb.name());
  EXPECT_EQ(response.documents(2).name(), cv.name());
  EXPECT_TRUE(response.documents(1).expired());

  list.set_kind(type::CV);
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::ListDocuments, list, &response).ok());
  ASSERT_EQ(response.documents_size(), 1);
  EXPECT_EQ(response.documents(0).name(), cv.name());

  // Paging.
  list.clear_kind();
  list.set_page_size(2);
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::ListDocuments, list, &response).ok());
  EXPECT_EQ(response.documents_size(), 2);
  list.set_page_token(response.next_page_token());
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::ListDocuments, list, &response).ok());
  ASSERT_EQ(response.documents_size(), 1);
  EXPECT_EQ(response.documents(0).name(), cv.name());
  EXPECT_TRUE(response.next_page_token().empty());

  // Verdicts.
  v1::VerifyDocumentRequest verify;
  verify.set_name(cv.name());
  verify.set_verdict(v1::Document::REJECTED);
  v1::Document out;
  grpc::Status s = Call(Admin(), &Stub::VerifyDocument, verify, &out);
  EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"note"});  // a rejection says why
  verify.set_note("the CV is from 2019");
  verify.set_etag("stale");
  s = Call(Admin(), &Stub::VerifyDocument, verify, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  verify.set_etag(cv.etag());
  ASSERT_TRUE(Call(Admin(), &Stub::VerifyDocument, verify, &out).ok());
  EXPECT_EQ(out.state(), v1::Document::REJECTED);
  EXPECT_EQ(out.review_note(), "the CV is from 2019");
  EXPECT_EQ(out.reviewer(), "admins/root");
  EXPECT_EQ(FromProtoTime(out.verify_time()), clock_.Now());
  EXPECT_NE(out.etag(), cv.etag());
  // A verdict can be changed.
  verify.clear_etag();
  verify.set_verdict(v1::Document::VERIFIED);
  verify.clear_note();
  ASSERT_TRUE(Call(Admin(), &Stub::VerifyDocument, verify, &out).ok());
  EXPECT_EQ(out.state(), v1::Document::VERIFIED);
  verify.set_verdict(v1::Document::PENDING);
  EXPECT_EQ(ViolatedFields(Call(Admin(), &Stub::VerifyDocument, verify, &out)),
            std::set<std::string>{"verdict"});

  std::vector<std::string> types;
  for (const auto& e : Events()) {
    if (absl::StartsWith(e.type(), "document.")) types.push_back(e.type());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"document.added", "document.added", "document.added",
                                             "document.rejected", "document.verified"}));
  for (const auto& e : Events()) {
    if (e.type() == "document.rejected") {
      EXPECT_EQ(e.document_rejected().review_note(), "the CV is from 2019");
      EXPECT_EQ(e.document_rejected().state(), "REJECTED");
      EXPECT_EQ(e.document_rejected().applicant(), "applicants/a1");
      EXPECT_EQ(e.actor(), "admins/root");
    }
    if (e.type() == "document.added" && e.subject() == old_tb.name()) {
      EXPECT_EQ(e.document_added().expiry_date(), Day(-1));
      EXPECT_EQ(e.document_added().kind(), type::TB_TEST);
    }
  }
}

TEST_F(ApplicantProfileTest, DocumentValidation) {
  MakeApplicant("a1");
  struct Case {
    std::string field;
    std::function<void(v1::Document*)> spoil;
  };
  std::vector<Case> cases = {
      {"document.kind", [](auto* d) { d->clear_kind(); }},
      {"document.display_name", [](auto* d) { d->clear_display_name(); }},
      {"document.uri", [](auto* d) { d->set_uri("http://insecure.example/cv.pdf"); }},
      {"document.uri", [](auto* d) { d->set_uri("https://"); }},
      {"document.sha256", [](auto* d) { d->set_sha256("abc"); }},
      {"document.sha256", [](auto* d) { d->set_sha256(std::string(64, 'g')); }},
      {"document.issue_date", [](auto* d) { d->set_issue_date("2027-13-01"); }},
      {"document.issue_date", [](auto* d) { d->set_issue_date(Day(2)); }},  // future
      {"document.expiry_date",
       [](auto* d) {
         d->set_issue_date(Day(-10));
         d->set_expiry_date(Day(-20));
       }},
  };
  for (const Case& c : cases) {
    v1::AddDocumentRequest add;
    add.set_parent("applicants/a1");
    auto* d = add.mutable_document();
    d->set_kind(type::CV);
    d->set_display_name("CV");
    d->set_uri("gs://vault/cv.pdf");
    d->set_sha256(std::string(64, '0'));
    c.spoil(d);
    v1::Document out;
    grpc::Status s = Call(Applicant("a1"), &Stub::AddDocument, add, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field}) << c.field;
  }
  v1::AddDocumentRequest add;
  add.set_parent("applicants/nobody");
  *add.mutable_document() = v1::Document();
  add.mutable_document()->set_kind(type::CV);
  add.mutable_document()->set_display_name("CV");
  add.mutable_document()->set_uri("gs://vault/cv.pdf");
  add.mutable_document()->set_sha256(std::string(64, '0'));
  v1::Document out;
  EXPECT_EQ(Call(Admin(), &Stub::AddDocument, add, &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApplicantProfileTest, TheVaultHoldsAtMostTwoHundredDocuments) {
  MakeApplicant("a1");
  for (int i = 0; i < ApplicantProfiles::kMaxDocuments; ++i)
    AddDocument("a1", type::OTHER_DOCUMENT);
  v1::AddDocumentRequest add;
  add.set_parent("applicants/a1");
  add.mutable_document()->set_kind(type::CV);
  add.mutable_document()->set_display_name("one too many");
  add.mutable_document()->set_uri("gs://vault/cv.pdf");
  add.mutable_document()->set_sha256(std::string(64, '0'));
  v1::Document out;
  grpc::Status s = Call(Applicant("a1"), &Stub::AddDocument, add, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(s), "TOO_MANY_DOCUMENTS");
  EXPECT_EQ(redis_server_->Command({"ZCARD", "app:docs:a1"}), "200");
}

TEST_F(ApplicantProfileTest, CheckEligibilityExplainsAndReportsDocuments) {
  MakeSite("mercy");
  catalog::v1::Rotation rotation = ClinicalRotation("mercy");
  rotation.mutable_eligibility()->set_ecfmg_required(true);
  rotation.add_required_documents(type::TB_TEST);
  std::string session = MakeRotation("im", rotation);  // ends Day(67)

  v1::Applicant visitor = Graduate();
  visitor.set_visa_status(type::B1_B2);
  visitor.set_ecfmg_certified(false);
  MakeApplicant("b1", visitor);
  AddDocument("b1", type::CV);
  AddDocument("b1", type::PASSPORT, Day(3000));
  AddDocument("b1", type::TB_TEST, Day(50));  // valid today, not through the session

  v1::CheckEligibilityRequest request;
  request.set_applicant("applicants/b1");
  request.set_rotation("rotations/im");
  v1::CheckEligibilityResponse response;
  ASSERT_TRUE(Call(Applicant("b1"), &Stub::CheckEligibility, request, &response).ok());
  EXPECT_FALSE(response.eligible());
  EXPECT_EQ(response.applicant(), "applicants/b1");
  EXPECT_EQ(response.rotation(), "rotations/im");
  std::set<std::string> codes;
  for (const auto& r : response.reasons()) {
    codes.insert(r.code());
    EXPECT_FALSE(r.message().empty());
  }
  EXPECT_EQ(codes, (std::set<std::string>{"ECFMG_REQUIRED", "B1_B2_OBSERVERSHIP_ONLY"}));
  EXPECT_EQ(response.document_issues_size(), 0);  // without a session: valid today

  request.set_session(session);
  ASSERT_TRUE(Call(Applicant("b1"), &Stub::CheckEligibility, request, &response).ok());
  ASSERT_EQ(response.document_issues_size(), 1);
  EXPECT_EQ(response.document_issues(0).kind(), type::TB_TEST);
  EXPECT_EQ(response.document_issues(0).code(), "DOCUMENT_EXPIRES_TOO_SOON");
  EXPECT_TRUE(absl::StrContains(response.document_issues(0).message(), Day(67)));

  // An eligible graduate (J-1, certified) with an empty vault.
  MakeApplicant("g1");
  request.set_applicant("applicants/g1");
  ASSERT_TRUE(Call(Applicant("g1"), &Stub::CheckEligibility, request, &response).ok());
  EXPECT_TRUE(response.eligible());
  EXPECT_EQ(response.reasons_size(), 0);
  EXPECT_EQ(response.document_issues_size(), 3);  // nothing in the vault yet

  // A session of another rotation, and unknown names.
  request.set_session("rotations/other/sessions/s1");
  grpc::Status s = Call(Applicant("g1"), &Stub::CheckEligibility, request, &response);
  EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"session"});
  request.clear_session();
  request.set_rotation("rotations/nope");
  EXPECT_EQ(Call(Applicant("g1"), &Stub::CheckEligibility, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

int CountOccurrences(absl::string_view text, absl::string_view needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != absl::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

TEST_F(ApplicantProfileTest, PersonalDataNeverReachesTheLogs) {
  ::testing::internal::CaptureStdout();
  v1::CreateApplicantRequest create;
  *create.mutable_applicant() = Graduate();
  create.mutable_applicant()->set_email("private.person@example.org");
  v1::Applicant out;
  grpc::Status created = Call(Applicant("p1"), &Stub::CreateApplicant, create, &out);
  grpc::Status duplicate = Call(Applicant("p2"), &Stub::CreateApplicant, create, &out);
  create.mutable_applicant()->set_email("broken address@example.org");
  grpc::Status invalid = Call(Applicant("p3"), &Stub::CreateApplicant, create, &out);
  log::Flush();  // lines are written by the logger's thread
  std::string logs = ::testing::internal::GetCapturedStdout();
  EXPECT_TRUE(created.ok());
  EXPECT_EQ(duplicate.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The access log ran for all three calls, the successful one included.
  EXPECT_EQ(CountOccurrences(logs, "ApplicantService/CreateApplicant"), 3) << logs;
  EXPECT_FALSE(absl::StrContains(logs, "private.person"));
  EXPECT_FALSE(absl::StrContains(logs, "broken address"));
}

}  // namespace
}  // namespace clerkship::applicant

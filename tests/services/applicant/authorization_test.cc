// Who may do what, RPC by RPC: the applicant themself vs another applicant, the site's
// coordinator vs another site's, admins, services and anonymous callers. PERMISSION_DENIED
// comes before NOT_FOUND, so other people's ids reveal nothing.

#include <gtest/gtest.h>

#include "tests/services/applicant/applicant_test_env.h"

namespace clerkship::applicant {
namespace {

using Stub = v1::ApplicantService::Stub;
using Code = grpc::StatusCode;

class AuthorizationTest : public ApplicantTestEnv {
 protected:
  void SetUp() override {
    ApplicantTestEnv::SetUp();
    MakeSite("mercy");
    MakeSite("lakeside");
    session_ = MakeRotation("im", ClinicalRotation("mercy"));
    MakeReadyApplicant("a1");
    MakeReadyApplicant("a2");
    app_ = MustSubmit("a1", session_);
    document_ = AddDocument("a1", type::BLS_CERTIFICATE).name();
  }

  struct Row {
    std::string what;
    Caller who;
    Code want;
  };

  // Runs `call` for every row and checks the code.
  template <typename Fn>
  void Expect(const std::vector<Row>& rows, Fn call) {
    for (const Row& row : rows) {
      grpc::Status s = call(row.who);
      EXPECT_EQ(s.error_code(), row.want)
          << row.what << " as " << row.who.role << " " << row.who.principal << " " << row.who.site
          << ": " << s.error_message();
    }
  }

  std::string session_;
  App app_;
  std::string document_;
};

TEST_F(AuthorizationTest, Applications) {
  Expect({{"get own", Applicant("a1"), Code::OK},
          {"get other's", Applicant("a2"), Code::PERMISSION_DENIED},
          {"get as site coordinator", Coordinator("mercy"), Code::OK},
          {"get as other site", Coordinator("lakeside"), Code::PERMISSION_DENIED},
          {"get as admin", Admin(), Code::OK},
          {"get as service", Service(), Code::OK},
          {"get anonymously", Nobody(), Code::UNAUTHENTICATED}},
         [&](const Caller& who) {
           v1::GetApplicationRequest r;
           r.set_name(app_.name());
           App out;
           return Call(who, &Stub::GetApplication, r, &out);
         });

  // A name that does not exist: only admins and services learn that.
  Expect({{"missing", Applicant("a2"), Code::PERMISSION_DENIED},
          {"missing", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"missing", Admin(), Code::NOT_FOUND}},
         [&](const Caller& who) {
           v1::GetApplicationRequest r;
           r.set_name("applications/does-not-exist");
           App out;
           return Call(who, &Stub::GetApplication, r, &out);
         });

  // Site actions: the site's coordinator and admins, never the applicant.
  Expect({{"waitlist own", Applicant("a1"), Code::PERMISSION_DENIED},
          {"waitlist other site", Coordinator("lakeside"), Code::PERMISSION_DENIED},
          {"waitlist anonymously", Nobody(), Code::UNAUTHENTICATED},
          {"waitlist", Coordinator("mercy"), Code::OK}},
         [&](const Caller& who) {
           v1::WaitlistApplicationRequest r;
           r.set_name(app_.name());
           App out;
           return Call(who, &Stub::WaitlistApplication, r, &out);
         });
  Expect({{"offer own", Applicant("a1"), Code::PERMISSION_DENIED},
          {"offer other site", Coordinator("lakeside"), Code::PERMISSION_DENIED},
          {"offer", Coordinator("mercy"), Code::OK}},
         [&](const Caller& who) {
           App out;
           return Offer(who, app_.name(), &out);
         });

  // Applicant actions: only the applicant.
  Expect({{"accept as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"accept as admin", Admin(), Code::PERMISSION_DENIED},
          {"accept other's", Applicant("a2"), Code::PERMISSION_DENIED},
          {"accept own", Applicant("a1"), Code::OK}},
         [&](const Caller& who) {
           App out;
           return Accept(who, app_.name(), &out);
         });
  Expect({{"complete own", Applicant("a1"), Code::PERMISSION_DENIED},
          {"complete other site", Coordinator("lakeside"), Code::PERMISSION_DENIED},
          {"complete", Admin(), Code::OK}},
         [&](const Caller& who) {
           v1::CompleteApplicationRequest r;
           r.set_name(app_.name());
           r.set_weeks_completed(4);
           App out;
           return Call(who, &Stub::CompleteApplication, r, &out);
         });

  // Cancelling is an admin tool.
  App second = MustSubmit("a2", session_);
  App out;
  ASSERT_TRUE(Offer(Admin(), second.name(), &out).ok());
  ASSERT_TRUE(Accept(Applicant("a2"), second.name(), &out).ok());
  Expect({{"cancel own", Applicant("a2"), Code::PERMISSION_DENIED},
          {"cancel as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"cancel", Admin(), Code::OK}},
         [&](const Caller& who) {
           v1::CancelApplicationRequest r;
           r.set_name(second.name());
           r.set_reason("session cancelled");
           App out;
           return Call(who, &Stub::CancelApplication, r, &out);
         });

  // Submitting: only for oneself.
  Expect({{"submit for someone else", Applicant("a2"), Code::PERMISSION_DENIED},
          {"submit as admin", Admin(), Code::PERMISSION_DENIED},
          {"submit as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"submit anonymously", Nobody(), Code::UNAUTHENTICATED}},
         [&](const Caller& who) {
           v1::SubmitApplicationRequest r;
           r.set_applicant("applicants/a1");
           r.set_session(session_);
           App out;
           return Call(who, &Stub::SubmitApplication, r, &out);
         });

  // Matched offers: services and admins.
  Expect({{"matched as applicant", Applicant("a2"), Code::PERMISSION_DENIED},
          {"matched as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED}},
         [&](const Caller& who) {
           v1::CreateMatchedOfferRequest r;
           r.set_applicant("applicants/a2");
           r.set_session(session_);
           r.set_round("rounds/r1");
           r.set_request_id("r1/a2");
           App out;
           return Call(who, &Stub::CreateMatchedOffer, r, &out);
         });
}

TEST_F(AuthorizationTest, Listing) {
  MakeRotation("lake", ClinicalRotation("lakeside"));
  App at_lakeside = MustSubmit("a2", "rotations/lake/sessions/s1");

  auto list = [&](const Caller& who, v1::ListApplicationsRequest r, std::set<std::string>* names) {
    v1::ListApplicationsResponse response;
    grpc::Status s = Call(who, &Stub::ListApplications, r, &response);
    if (names) {
      names->clear();
      for (const auto& a : response.applications()) names->insert(a.name());
    }
    return s;
  };
  std::set<std::string> names;
  ASSERT_TRUE(list(Applicant("a1"), {}, &names).ok());
  EXPECT_EQ(names, std::set<std::string>{app_.name()});
  ASSERT_TRUE(list(Coordinator("lakeside"), {}, &names).ok());
  EXPECT_EQ(names, std::set<std::string>{at_lakeside.name()});
  ASSERT_TRUE(list(Admin(), {}, &names).ok());
  EXPECT_EQ(names.size(), 2u);
  // A coordinator filtering by another site's rotation still sees only their own site.
  v1::ListApplicationsRequest by_rotation;
  by_rotation.set_rotation("rotations/im");
  ASSERT_TRUE(list(Coordinator("lakeside"), by_rotation, &names).ok());
  EXPECT_TRUE(names.empty());

  v1::ListApplicationsRequest others;
  others.set_applicant("applicants/a2");
  EXPECT_EQ(list(Applicant("a1"), others, nullptr).error_code(), Code::PERMISSION_DENIED);
  v1::ListApplicationsRequest other_site;
  other_site.set_site("sites/mercy");
  EXPECT_EQ(list(Coordinator("lakeside"), other_site, nullptr).error_code(),
            Code::PERMISSION_DENIED);
  EXPECT_EQ(list(Nobody(), {}, nullptr).error_code(), Code::UNAUTHENTICATED);
}

TEST_F(AuthorizationTest, ProfilesDocumentsEligibilityAndExperience) {
  // Reading a profile: self, admins, services, and coordinators of sites applied to.
  Expect({{"get own", Applicant("a1"), Code::OK},
          {"get other's", Applicant("a2"), Code::PERMISSION_DENIED},
          {"get as coordinator applied to", Coordinator("mercy"), Code::OK},
          {"get as coordinator not applied to", Coordinator("lakeside"), Code::PERMISSION_DENIED},
          {"get as admin", Admin(), Code::OK},
          {"get as service", Service(), Code::OK},
          {"get anonymously", Nobody(), Code::UNAUTHENTICATED}},
         [&](const Caller& who) {
           v1::GetApplicantRequest r;
           r.set_name("applicants/a1");
           v1::Applicant out;
           return Call(who, &Stub::GetApplicant, r, &out);
         });
  // A coordinator cannot probe for applicants who never applied (or do not exist).
  Expect({{"get missing", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"get missing", Applicant("a2"), Code::PERMISSION_DENIED},
          {"get missing", Admin(), Code::NOT_FOUND},
          {"get missing as self", Applicant("ghost"), Code::NOT_FOUND}},
         [&](const Caller& who) {
           v1::GetApplicantRequest r;
           r.set_name("applicants/ghost");
           v1::Applicant out;
           return Call(who, &Stub::GetApplicant, r, &out);
         });

  Expect({{"update other's", Applicant("a2"), Code::PERMISSION_DENIED},
          {"update as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"update own", Applicant("a1"), Code::OK},
          {"update as admin", Admin(), Code::OK}},
         [&](const Caller& who) {
           v1::UpdateApplicantRequest r;
           r.mutable_applicant()->set_name("applicants/a1");
           r.mutable_applicant()->set_budget_cents(100000);
           v1::Applicant out;
           return Call(who, &Stub::UpdateApplicant, r, &out);
         });

  Expect({{"create someone else's profile", Applicant("a2"), Code::PERMISSION_DENIED},
          {"create as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED}},
         [&](const Caller& who) {
           v1::CreateApplicantRequest r;
           *r.mutable_applicant() = Graduate();
           r.set_applicant_id("a9");
           v1::Applicant out;
           return Call(who, &Stub::CreateApplicant, r, &out);
         });

  Expect({{"add to other's vault", Applicant("a2"), Code::PERMISSION_DENIED},
          {"add as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"add own", Applicant("a1"), Code::OK}},
         [&](const Caller& who) {
           v1::AddDocumentRequest r;
           r.set_parent("applicants/a1");
           r.mutable_document()->set_kind(type::CV);
           r.mutable_document()->set_display_name("CV");
           r.mutable_document()->set_uri("https://files.example.org/cv.pdf");
           r.mutable_document()->set_sha256(std::string(64, 'b'));
           v1::Document out;
           return Call(who, &Stub::AddDocument, r, &out);
         });
  Expect({{"list other's", Applicant("a2"), Code::PERMISSION_DENIED},
          {"list as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"list own", Applicant("a1"), Code::OK},
          {"list as service", Service(), Code::OK}},
         [&](const Caller& who) {
           v1::ListDocumentsRequest r;
           r.set_parent("applicants/a1");
           v1::ListDocumentsResponse out;
           return Call(who, &Stub::ListDocuments, r, &out);
         });
  Expect({{"verify own", Applicant("a1"), Code::PERMISSION_DENIED},
          {"verify as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"verify as service", Service(), Code::PERMISSION_DENIED},
          {"verify", Admin(), Code::OK}},
         [&](const Caller& who) {
           v1::VerifyDocumentRequest r;
           r.set_name(document_);
           r.set_verdict(v1::Document::VERIFIED);
           v1::Document out;
           return Call(who, &Stub::VerifyDocument, r, &out);
         });
  Expect({{"eligibility of other", Applicant("a2"), Code::PERMISSION_DENIED},
          {"eligibility as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"eligibility own", Applicant("a1"), Code::OK},
          {"eligibility as service", Service(), Code::OK}},
         [&](const Caller& who) {
           v1::CheckEligibilityRequest r;
           r.set_applicant("applicants/a1");
           r.set_rotation("rotations/im");
           v1::CheckEligibilityResponse out;
           return Call(who, &Stub::CheckEligibility, r, &out);
         });
  Expect({{"experience of other", Applicant("a2"), Code::PERMISSION_DENIED},
          {"experience as coordinator", Coordinator("mercy"), Code::PERMISSION_DENIED},
          {"experience own", Applicant("a1"), Code::OK},
          {"experience as admin", Admin(), Code::OK},
          {"experience anonymously", Nobody(), Code::UNAUTHENTICATED}},
         [&](const Caller& who) {
           v1::GetExperienceRecordRequest r;
           r.set_name("applicants/a1/experience");
           v1::ExperienceRecord out;
           return Call(who, &Stub::GetExperienceRecord, r, &out);
         });
}

TEST_F(AuthorizationTest, ForgedIdentityIsAnonymous) {
  // The role must match the principal's collection, as the gateway sets them.
  Caller forged{"admin", "applicants/a2", ""};
  v1::GetApplicationRequest r;
  r.set_name(app_.name());
  App out;
  EXPECT_EQ(Call(forged, &Stub::GetApplication, r, &out).error_code(), Code::UNAUTHENTICATED);
  // A coordinator without a site acts for no site.
  Caller siteless{"coordinator", "coordinators/c9", ""};
  EXPECT_EQ(Call(siteless, &Stub::GetApplication, r, &out).error_code(), Code::PERMISSION_DENIED);
}

}  // namespace
}  // namespace clerkship::applicant

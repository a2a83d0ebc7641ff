// The matching service with the real applicant service (applicant_lib) and the
// real catalog (catalog_lib), all in process on port 0 over one real Redis:
// publishing a round twice, and waitlist promotion after a real DeclineOffer
// with two matching replicas.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "services/applicant/applicant_profiles.h"
#include "services/applicant/applicant_service.h"
#include "services/applicant/application_lifecycle.h"
#include "services/applicant/catalog_client.h"
#include "services/applicant/redis_applicant_store.h"
#include "tests/services/matching/matching_stack.h"

namespace clerkship::matching {
namespace {

using ::clerkship::testing::AsAdmin;
using ::clerkship::testing::SetIdentity;
using ::clerkship::testing::TestRedis;
using testing::CatalogServer;
using testing::MatchingInstance;
using testing::WaitUntil;
using Application = applicant::v1::Application;

// The applicant service as main.cc builds it.
struct RealApplicantServer {
  RealApplicantServer(const TestRedis& server,
                      std::shared_ptr<grpc::Channel> catalog_channel) {
    redis = redis::Client::Create(testing::RedisOptionsFor(server));
    redis->WaitHealthy(absl::Seconds(5));
    store = std::make_unique<applicant::RedisApplicantStore>(redis.get());
    catalog = std::make_unique<applicant::GrpcCatalogClient>(
        catalog_channel, "services/applicant");
    applicant::LifecycleOptions options;
    options.offer_ttl = absl::Hours(72);
    options.hold_grace = absl::Minutes(5);
    lifecycle = std::make_unique<applicant::ApplicationLifecycle>(
        store.get(), catalog.get(), Clock::Real(), options);
    profiles = std::make_unique<applicant::ApplicantProfiles>(
        store.get(), catalog.get(), Clock::Real());
    service = std::make_unique<applicant::ApplicantServiceImpl>(
        profiles.get(), lifecycle.get());
    runner = std::make_unique<ServerRunner>(testing::LocalServer("applicant"));
    runner->AddService(service.get(),
                       applicant::v1::ApplicantService::service_full_name());
    runner->TrackRedisHealth(redis.get());
    if (!runner->Start().ok()) std::abort();
    channel = grpc::CreateChannel(runner->address(),
                                  grpc::InsecureChannelCredentials());
    stub = applicant::v1::ApplicantService::NewStub(channel);
  }
  ~RealApplicantServer() { runner->Shutdown(); }

  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<applicant::RedisApplicantStore> store;
  std::unique_ptr<applicant::GrpcCatalogClient> catalog;
  std::unique_ptr<applicant::ApplicationLifecycle> lifecycle;
  std::unique_ptr<applicant::ApplicantProfiles> profiles;
  std::unique_ptr<applicant::ApplicantServiceImpl> service;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<applicant::v1::ApplicantService::Stub> stub;
};

class MatchingWithApplicantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_server_ = TestRedis::Start();
    ASSERT_NE(redis_server_, nullptr);
    catalog_ = std::make_unique<CatalogServer>(*redis_server_);
    applicant_ = std::make_unique<RealApplicantServer>(*redis_server_,
                                                       catalog_->channel);
    grpc::ClientContext c;
    AsAdmin(&c);
    catalog::v1::CreateSiteRequest site;
    site.set_site_id("mercy");
    site.mutable_site()->set_display_name("Mercy General");
    site.mutable_site()->set_city("Queens");
    site.mutable_site()->set_us_state("NY");
    site.mutable_site()->set_time_zone("America/New_York");
    catalog::v1::Site out;
    ASSERT_TRUE(catalog_->stub->CreateSite(&c, site, &out).ok());
  }

  MatchingInstance& StartMatching(const std::string& name) {
    matching_.push_back(std::make_unique<MatchingInstance>(
        *redis_server_, catalog_->channel, applicant_->channel, name));
    EXPECT_TRUE(matching_.back()->cache->WaitReady(absl::Seconds(10)));
    return *matching_.back();
  }

  // A published Internal Medicine rotation with one session per capacity.
  std::vector<std::string> CreateRotation(const std::string& id,
                                          std::vector<int> capacities) {
    grpc::ClientContext c;
    AsAdmin(&c);
    catalog::v1::CreateRotationRequest r;
    r.set_rotation_id(id);
    catalog::v1::Rotation& rot = *r.mutable_rotation();
    rot.set_site("sites/mercy");
    rot.set_title("Inpatient Internal Medicine");
    rot.set_specialty(type::v1::INTERNAL_MEDICINE);
    rot.set_experience_type(type::v1::CLINICAL_ROTATION);
    rot.set_setting(type::v1::INPATIENT);
    rot.mutable_hands_on()->set_patient_contact(true);
    rot.set_duration_weeks(4);
    rot.set_refund_policy(type::v1::FULL_REFUND_30_DAYS);
    catalog::v1::Rotation out;
    EXPECT_TRUE(catalog_->stub->CreateRotation(&c, r, &out).ok());
    std::vector<std::string> sessions;
    for (size_t i = 0; i < capacities.size(); ++i) {
      grpc::ClientContext sc;
      AsAdmin(&sc);
      catalog::v1::CreateSessionRequest sr;
      sr.set_parent(absl::StrCat("rotations/", id));
      sr.set_session_id(absl::StrCat("s", i + 1));
      sr.mutable_session()->set_start_date("2027-03-15");
      sr.mutable_session()->set_end_date("2027-04-11");
      sr.mutable_session()->set_application_deadline("2027-02-01");
      sr.mutable_session()->set_capacity(capacities[i]);
      catalog::v1::Session session;
      EXPECT_TRUE(catalog_->stub->CreateSession(&sc, sr, &session).ok());
      sessions.push_back(session.name());
    }
    grpc::ClientContext pc;
    AsAdmin(&pc);
    catalog::v1::PublishRotationRequest p;
    p.set_name(absl::StrCat("rotations/", id));
    EXPECT_TRUE(catalog_->stub->PublishRotation(&pc, p, &out).ok());
    return sessions;
  }

  void CreateApplicant(const std::string& id) {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", absl::StrCat("applicants/", id));
    applicant::v1::CreateApplicantRequest r;
    r.set_applicant_id(id);
    applicant::v1::Applicant& a = *r.mutable_applicant();
    a.set_given_name("Test");
    a.set_family_name(id);
    a.set_email(absl::StrCat(id, "@example.org"));
    a.set_training_stage(type::v1::GRADUATE);
    a.set_medical_school("Example Medical College");
    a.set_school_country("IN");
    a.set_graduation_year(2024);
    a.set_step1_status(type::v1::STEP1_PASSED);
    a.set_visa_status(type::v1::J1);
    a.add_specialty_interests(type::v1::INTERNAL_MEDICINE);
    applicant::v1::Applicant out;
    grpc::Status s = applicant_->stub->CreateApplicant(&c, r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  Application Submit(const std::string& applicant, const std::string& session) {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", applicant);
    applicant::v1::SubmitApplicationRequest r;
    r.set_applicant(applicant);
    r.set_session(session);
    Application out;
    grpc::Status s = applicant_->stub->SubmitApplication(&c, r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  Application Get(const std::string& application) {
    grpc::ClientContext c;
    AsAdmin(&c);
    applicant::v1::GetApplicationRequest r;
    r.set_name(application);
    Application out;
    EXPECT_TRUE(applicant_->stub->GetApplication(&c, r, &out).ok());
    return out;
  }

  std::vector<Application> ApplicationsTo(const std::string& session) {
    grpc::ClientContext c;
    AsAdmin(&c);
    applicant::v1::ListApplicationsRequest r;
    r.set_session(session);
    r.set_page_size(100);
    applicant::v1::ListApplicationsResponse out;
    EXPECT_TRUE(applicant_->stub->ListApplications(&c, r, &out).ok());
    return {out.applications().begin(), out.applications().end()};
  }

  std::unique_ptr<TestRedis> redis_server_;
  std::unique_ptr<CatalogServer> catalog_;
  std::unique_ptr<RealApplicantServer> applicant_;
  std::vector<std::unique_ptr<MatchingInstance>> matching_;
};

TEST_F(MatchingWithApplicantTest, PublishingTwiceMakesOneOfferPerMatch) {
  std::vector<std::string> sessions = CreateRotation("im", {1, 1});
  for (const char* id : {"a1", "a2", "a3"}) CreateApplicant(id);
  MatchingInstance& matching = StartMatching("replica-1");
  v1::MatchingService::Stub& stub = *matching.stub;

  v1::Round round;
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::CreateRoundRequest r;
    r.set_round_id("spring");
    r.mutable_round()->set_display_name("Spring");
    for (const auto& s : sessions) r.mutable_round()->add_sessions(s);
    *r.mutable_round()->mutable_rank_deadline() =
        ToProtoTime(absl::Now() + absl::Hours(1));
    r.mutable_round()->set_seed(11);
    ASSERT_TRUE(stub.CreateRound(&c, r, &round).ok());
  }
  for (const char* id : {"a1", "a2", "a3"}) {
    grpc::ClientContext c;
    const std::string applicant = absl::StrCat("applicants/", id);
    SetIdentity(&c, "applicant", applicant);
    v1::SubmitRankListRequest r;
    r.set_round("rounds/spring");
    r.set_applicant(applicant);
    r.add_sessions(sessions[0]);
    r.add_sessions(sessions[1]);
    v1::RankList out;
    grpc::Status s = stub.SubmitRankList(&c, r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::RunRoundRequest r;
    r.set_name("rounds/spring");
    ASSERT_TRUE(stub.RunRound(&c, r, &round).ok());
    EXPECT_EQ(round.stats().matched(), 2);
    EXPECT_TRUE(round.stats().stable());
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::PublishRoundRequest r;
    r.set_name("rounds/spring");
    grpc::Status s = stub.PublishRound(&c, r, &round);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(round.state(), v1::Round::PUBLISHED);
    EXPECT_EQ(round.stats().offers_created(), 2);
    EXPECT_EQ(round.stats().offers_failed(), 0);
  }
  // One OFFERED application per session, made by the round, and one
  // round.published.
  for (const std::string& session : sessions) {
    std::vector<Application> apps = ApplicationsTo(session);
    ASSERT_EQ(apps.size(), 1u) << session;
    EXPECT_EQ(apps[0].state(), Application::OFFERED);
    EXPECT_EQ(apps[0].round(), "rounds/spring");
  }
  EXPECT_EQ(redis_server_->Command({"XLEN", "mat:events"}), "1");
}

TEST_F(MatchingWithApplicantTest,
       DeclinedOfferPromotesTheWaitlistOnceWithTwoReplicas) {
  const std::string session = CreateRotation("im", {1})[0];
  for (const char* id : {"ann", "ben", "cat"}) CreateApplicant(id);
  const Application ann = Submit("applicants/ann", session);
  const Application ben = Submit("applicants/ben", session);
  const Application cat = Submit("applicants/cat", session);
  auto as_coordinator = [](grpc::ClientContext* c) {
    SetIdentity(c, "coordinator", "coordinators/7", "sites/mercy");
  };
  {
    grpc::ClientContext c;
    as_coordinator(&c);
    applicant::v1::OfferApplicationRequest r;
    r.set_name(ann.name());
    Application out;
    grpc::Status s = applicant_->stub->OfferApplication(&c, r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  for (const Application* app : {&ben, &cat}) {
    grpc::ClientContext c;
    as_coordinator(&c);
    applicant::v1::WaitlistApplicationRequest r;
    r.set_name(app->name());
    Application out;
    grpc::Status s = applicant_->stub->WaitlistApplication(&c, r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  MatchingInstance& first = StartMatching("replica-1");
  MatchingInstance& second = StartMatching("replica-2");

  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/ann");
    applicant::v1::DeclineOfferRequest r;
    r.set_name(ann.name());
    Application out;
    grpc::Status s = applicant_->stub->DeclineOffer(&c, r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(WaitUntil(
      [&] { return Get(ben.name()).state() == Application::OFFERED; }));
  Application promoted = Get(ben.name());
  EXPECT_EQ(promoted.history(promoted.history_size() - 1).actor(),
            "services/matching");
  ASSERT_TRUE(WaitUntil([&] {
    auto reply =
        first.redis->CommandSync({"XPENDING", "cat:events", "matching"});
    return reply.ok() && reply->is_array() && !reply->elements.empty() &&
           reply->elements[0].integer == 0;
  }));
  EXPECT_EQ(first.promoter->promotions() + second.promoter->promotions(), 1);
  EXPECT_EQ(Get(cat.name()).state(), Application::WAITLISTED);
}

}  // namespace
}  // namespace clerkship::matching

// The matching service end to end: a real Redis, the real catalog in process,
// an in-memory applicant service (FakeApplicantService), and one or two
// matching replicas, all called through their generated stubs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/util/clock.h"
#include "services/matching/algorithm/placement_round.h"
#include "services/matching/algorithm/round_json.h"
#include "tests/services/matching/matching_stack.h"

namespace clerkship::matching {
namespace {

using ::clerkship::testing::AsAdmin;
using ::clerkship::testing::ReasonOf;
using ::clerkship::testing::SetIdentity;
using ::clerkship::testing::TestRedis;
using ::clerkship::testing::ViolatedFields;
using testing::ApplicantServer;
using testing::CatalogServer;
using ::testing::ElementsAre;
using testing::FakeApplicantService;
using testing::MatchingInstance;
using ::testing::UnorderedElementsAre;
using testing::WaitUntil;
using Application = applicant::v1::Application;

class MatchingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_server_ = TestRedis::Start();
    ASSERT_NE(redis_server_, nullptr);
    catalog_ = std::make_unique<CatalogServer>(*redis_server_);
    applicant_ = std::make_unique<ApplicantServer>(catalog_->channel);
    CreateSite("mercy", "NY");
    CreateSite("lakeside", "IL");
  }

  MatchingInstance& StartMatching(const std::string& name = "replica-1",
                                  Clock* clock = Clock::Real()) {
    matching_.push_back(std::make_unique<MatchingInstance>(
        *redis_server_, catalog_->channel, applicant_->channel, name, clock));
    EXPECT_TRUE(matching_.back()->cache->WaitReady(absl::Seconds(10)));
    return *matching_.back();
  }
  v1::MatchingService::Stub& stub() { return *matching_.front()->stub; }
  FakeApplicantService& applicants() { return applicant_->service; }

  void CreateSite(const std::string& id, const std::string& state) {
    grpc::ClientContext c;
    AsAdmin(&c);
    catalog::v1::CreateSiteRequest r;
    r.set_site_id(id);
    r.mutable_site()->set_display_name(absl::StrCat(id, " hospital"));
    r.mutable_site()->set_city("Springfield");
    r.mutable_site()->set_us_state(state);
    r.mutable_site()->set_time_zone("America/New_York");
    catalog::v1::Site out;
    ASSERT_TRUE(catalog_->stub->CreateSite(&c, r, &out).ok());
  }

  // A published rotation with one session per capacity given.
  std::vector<std::string> CreateRotation(const std::string& id,
                                          const std::string& site,
                                          type::v1::Specialty specialty,
                                          std::vector<int> capacities,
                                          bool ecfmg_required = false) {
    {
      grpc::ClientContext c;
      AsAdmin(&c);
      catalog::v1::CreateRotationRequest r;
      r.set_rotation_id(id);
      catalog::v1::Rotation& rot = *r.mutable_rotation();
      rot.set_site(absl::StrCat("sites/", site));
      rot.set_title(absl::StrCat(id, " clerkship"));
      rot.set_specialty(specialty);
      rot.set_experience_type(type::v1::CLINICAL_ROTATION);
      rot.set_setting(type::v1::INPATIENT);
      rot.mutable_hands_on()->set_patient_contact(true);
      rot.set_duration_weeks(4);
      rot.mutable_fees()->set_program_fee_cents(200000);
      rot.set_refund_policy(type::v1::FULL_REFUND_30_DAYS);
      rot.set_lor_offered(true);
      rot.mutable_eligibility()->set_ecfmg_required(ecfmg_required);
      catalog::v1::Rotation out;
      grpc::Status s = catalog_->stub->CreateRotation(&c, r, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    std::vector<std::string> sessions;
    for (size_t i = 0; i < capacities.size(); ++i) {
      grpc::ClientContext c;
      AsAdmin(&c);
      catalog::v1::CreateSessionRequest r;
      r.set_parent(absl::StrCat("rotations/", id));
      r.set_session_id(absl::StrCat("s", i + 1));
      r.mutable_session()->set_start_date("2027-03-15");
      r.mutable_session()->set_end_date("2027-04-11");
      r.mutable_session()->set_application_deadline("2027-02-01");
      r.mutable_session()->set_capacity(capacities[i]);
      catalog::v1::Session out;
      grpc::Status s = catalog_->stub->CreateSession(&c, r, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
      sessions.push_back(out.name());
    }
    grpc::ClientContext c;
    AsAdmin(&c);
    catalog::v1::PublishRotationRequest p;
    p.set_name(absl::StrCat("rotations/", id));
    catalog::v1::Rotation out;
    grpc::Status s = catalog_->stub->PublishRotation(&c, p, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return sessions;
  }

  static applicant::v1::Applicant Applicant(const std::string& id) {
    applicant::v1::Applicant a;
    a.set_name(absl::StrCat("applicants/", id));
    a.set_training_stage(type::v1::GRADUATE);
    a.set_graduation_year(2024);
    a.set_step1_status(type::v1::STEP1_PASSED);
    a.set_visa_status(type::v1::J1);
    a.add_specialty_interests(type::v1::INTERNAL_MEDICINE);
    a.add_specialty_interests(type::v1::PEDIATRICS);
    type::v1::DateRange* free = a.add_availability();
    free->set_start_date("2027-03-01");
    free->set_end_date("2027-06-30");
    a.add_preferred_states("NY");
    a.set_budget_cents(500000);
    a.set_prefers_hands_on(true);
    a.set_time_zone("America/New_York");
    return a;
  }

  grpc::Status Recommend(const std::string& applicant,
                         v1::RecommendRotationsResponse* out,
                         const std::string& caller = "") {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", caller.empty() ? applicant : caller);
    v1::RecommendRotationsRequest r;
    r.set_applicant(applicant);
    r.set_page_size(50);
    return stub().RecommendRotations(&c, r, out);
  }
  std::vector<std::string> RecommendedSessions(const std::string& applicant) {
    v1::RecommendRotationsResponse out;
    grpc::Status s = Recommend(applicant, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> sessions;
    for (const auto& r : out.recommendations()) sessions.push_back(r.session());
    return sessions;
  }

  grpc::Status CreateRound(const std::string& id,
                           const std::vector<std::string>& sessions,
                           int64_t seed, int max_ranks, v1::Round* out) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::CreateRoundRequest r;
    r.set_round_id(id);
    r.mutable_round()->set_display_name("Spring 2027 placement");
    for (const auto& s : sessions) r.mutable_round()->add_sessions(s);
    *r.mutable_round()->mutable_rank_deadline() =
        ToProtoTime(absl::Now() + absl::Hours(1));
    r.mutable_round()->set_seed(seed);
    r.mutable_round()->set_max_ranks_per_applicant(max_ranks);
    return stub().CreateRound(&c, r, out);
  }
  grpc::Status SubmitRankList(const std::string& round,
                              const std::string& applicant,
                              const std::vector<std::string>& sessions) {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", applicant);
    v1::SubmitRankListRequest r;
    r.set_round(round);
    r.set_applicant(applicant);
    for (const auto& s : sessions) r.add_sessions(s);
    v1::RankList out;
    return stub().SubmitRankList(&c, r, &out);
  }
  grpc::Status SubmitRanking(const std::string& round,
                             const std::string& session,
                             const std::vector<std::string>& applicants,
                             const std::string& site) {
    grpc::ClientContext c;
    SetIdentity(&c, "coordinator", "coordinators/7", site);
    v1::SubmitSessionRankingRequest r;
    r.set_round(round);
    r.set_session(session);
    for (const auto& a : applicants) r.add_applicants(a);
    v1::SessionRanking out;
    return stub().SubmitSessionRanking(&c, r, &out);
  }
  grpc::Status RunRound(const std::string& round, v1::Round* out) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::RunRoundRequest r;
    r.set_name(round);
    return stub().RunRound(&c, r, out);
  }
  grpc::Status PublishRound(const std::string& round, v1::Round* out) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::PublishRoundRequest r;
    r.set_name(round);
    return stub().PublishRound(&c, r, out);
  }
  std::map<std::string, v1::RoundResult> Results(const std::string& round) {
    std::map<std::string, v1::RoundResult> out;
    v1::ListRoundResultsRequest r;
    r.set_round(round);
    r.set_page_size(2);
    do {
      grpc::ClientContext c;
      AsAdmin(&c);
      v1::ListRoundResultsResponse page;
      grpc::Status s = stub().ListRoundResults(&c, r, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      EXPECT_LE(page.results_size(), 2);
      for (const auto& result : page.results())
        out[result.applicant()] = result;
      r.set_page_token(page.next_page_token());
    } while (!r.page_token().empty());
    return out;
  }

  // Five applicants, three mercy/lakeside sessions with 1, 2 and 1 seats, plus
  // an ECFMG-only session nobody is eligible for; every rank list in; s1 ranked
  // by its coordinator.
  struct SmallRound {
    std::string s1, s2, s3, strict;
  };
  SmallRound SetUpSmallRoundCatalog() {
    SmallRound r;
    std::vector<std::string> im =
        CreateRotation("im", "mercy", type::v1::INTERNAL_MEDICINE, {1, 2});
    r.s1 = im[0];
    r.s2 = im[1];
    r.s3 = CreateRotation("peds", "lakeside", type::v1::PEDIATRICS, {1})[0];
    r.strict = CreateRotation("strict", "lakeside", type::v1::INTERNAL_MEDICINE,
                              {1}, true)[0];
    for (const char* id : {"a1", "a2", "a3", "a4", "a5"})
      applicants().AddApplicant(Applicant(id));
    return r;
  }
  void SubmitSmallRoundInputs(const std::string& round, const SmallRound& r) {
    ASSERT_TRUE(SubmitRankList(round, "applicants/a1", {r.s1, r.s2}).ok());
    ASSERT_TRUE(SubmitRankList(round, "applicants/a2", {r.s1, r.s3}).ok());
    ASSERT_TRUE(SubmitRankList(round, "applicants/a3", {r.s1, r.s2}).ok());
    ASSERT_TRUE(SubmitRankList(round, "applicants/a4", {r.s2}).ok());
    ASSERT_TRUE(SubmitRankList(round, "applicants/a5", {r.s3, r.s1}).ok());
    ASSERT_TRUE(SubmitRanking(round, r.s1,
                              {"applicants/a3", "applicants/a2",
                               "applicants/a1", "applicants/a5"},
                              "sites/mercy")
                    .ok());
  }

  std::unique_ptr<TestRedis> redis_server_;
  std::unique_ptr<CatalogServer> catalog_;
  std::unique_ptr<ApplicantServer> applicant_;
  std::vector<std::unique_ptr<MatchingInstance>> matching_;
};

TEST_F(MatchingServiceTest, RecommendationsAreExplainedAndFollowTheCatalog) {
  std::string im =
      CreateRotation("im", "mercy", type::v1::INTERNAL_MEDICINE, {2})[0];
  std::string peds =
      CreateRotation("peds", "lakeside", type::v1::PEDIATRICS, {2})[0];
  std::string strict = CreateRotation(
      "strict", "mercy", type::v1::INTERNAL_MEDICINE, {2}, true)[0];
  applicants().AddApplicant(Applicant("maria"));
  applicants().AddApplicant(Applicant("omar"));
  StartMatching();

  v1::RecommendRotationsResponse out;
  ASSERT_TRUE(Recommend("applicants/maria", &out).ok());
  ASSERT_EQ(out.recommendations_size(), 2);  // not the ECFMG-only rotation
  const v1::Recommendation& best = out.recommendations(0);
  EXPECT_EQ(best.session(), im);
  EXPECT_EQ(best.site_display_name(), "mercy hospital");
  EXPECT_THAT(
      best.reasons(),
      ElementsAre(
          "Internal Medicine is your first choice",
          "starts within your availability 2027-03-01 \xE2\x80\x93 2027-06-30",
          "in New York, one of your preferred states",
          "$3,000 under your budget", "hands-on: patient contact",
          "offers a letter of recommendation", "2 seats left"));
  EXPECT_EQ(out.recommendations(1).session(), peds);
  EXPECT_EQ(out.recommendations(1).reasons(0),
            "Pediatrics is your second choice");

  // A session the applicant already applied to is left out.
  applicants().AddApplication("applicants/maria", im, Application::SUBMITTED);
  EXPECT_THAT(RecommendedSessions("applicants/maria"), ElementsAre(peds));

  // The cache follows the catalog's events: a newly published rotation shows
  // up...
  std::string fm =
      CreateRotation("fm", "mercy", type::v1::FAMILY_MEDICINE, {1})[0];
  EXPECT_TRUE(WaitUntil([&] {
    std::vector<std::string> s = RecommendedSessions("applicants/maria");
    return std::find(s.begin(), s.end(), fm) != s.end();
  }));
  // ...and a session whose seats are all held disappears.
  for (const char* holder : {"applications/x1", "applications/x2"}) {
    grpc::ClientContext c;
    clerkship::testing::AsService(&c);
    catalog::v1::HoldSeatRequest hold;
    hold.set_session(peds);
    hold.set_holder(holder);
    *hold.mutable_expire_time() = ToProtoTime(absl::Now() + absl::Hours(1));
    catalog::v1::SeatHold held;
    ASSERT_TRUE(catalog::v1::SeatInventoryService::NewStub(catalog_->channel)
                    ->HoldSeat(&c, hold, &held)
                    .ok());
  }
  EXPECT_TRUE(WaitUntil([&] {
    return RecommendedSessions("applicants/maria") ==
           std::vector<std::string>{fm};
  }));
  // ...and an archived rotation leaves.
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    catalog::v1::ArchiveRotationRequest archive;
    archive.set_name("rotations/fm");
    catalog::v1::Rotation archived;
    ASSERT_TRUE(catalog_->stub->ArchiveRotation(&c, archive, &archived).ok());
  }
  EXPECT_TRUE(WaitUntil(
      [&] { return RecommendedSessions("applicants/maria").empty(); }));

  // Only the applicant themself (or an admin) may ask.
  v1::RecommendRotationsResponse denied;
  EXPECT_EQ(
      Recommend("applicants/maria", &denied, "applicants/omar").error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext anonymous;
  v1::RecommendRotationsRequest r;
  r.set_applicant("applicants/maria");
  EXPECT_EQ(stub().RecommendRotations(&anonymous, r, &denied).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Recommend("applicants/nobody", &denied).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::RecommendRotationsResponse bad;
  EXPECT_THAT(ViolatedFields(Recommend("maria", &bad, "applicants/maria")),
              ElementsAre("applicant"));
}

TEST_F(MatchingServiceTest, CreateRoundChecksItsSessionsWithTheCatalog) {
  std::string im =
      CreateRotation("im", "mercy", type::v1::INTERNAL_MEDICINE, {2})[0];
  {
    // A rotation left in DRAFT, with a session.
    grpc::ClientContext c;
    AsAdmin(&c);
    catalog::v1::CreateRotationRequest r;
    r.set_rotation_id("draft");
    catalog::v1::Rotation& rot = *r.mutable_rotation();
    rot.set_site("sites/mercy");
    rot.set_title("Draft clerkship");
    rot.set_specialty(type::v1::PEDIATRICS);
    rot.set_experience_type(type::v1::CLINICAL_ROTATION);
    rot.set_setting(type::v1::INPATIENT);
    rot.set_duration_weeks(4);
    rot.set_refund_policy(type::v1::NON_REFUNDABLE);
    catalog::v1::Rotation out;
    ASSERT_TRUE(catalog_->stub->CreateRotation(&c, r, &out).ok());
    grpc::ClientContext c2;
    AsAdmin(&c2);
    catalog::v1::CreateSessionRequest sr;
    sr.set_parent("rotations/draft");
    sr.set_session_id("s1");
    sr.mutable_session()->set_start_date("2027-03-15");
    sr.mutable_session()->set_end_date("2027-04-11");
    sr.mutable_session()->set_application_deadline("2027-02-01");
    sr.mutable_session()->set_capacity(1);
    catalog::v1::Session session;
    ASSERT_TRUE(catalog_->stub->CreateSession(&c2, sr, &session).ok());
  }
  StartMatching();
  v1::Round out;
  grpc::Status s =
      CreateRound("spring", {im, "rotations/im/sessions/nope"}, 1, 0, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("round.sessions[1]"));
  s = CreateRound("spring", {im, "rotations/draft/sessions/s1"}, 1, 0, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ROTATION_NOT_PUBLISHED");
  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/a1");
    v1::CreateRoundRequest r;
    r.mutable_round()->set_display_name("mine");
    EXPECT_EQ(stub().CreateRound(&c, r, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  // A seed of 0 draws one; the defaults apply; the same request id returns the
  // same round.
  grpc::ClientContext c;
  AsAdmin(&c);
  v1::CreateRoundRequest r;
  r.mutable_round()->set_display_name("Autumn");
  r.mutable_round()->add_sessions(im);
  *r.mutable_round()->mutable_rank_deadline() =
      ToProtoTime(absl::Now() + absl::Hours(1));
  r.set_request_id("create-autumn-1");
  v1::Round first;
  ASSERT_TRUE(stub().CreateRound(&c, r, &first).ok());
  EXPECT_GT(first.seed(), 0);
  EXPECT_EQ(first.max_ranks_per_applicant(), 20);
  EXPECT_EQ(first.state(), v1::Round::OPEN);
  grpc::ClientContext c2;
  AsAdmin(&c2);
  v1::Round retry;
  ASSERT_TRUE(stub().CreateRound(&c2, r, &retry).ok());
  EXPECT_EQ(retry.name(), first.name());
  EXPECT_EQ(retry.seed(), first.seed());
  ASSERT_TRUE(CreateRound("spring", {im}, 5, 0, &out).ok());
  EXPECT_EQ(CreateRound("spring", {im}, 5, 0, &out).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(MatchingServiceTest, SmallRoundEndToEnd) {
  SmallRound r = SetUpSmallRoundCatalog();
  StartMatching();
  v1::Round round;
  ASSERT_TRUE(
      CreateRound("spring", {r.s1, r.s2, r.s3, r.strict}, 42, 3, &round).ok());
  EXPECT_EQ(round.name(), "rounds/spring");
  EXPECT_EQ(round.state(), v1::Round::OPEN);
  EXPECT_EQ(round.seed(), 42);
  EXPECT_TRUE(round.sessions().empty());  // BASIC view

  // Bad rank lists are refused with the field or the reason named.
  grpc::Status s =
      SubmitRankList("rounds/spring", "applicants/a1", {r.s1, r.s1});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("sessions[1]"));
  s = SubmitRankList("rounds/spring", "applicants/a1",
                     {"rotations/im/sessions/s9", r.s1});
  EXPECT_THAT(ViolatedFields(s), ElementsAre("sessions[0]"));
  s = SubmitRankList("rounds/spring", "applicants/a1",
                     {r.s1, r.s2, r.s3, r.strict});
  EXPECT_THAT(ViolatedFields(s), ElementsAre("sessions"));
  s = SubmitRankList("rounds/spring", "applicants/a1", {r.s1, r.strict});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "NOT_ELIGIBLE");
  std::vector<PreconditionViolation> why =
      PreconditionViolationsOf(FromGrpcStatus(s));
  ASSERT_EQ(why.size(), 1u);
  EXPECT_EQ(why[0].type, "ECFMG_REQUIRED");
  EXPECT_EQ(why[0].subject, r.strict);
  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/a2");
    v1::SubmitRankListRequest req;
    req.set_round("rounds/spring");
    req.set_applicant("applicants/a1");
    v1::RankList out;
    EXPECT_EQ(stub().SubmitRankList(&c, req, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(SubmitRankList("rounds/nope", "applicants/a1", {r.s1}).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A coordinator ranks only their own site's sessions.
  EXPECT_EQ(
      SubmitRanking("rounds/spring", r.s1, {"applicants/a1"}, "sites/lakeside")
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);

  SubmitSmallRoundInputs("rounds/spring", r);
  // RunRound with an etag runs only the version that was read.
  v1::Round current;
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::GetRoundRequest get;
    get.set_name("rounds/spring");
    ASSERT_TRUE(stub().GetRound(&c, get, &current).ok());
    EXPECT_NE(current.etag(), round.etag());  // rank lists changed it
  }
  v1::Round run;
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::RunRoundRequest stale;
    stale.set_name("rounds/spring");
    stale.set_etag(round.etag());
    EXPECT_EQ(stub().RunRound(&c, stale, &run).error_code(),
              grpc::StatusCode::ABORTED);
  }
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::RunRoundRequest fresh;
    fresh.set_name("rounds/spring");
    fresh.set_etag(current.etag());
    grpc::Status s = stub().RunRound(&c, fresh, &run);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(run.state(), v1::Round::RUN);
  const v1::RoundStats& stats = run.stats();
  EXPECT_TRUE(stats.stable()) << stats.verdict();
  EXPECT_EQ(stats.verdict(), "stable: 5 seats, 0 blocking pairs");
  EXPECT_EQ(stats.applicants(), 5);
  EXPECT_EQ(stats.sessions(), 4);
  EXPECT_EQ(stats.seats(), 5);
  EXPECT_EQ(stats.matched(), 4);
  EXPECT_EQ(stats.unmatched(), 1);
  EXPECT_DOUBLE_EQ(stats.fill_rate(), 0.8);
  EXPECT_EQ(stats.lottery_sessions(), 3);
  EXPECT_EQ(stats.rank_histogram_size(), 2);
  EXPECT_EQ(stats.rank_histogram(0) + stats.rank_histogram(1), 4);
  EXPECT_EQ(run.rank_list_count(), 5);
  EXPECT_EQ(run.session_ranking_count(), 1);
  EXPECT_TRUE(stats.session_fill().empty());  // BASIC view

  // s1 takes its coordinator's favourite; a1 and a4 share s2; s3's lottery
  // picks one of a2 and a5, and the other is left out (s1 prefers a3 to both).
  std::map<std::string, v1::RoundResult> results = Results("rounds/spring");
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results["applicants/a3"].session(), r.s1);
  EXPECT_EQ(results["applicants/a3"].applicant_rank(), 1);
  EXPECT_EQ(results["applicants/a1"].session(), r.s2);
  EXPECT_EQ(results["applicants/a1"].applicant_rank(), 2);
  EXPECT_EQ(results["applicants/a4"].session(), r.s2);
  EXPECT_EQ((results["applicants/a2"].session() == r.s3) +
                (results["applicants/a5"].session() == r.s3),
            1);
  EXPECT_TRUE(results["applicants/a2"].session().empty() ||
              results["applicants/a5"].session().empty());

  // The full view carries the sessions and every session's fill.
  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/a1");
    v1::GetRoundRequest get;
    get.set_name("rounds/spring");
    get.set_view(v1::ROUND_VIEW_FULL);
    v1::Round full;
    ASSERT_TRUE(stub().GetRound(&c, get, &full).ok());
    EXPECT_THAT(full.sessions(),
                UnorderedElementsAre(r.s1, r.s2, r.s3, r.strict));
    ASSERT_EQ(full.stats().session_fill_size(), 4);
    for (const auto& fill : full.stats().session_fill()) {
      EXPECT_EQ(fill.lottery(), fill.session() != r.s1) << fill.session();
      if (fill.session() == r.s2) EXPECT_EQ(fill.filled(), 2);
      if (fill.session() == r.strict) EXPECT_EQ(fill.filled(), 0);
    }
  }

  // Ranking is closed and the round cannot run twice.
  s = SubmitRankList("rounds/spring", "applicants/a1", {r.s2});
  EXPECT_EQ(ReasonOf(s), "RANKING_CLOSED");
  EXPECT_EQ(RunRound("rounds/spring", &run).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Applicants see nothing until it is published.
  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/a1");
    v1::ListRoundResultsRequest list;
    list.set_round("rounds/spring");
    list.set_applicant("applicants/a1");
    v1::ListRoundResultsResponse out;
    s = stub().ListRoundResults(&c, list, &out);
    EXPECT_EQ(ReasonOf(s), "ROUND_NOT_PUBLISHED");
  }

  // The export replays offline to the very same matching, and is byte-stable.
  std::string exported;
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::ExportRoundRequest req;
    req.set_name("rounds/spring");
    v1::ExportRoundResponse out;
    ASSERT_TRUE(stub().ExportRound(&c, req, &out).ok());
    if (i == 1) EXPECT_EQ(out.json(), exported);
    exported = out.json();
  }
  absl::StatusOr<Instance> instance = ParseRoundJson(exported);
  ASSERT_TRUE(instance.ok()) << instance.status();
  RoundOutcome replay = RunPlacementRound(*instance);
  EXPECT_TRUE(replay.verdict.stable());
  for (int32_t a = 0; a < instance->num_applicants(); ++a) {
    const int32_t s_index = replay.matching.session_of_applicant[a];
    EXPECT_EQ(results[instance->applicant_ids[a]].session(),
              s_index == kUnmatched ? "" : instance->session_ids[s_index]);
  }

  // Same inputs and seed, another round: the same matching.
  v1::Round again;
  ASSERT_TRUE(
      CreateRound("spring-again", {r.s1, r.s2, r.s3, r.strict}, 42, 3, &again)
          .ok());
  SubmitSmallRoundInputs("rounds/spring-again", r);
  ASSERT_TRUE(RunRound("rounds/spring-again", &again).ok());
  std::map<std::string, v1::RoundResult> repeat =
      Results("rounds/spring-again");
  ASSERT_EQ(repeat.size(), results.size());
  for (const auto& [applicant, result] : results) {
    EXPECT_EQ(repeat[applicant].session(), result.session()) << applicant;
  }
}

TEST_F(MatchingServiceTest, RankingClosesAtTheDeadline) {
  SmallRound r = SetUpSmallRoundCatalog();
  ManualClock clock(absl::Now());
  StartMatching("replica-1", &clock);
  v1::Round round;
  ASSERT_TRUE(CreateRound("spring", {r.s1, r.s2}, 3, 0, &round)
                  .ok());  // deadline: +1 h
  ASSERT_TRUE(SubmitRankList("rounds/spring", "applicants/a1", {r.s1}).ok());
  clock.Advance(absl::Hours(2));
  grpc::Status s = SubmitRankList("rounds/spring", "applicants/a1", {r.s2});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "RANKING_CLOSED");
  EXPECT_EQ(ReasonOf(SubmitRanking("rounds/spring", r.s1, {"applicants/a1"},
                                   "sites/mercy")),
            "RANKING_CLOSED");
  // The round still runs on what was submitted in time.
  v1::Round run;
  ASSERT_TRUE(RunRound("rounds/spring", &run).ok());
  EXPECT_EQ(Results("rounds/spring")["applicants/a1"].session(), r.s1);
}

TEST_F(MatchingServiceTest, PublishingTwiceCreatesNoSecondOffer) {
  SmallRound r = SetUpSmallRoundCatalog();
  StartMatching();
  v1::Round round;
  ASSERT_TRUE(
      CreateRound("spring", {r.s1, r.s2, r.s3, r.strict}, 7, 3, &round).ok());
  SubmitSmallRoundInputs("rounds/spring", r);
  ASSERT_TRUE(RunRound("rounds/spring", &round).ok());

  v1::Round published;
  ASSERT_TRUE(PublishRound("rounds/spring", &published).ok());
  EXPECT_EQ(published.state(), v1::Round::PUBLISHED);
  EXPECT_EQ(published.stats().offers_created(), 4);
  EXPECT_EQ(published.stats().offers_failed(), 0);
  EXPECT_TRUE(published.has_publish_time());
  EXPECT_EQ(applicants().matched_offers_created(), 4);
  EXPECT_EQ(redis_server_->Command({"XLEN", "mat:events"}), "1");

  v1::Round again;
  ASSERT_TRUE(PublishRound("rounds/spring", &again).ok());
  EXPECT_EQ(again.state(), v1::Round::PUBLISHED);
  EXPECT_EQ(again.stats().offers_created(), 4);
  EXPECT_EQ(again.publish_time().seconds(), published.publish_time().seconds());
  EXPECT_EQ(applicants().matched_offers_created(), 4);  // no second offer
  EXPECT_EQ(redis_server_->Command({"XLEN", "mat:events"}),
            "1");  // no second event

  // Every offer holds a seat in the catalog: s1 (one seat) is now full.
  {
    grpc::ClientContext c;
    catalog::v1::GetSessionRequest get;
    get.set_name(r.s1);
    catalog::v1::Session s1;
    ASSERT_TRUE(catalog_->stub->GetSession(&c, get, &s1).ok());
    EXPECT_EQ(s1.seats_available(), 0);
    EXPECT_EQ(s1.seats_held(), 1);
  }
  // Each matched applicant now sees their own result with its application; a
  // coordinator sees the matches of their session.
  std::map<std::string, v1::RoundResult> results = Results("rounds/spring");
  for (const auto& [applicant, result] : results) {
    EXPECT_EQ(result.application().empty(), result.session().empty())
        << applicant;
  }
  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/a3");
    v1::ListRoundResultsRequest list;
    list.set_round("rounds/spring");
    list.set_applicant("applicants/a3");
    v1::ListRoundResultsResponse out;
    ASSERT_TRUE(stub().ListRoundResults(&c, list, &out).ok());
    ASSERT_EQ(out.results_size(), 1);
    EXPECT_EQ(out.results(0).session(), r.s1);
    EXPECT_EQ(applicants().Get(out.results(0).application()).round(),
              "rounds/spring");
  }
  {
    grpc::ClientContext c;
    SetIdentity(&c, "coordinator", "coordinators/7", "sites/mercy");
    v1::ListRoundResultsRequest list;
    list.set_round("rounds/spring");
    list.set_session(r.s2);
    v1::ListRoundResultsResponse out;
    ASSERT_TRUE(stub().ListRoundResults(&c, list, &out).ok());
    EXPECT_EQ(out.total_size(), 2);
    ASSERT_EQ(out.results_size(), 2);
    EXPECT_EQ(out.results(0).applicant(), "applicants/a1");
    EXPECT_EQ(out.results(1).applicant(), "applicants/a4");
  }
  {
    grpc::ClientContext c;
    SetIdentity(&c, "coordinator", "coordinators/7", "sites/lakeside");
    v1::ListRoundResultsRequest list;
    list.set_round("rounds/spring");
    list.set_session(r.s2);
    v1::ListRoundResultsResponse out;
    EXPECT_EQ(stub().ListRoundResults(&c, list, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(MatchingServiceTest,
       PublishingResumesAfterAnOutageAndRetriesFailedOffers) {
  SmallRound r = SetUpSmallRoundCatalog();
  StartMatching();
  v1::Round round;
  ASSERT_TRUE(
      CreateRound("spring", {r.s1, r.s2, r.s3, r.strict}, 7, 3, &round).ok());
  SubmitSmallRoundInputs("rounds/spring", r);
  ASSERT_TRUE(RunRound("rounds/spring", &round).ok());
  ASSERT_EQ(round.stats().matched(), 4);

  // Someone else takes s1's only seat before the round is published.
  auto seats = catalog::v1::SeatInventoryService::NewStub(catalog_->channel);
  {
    grpc::ClientContext c;
    clerkship::testing::AsService(&c);
    catalog::v1::HoldSeatRequest hold;
    hold.set_session(r.s1);
    hold.set_holder("applications/walk-in");
    *hold.mutable_expire_time() = ToProtoTime(absl::Now() + absl::Hours(1));
    catalog::v1::SeatHold held;
    ASSERT_TRUE(seats->HoldSeat(&c, hold, &held).ok());
  }
  // The applicant service goes down after two offers: the round stays RUN.
  applicants().unavailable_after = 2;
  v1::Round out;
  grpc::Status s = PublishRound("rounds/spring", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::GetRoundRequest get;
    get.set_name("rounds/spring");
    ASSERT_TRUE(stub().GetRound(&c, get, &out).ok());
    EXPECT_EQ(out.state(), v1::Round::RUN);
  }
  EXPECT_EQ(redis_server_->Command({"XLEN", "mat:events"}), "0");

  // It comes back: publishing resumes; s1's match fails for want of a seat.
  applicants().unavailable_after = -1;
  ASSERT_TRUE(PublishRound("rounds/spring", &out).ok());
  EXPECT_EQ(out.state(), v1::Round::PUBLISHED);
  EXPECT_EQ(out.stats().offers_created(), 3);
  EXPECT_EQ(out.stats().offers_failed(), 1);
  EXPECT_EQ(applicants().matched_offers_created(), 3);
  EXPECT_TRUE(Results("rounds/spring")["applicants/a3"].application().empty());

  // The seat comes free; publishing again retries the failed offer, without a
  // new event.
  {
    grpc::ClientContext c;
    clerkship::testing::AsService(&c);
    catalog::v1::ReleaseSeatRequest release;
    release.set_session(r.s1);
    release.set_holder("applications/walk-in");
    catalog::v1::ReleaseSeatResponse released;
    ASSERT_TRUE(seats->ReleaseSeat(&c, release, &released).ok());
  }
  ASSERT_TRUE(PublishRound("rounds/spring", &out).ok());
  EXPECT_EQ(out.stats().offers_created(), 4);
  EXPECT_EQ(out.stats().offers_failed(), 0);
  EXPECT_EQ(applicants().matched_offers_created(), 4);
  EXPECT_FALSE(Results("rounds/spring")["applicants/a3"].application().empty());
  EXPECT_EQ(redis_server_->Command({"XLEN", "mat:events"}), "1");
}

TEST_F(MatchingServiceTest, WaitlistPromotionAfterDeclineWithTwoReplicas) {
  const std::string session =
      CreateRotation("im", "mercy", type::v1::INTERNAL_MEDICINE, {1})[0];
  for (const char* id : {"ann", "ben", "cat"})
    applicants().AddApplicant(Applicant(id));
  const std::string ann = applicants().AddApplication("applicants/ann", session,
                                                      Application::SUBMITTED);
  const std::string ben = applicants().AddApplication(
      "applicants/ben", session, Application::WAITLISTED, 1);
  const std::string cat = applicants().AddApplication(
      "applicants/cat", session, Application::WAITLISTED, 2);
  {
    // The coordinator offers Ann the only seat.
    grpc::ClientContext c;
    SetIdentity(&c, "coordinator", "coordinators/7", "sites/mercy");
    applicant::v1::OfferApplicationRequest offer;
    offer.set_name(ann);
    Application out;
    ASSERT_TRUE(applicant::v1::ApplicantService::NewStub(applicant_->channel)
                    ->OfferApplication(&c, offer, &out)
                    .ok());
  }
  MatchingInstance& first = StartMatching("replica-1");
  MatchingInstance& second = StartMatching("replica-2");
  auto promotions = [&] {
    return first.promoter->promotions() + second.promoter->promotions();
  };
  auto settled = [&] {
    auto reply =
        first.redis->CommandSync({"XPENDING", "cat:events", "matching"});
    return reply.ok() && reply->is_array() && !reply->elements.empty() &&
           reply->elements[0].integer == 0;
  };

  // Ann declines: her seat goes back, and Ben (first on the waitlist) gets it.
  applicants().Decline(ann);
  ASSERT_TRUE(WaitUntil(
      [&] { return applicants().Get(ben).state() == Application::OFFERED; }));
  ASSERT_TRUE(WaitUntil(settled));
  EXPECT_EQ(promotions(), 1);
  EXPECT_EQ(applicants().Get(cat).state(), Application::WAITLISTED);

  // The same seat.released delivered again (a redelivery, or a replayed dead
  // letter) promotes nobody else.
  auto last = first.redis->CommandSync(
      {"XREVRANGE", "cat:events", "+", "-", "COUNT", "20"});
  ASSERT_TRUE(last.ok());
  std::string released;
  for (const events::StreamEntry& e : events::ParseEntries(*last)) {
    if (e.type == "seat.released") released = e.data;
  }
  ASSERT_FALSE(released.empty());
  ASSERT_TRUE(first.redis
                  ->CommandSync({"XADD", "cat:events", "*", "type",
                                 "seat.released", "event", released})
                  .ok());
  ASSERT_TRUE(WaitUntil(settled));
  absl::SleepFor(absl::Milliseconds(300));  // let both consumers poll past it
  ASSERT_TRUE(WaitUntil(settled));
  EXPECT_EQ(promotions(), 1);
  EXPECT_EQ(applicants().Get(cat).state(), Application::WAITLISTED);

  // A second freed seat is a second promotion: Ben declines, Cat is offered.
  applicants().Decline(ben);
  ASSERT_TRUE(WaitUntil(
      [&] { return applicants().Get(cat).state() == Application::OFFERED; }));
  ASSERT_TRUE(WaitUntil(settled));
  EXPECT_EQ(promotions(), 2);
  EXPECT_EQ(applicants().offers_made(),
            3);  // Ann's, Ben's, Cat's: one per seat
}

}  // namespace
}  // namespace clerkship::matching

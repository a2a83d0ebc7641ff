// The demo catalog: realistic and valid by the service's own rules, deterministic, and
// loadable twice through the API without creating anything the second time.

#include <gtest/gtest.h>

#include <set>

#include "absl/time/clock.h"
#include "services/catalog/catalog_rules.h"
#include "services/catalog/catalog_validation.h"
#include "services/catalog/tools/demo_catalog.h"
#include "tests/services/catalog/in_process_catalog.h"
#include "tests/support/grpc_test_util.h"

namespace clerkship::catalog::demo {
namespace {

absl::CivilDay Today() { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }

TEST(DemoCatalogTest, IsRealisticVariedAndValid) {
  absl::CivilDay today(2027, 3, 1);
  DemoCatalog demo = BuildDemoCatalog(today);
  std::set<std::string> states, site_ids, rotation_ids;
  for (const DemoSite& s : demo.sites) {
    v1::CreateSiteRequest request;
    *request.mutable_site() = s.site;
    request.set_site_id(s.id);
    EXPECT_TRUE(ValidateCreateSite(request).ok()) << s.id << ValidateCreateSite(request);
    states.insert(s.site.us_state());
    EXPECT_TRUE(site_ids.insert(s.id).second) << s.id;
  }
  EXPECT_GE(demo.sites.size(), 25u);
  EXPECT_GE(states.size(), 10u);

  ASSERT_EQ(demo.rotations.size(), 200u);
  std::set<int> types, specialties, settings, refund_policies;
  std::set<int64_t> totals;
  int hands_on = 0, lor = 0, step1 = 0, visa_limited = 0, graduates_only = 0, sessions = 0;
  for (const DemoRotation& r : demo.rotations) {
    v1::CreateRotationRequest request;
    *request.mutable_rotation() = r.rotation;
    request.set_rotation_id(r.id);
    absl::Status valid = ValidateCreateRotation(request);
    EXPECT_TRUE(valid.ok()) << r.id << ": " << valid;
    EXPECT_TRUE(rotation_ids.insert(r.id).second) << r.id;
    EXPECT_TRUE(site_ids.count(r.rotation.site().substr(6))) << r.rotation.site();
    types.insert(r.rotation.experience_type());
    specialties.insert(r.rotation.specialty());
    settings.insert(r.rotation.setting());
    refund_policies.insert(r.rotation.refund_policy());
    totals.insert(TotalFeeCents(r.rotation.fees()));
    hands_on += r.rotation.hands_on().patient_contact();
    lor += r.rotation.lor_offered();
    step1 += r.rotation.eligibility().step1_pass_required();
    visa_limited += r.rotation.eligibility().accepted_visa_statuses_size() > 0;
    graduates_only += r.rotation.eligibility().allowed_training_stages_size() == 1 &&
                      r.rotation.eligibility().allowed_training_stages(0) == type::v1::GRADUATE;
    EXPECT_GE(r.sessions.size(), 2u) << r.id;
    for (const DemoSession& s : r.sessions) {
      ++sessions;
      v1::CreateSessionRequest sr;
      sr.set_parent("rotations/" + r.id);
      *sr.mutable_session() = s.session;
      sr.set_session_id(s.id);
      absl::Status ok = ValidateCreateSession(sr);
      EXPECT_TRUE(ok.ok()) << r.id << "/" << s.id << ": " << ok;
      int64_t start = DayNumber(s.session.start_date()) - (today - absl::CivilDay(1970, 1, 1));
      EXPECT_GT(start, 0) << s.session.start_date();
      EXPECT_LE(start, 365) << s.session.start_date();
      EXPECT_GE(DayNumber(s.session.application_deadline()),
                today - absl::CivilDay(1970, 1, 1));
    }
  }
  EXPECT_EQ(types.size(), 7u);
  EXPECT_GE(specialties.size(), 15u);
  EXPECT_EQ(settings.size(), 3u);
  EXPECT_GE(refund_policies.size(), 5u);
  EXPECT_GE(totals.size(), 60u);
  EXPECT_GT(hands_on, 60);
  EXPECT_LT(hands_on, 180);
  EXPECT_GT(lor, 50);
  EXPECT_GT(step1, 30);
  EXPECT_GT(visa_limited, 20);
  EXPECT_GT(graduates_only, 20);
  EXPECT_GE(sessions, 400);

  // Same seed, same catalog; another seed, another one.
  DemoCatalog again = BuildDemoCatalog(today);
  ASSERT_EQ(again.rotations.size(), demo.rotations.size());
  for (size_t i = 0; i < demo.rotations.size(); ++i) {
    EXPECT_EQ(again.rotations[i].id, demo.rotations[i].id);
    EXPECT_EQ(again.rotations[i].rotation.SerializeAsString(),
              demo.rotations[i].rotation.SerializeAsString());
  }
  EXPECT_NE(BuildDemoCatalog(today, 7).rotations[0].rotation.SerializeAsString(),
            demo.rotations[0].rotation.SerializeAsString());
}

TEST(DemoCatalogTest, LoadsThroughTheApiAndSkipsWhatExists) {
  auto server = InProcessCatalog::Start(Clock::Real());
  ASSERT_NE(server, nullptr);
  DemoCatalog demo = BuildDemoCatalog(Today());
  size_t sessions = 0;
  for (const auto& r : demo.rotations) sessions += r.sessions.size();

  LoadStats first;
  ASSERT_TRUE(LoadDemoCatalog(server->channel, demo, "admins/demo", &first).ok());
  EXPECT_EQ(first.sites_created, static_cast<int>(demo.sites.size()));
  EXPECT_EQ(first.rotations_created, 200);
  EXPECT_EQ(first.sessions_created, static_cast<int>(sessions));
  EXPECT_EQ(first.rotations_published, 200);

  LoadStats second;
  ASSERT_TRUE(LoadDemoCatalog(server->channel, demo, "admins/demo", &second).ok());
  EXPECT_EQ(second.sites_created + second.rotations_created + second.sessions_created, 0);
  EXPECT_EQ(second.sites_existing, static_cast<int>(demo.sites.size()));
  EXPECT_EQ(second.rotations_existing, 200);
  EXPECT_EQ(second.sessions_existing, static_cast<int>(sessions));
  EXPECT_EQ(server->redis_server->Command({"XLEN", "cat:events"}),
            std::to_string(sessions + 200));  // session.created + rotation.published, once

  // The public sees all 200, every one with an open session and free seats.
  grpc::ClientContext context;
  v1::SearchRotationsRequest request;
  request.set_has_seats(true);
  v1::SearchRotationsResponse response;
  ASSERT_TRUE(server->catalog->SearchRotations(&context, request, &response).ok());
  EXPECT_EQ(response.total_size(), 200);
  ASSERT_GT(response.rotations_size(), 0);
  EXPECT_FALSE(response.rotations(0).next_start_date().empty());
  EXPECT_GT(response.rotations(0).seats_available(), 0);
}

}  // namespace
}  // namespace clerkship::catalog::demo

// The catalog's domain rules on their own: dates and deadlines, fee totals, search terms,
// update masks, the search query and its page cursor.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/status/status.h"
#include "services/catalog/catalog_rules.h"

namespace clerkship::catalog {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::set<std::string> FieldsOf(const absl::Status& s) {
  std::set<std::string> out;
  for (const auto& v : FieldViolationsOf(s)) out.insert(v.field);
  return out;
}

TEST(CatalogRulesTest, DaysAndDeadlines) {
  EXPECT_EQ(DayNumber("1970-01-01"), 0);
  EXPECT_EQ(DayNumber("2027-03-01"), DayNumber("2027-02-28") + 1);
  EXPECT_EQ(DateOfDay(DayNumber("2028-02-29")), "2028-02-29");
  // Applications close at the end of the deadline day in the site's zone.
  absl::TimeZone ny;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &ny));
  EXPECT_EQ(ApplicationsCloseAt("2027-03-10", "America/New_York"),
            absl::FromCivil(absl::CivilDay(2027, 3, 11), ny));
  // Across the DST change (2027-03-14 in the US) the day is still a calendar day.
  EXPECT_EQ(ApplicationsCloseAt("2027-03-13", "America/New_York") -
                ApplicationsCloseAt("2027-03-12", "America/New_York"),
            absl::Hours(24));
  EXPECT_EQ(ApplicationsCloseAt("2027-03-14", "America/New_York") -
                ApplicationsCloseAt("2027-03-13", "America/New_York"),
            absl::Hours(23));
  absl::Time utc_noon =
      absl::FromCivil(absl::CivilSecond(2027, 3, 1, 12, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(TodayIn(utc_noon, "Pacific/Guam"), "2027-03-01");
  EXPECT_EQ(TodayIn(utc_noon + absl::Hours(14), "Pacific/Guam"), "2027-03-02");
  EXPECT_EQ(TodayIn(utc_noon, "Pacific/Honolulu"), "2027-03-01");
}

TEST(CatalogRulesTest, TotalsAndNormalization) {
  v1::Rotation r;
  r.set_title("  Cardiology Elective \n");
  r.mutable_fees()->set_program_fee_cents(100);
  r.mutable_fees()->set_application_fee_cents(20);
  r.mutable_fees()->set_background_check_cents(3);
  r.mutable_fees()->set_malpractice_insurance_cents(4000);
  r.mutable_fees()->set_housing_estimate_cents(50000);
  r.mutable_fees()->set_total_cents(1);
  NormalizeRotationInput(&r);
  EXPECT_EQ(r.title(), "Cardiology Elective");
  EXPECT_EQ(r.fees().total_cents(), 54123);
  EXPECT_EQ(NormalizeCity("  New   York "), "new york");
  EXPECT_EQ(NormalizeCity("SPRINGFIELD"), "springfield");
}

TEST(CatalogRulesTest, SearchTermsCoverEveryFilter) {
  v1::Rotation r;
  r.set_specialty(type::v1::CARDIOLOGY);
  r.set_experience_type(type::v1::ELECTIVE);
  r.set_setting(type::v1::MIXED);
  r.mutable_hands_on()->set_patient_contact(true);
  r.set_us_state("NY");
  r.set_city("New York");
  r.mutable_eligibility()->add_accepted_visa_statuses(type::v1::J1);
  r.mutable_eligibility()->add_accepted_visa_statuses(type::v1::H1B);
  EXPECT_THAT(SearchTermsOf(r),
              UnorderedElementsAre("specialty:CARDIOLOGY", "type:ELECTIVE", "setting:MIXED",
                                   "hands_on:1", "state:NY", "city:new york", "lor:0",
                                   "visa:J1", "visa:H1B"));
  r.mutable_eligibility()->clear_accepted_visa_statuses();  // accepts every status
  int visas = 0;
  for (const auto& t : SearchTermsOf(r)) visas += t.rfind("visa:", 0) == 0;
  EXPECT_EQ(visas, 9);
}

TEST(CatalogRulesTest, RotationMasks) {
  v1::Rotation target;
  target.set_title("Old");
  target.set_description("Keep");
  target.mutable_fees()->set_program_fee_cents(100);
  target.mutable_fees()->set_housing_estimate_cents(50);
  target.set_lor_offered(true);
  v1::Rotation patch;
  patch.set_title("New");
  patch.mutable_fees()->set_housing_estimate_cents(70);

  google::protobuf::FieldMask mask;
  v1::Rotation implied = target;
  auto paths = ApplyRotationUpdate(patch, mask, &implied);
  ASSERT_TRUE(paths.ok());
  EXPECT_THAT(*paths, ElementsAre("title", "fees.housing_estimate_cents"));
  EXPECT_EQ(implied.title(), "New");
  EXPECT_EQ(implied.description(), "Keep");
  EXPECT_EQ(implied.fees().program_fee_cents(), 100);
  EXPECT_EQ(implied.fees().total_cents(), 170);
  EXPECT_TRUE(implied.lor_offered());

  mask.add_paths("fees");
  mask.add_paths("lor_offered");
  v1::Rotation replaced = target;
  paths = ApplyRotationUpdate(patch, mask, &replaced);
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(replaced.fees().program_fee_cents(), 0);
  EXPECT_EQ(replaced.fees().total_cents(), 70);
  EXPECT_FALSE(replaced.lor_offered());
  EXPECT_EQ(replaced.title(), "Old");

  for (const char* bad : {"site", "state", "fees.total_cents", "etag", "hands_on.x", "*.title"}) {
    google::protobuf::FieldMask m;
    m.add_paths(bad);
    v1::Rotation t = target;
    auto result = ApplyRotationUpdate(patch, m, &t);
    EXPECT_EQ(FieldsOf(result.status()), std::set<std::string>{"update_mask"}) << bad;
    EXPECT_EQ(t.title(), "Old") << bad;
  }
  google::protobuf::FieldMask star;
  star.add_paths("*");
  v1::Rotation all = target;
  paths = ApplyRotationUpdate(patch, star, &all);
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->size(), RotationUpdatablePaths().size());
  EXPECT_TRUE(all.description().empty());
}

TEST(CatalogRulesTest, SessionMasks) {
  v1::Session target;
  target.set_start_date("2027-04-01");
  target.set_capacity(5);
  v1::Session patch;
  patch.set_capacity(8);
  google::protobuf::FieldMask mask;
  auto paths = ApplySessionUpdate(patch, mask, &target);
  ASSERT_TRUE(paths.ok());
  EXPECT_THAT(*paths, ElementsAre("capacity"));
  EXPECT_EQ(target.capacity(), 8);
  EXPECT_EQ(target.start_date(), "2027-04-01");
  mask.add_paths("seats_held");
  EXPECT_EQ(FieldsOf(ApplySessionUpdate(patch, mask, &target).status()),
            std::set<std::string>{"update_mask"});
}

TEST(CatalogRulesTest, SearchQueryFingerprintsTheFilters) {
  v1::SearchRotationsRequest a;
  a.set_us_state("ny");
  a.set_city("  New York ");
  a.set_page_size(5);
  a.set_page_token("ignored by the fingerprint");
  v1::SearchRotationsRequest b;
  b.set_us_state("NY");
  b.set_city("new york");
  b.set_order_by("start_date");
  auto qa = ParseSearchQuery(a), qb = ParseSearchQuery(b);
  ASSERT_TRUE(qa.ok() && qb.ok());
  EXPECT_EQ(qa->fingerprint, qb->fingerprint);  // same filters, same default order
  EXPECT_THAT(qa->terms, ElementsAre("state:NY", "city:new york"));
  b.set_has_seats(true);
  EXPECT_NE(ParseSearchQuery(b)->fingerprint, qa->fingerprint);
  b.set_has_seats(false);
  b.set_hands_on(false);  // set to false is a filter, unlike unset
  EXPECT_NE(ParseSearchQuery(b)->fingerprint, qa->fingerprint);

  v1::SearchRotationsRequest window;
  window.set_start_from("2027-05-01");
  window.set_start_to("2027-05-01");
  auto qw = ParseSearchQuery(window);
  ASSERT_TRUE(qw.ok());
  EXPECT_EQ(*qw->start_from_day, *qw->start_to_day);

  auto cursor = DecodeSearchCursor(EncodeSearchCursor({-12, "rot-1"}));
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->score, -12);
  EXPECT_EQ(cursor->rotation_id, "rot-1");
  EXPECT_FALSE(DecodeSearchCursor("12|Bad Id").has_value());
  EXPECT_FALSE(DecodeSearchCursor("x|rot").has_value());
  EXPECT_FALSE(DecodeSearchCursor("12").has_value());
}

TEST(CatalogRulesTest, WhoMayDoWhat) {
  auth::Identity coordinator{auth::Role::kCoordinator, "coordinators/1", "sites/a"};
  auth::Identity siteless{auth::Role::kCoordinator, "coordinators/2", ""};
  auth::Identity applicant{auth::Role::kApplicant, "applicants/1", ""};
  auth::Identity service{auth::Role::kService, "services/applicant", ""};
  EXPECT_TRUE(CanManageSite(coordinator, "sites/a"));
  EXPECT_FALSE(CanManageSite(coordinator, "sites/b"));
  EXPECT_TRUE(CanManageSite(service, "sites/b"));
  EXPECT_FALSE(CanManageAnySite(siteless));
  EXPECT_FALSE(CanManageAnySite(applicant));
  v1::Rotation draft;
  draft.set_site("sites/a");
  draft.set_state(v1::Rotation::DRAFT);
  EXPECT_TRUE(CanSeeRotation(coordinator, draft));
  EXPECT_FALSE(CanSeeRotation(applicant, draft));
  draft.set_state(v1::Rotation::ARCHIVED);
  EXPECT_TRUE(CanSeeRotation(applicant, draft));
}

}  // namespace
}  // namespace clerkship::catalog

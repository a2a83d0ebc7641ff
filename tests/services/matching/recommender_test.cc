// The recommender on its own: filters, scores, reasons and order, with the
// shared eligibility engine but no server, cache or Redis.

#include "services/matching/recommender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace clerkship::matching {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2027, 1, 15, 12, 0, 0), absl::UTCTimeZone());

applicant::v1::Applicant Maria() {
  applicant::v1::Applicant a;
  a.set_name("applicants/maria");
  a.set_training_stage(type::v1::GRADUATE);
  a.set_graduation_year(2024);
  a.set_step1_status(type::v1::STEP1_PASSED);
  a.set_ecfmg_certified(false);
  a.set_visa_status(type::v1::J1);
  a.add_specialty_interests(type::v1::INTERNAL_MEDICINE);
  a.add_specialty_interests(type::v1::FAMILY_MEDICINE);
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

// A published rotation at a New York site with one session inside Maria's
// availability.
std::unique_ptr<CatalogRotation> MakeRotation(const std::string& id,
                                              type::v1::Specialty specialty) {
  auto entry = std::make_unique<CatalogRotation>();
  catalog::v1::Rotation& r = entry->rotation;
  r.set_name(absl::StrCat("rotations/", id));
  r.set_site("sites/mercy");
  r.set_site_display_name("Mercy General");
  r.set_city("Queens");
  r.set_us_state("NY");
  r.set_title("Inpatient Clerkship");
  r.set_specialty(specialty);
  r.set_experience_type(type::v1::CLINICAL_ROTATION);
  r.set_setting(type::v1::INPATIENT);
  r.mutable_hands_on()->set_patient_contact(true);
  r.mutable_hands_on()->set_note_writing(true);
  r.set_duration_weeks(4);
  r.mutable_fees()->set_program_fee_cents(250000);
  r.mutable_fees()->set_application_fee_cents(10000);
  r.mutable_fees()->set_total_cents(260000);
  r.set_lor_offered(true);
  r.set_state(catalog::v1::Rotation::PUBLISHED);
  entry->site_time_zone = "America/New_York";
  catalog::v1::Session& s = entry->sessions.emplace_back();
  s.set_name(absl::StrCat(r.name(), "/sessions/march"));
  s.set_start_date("2027-03-15");
  s.set_end_date("2027-04-11");
  s.set_application_deadline("2027-02-01");
  s.set_capacity(4);
  s.set_seats_available(3);
  s.set_accepting_applications(true);
  return entry;
}

std::vector<const CatalogRotation*> View(
    const std::vector<std::unique_ptr<CatalogRotation>>& all) {
  std::vector<const CatalogRotation*> out;
  for (const auto& r : all) out.push_back(r.get());
  return out;
}

RecommendResult RecommendFor(
    const applicant::v1::Applicant& a,
    const std::vector<std::unique_ptr<CatalogRotation>>& catalog,
    RecommendQuery query = {}) {
  if (query.now == absl::Time()) query.now = kNow;
  return Recommend(a, View(catalog), RecommendationEligibility(a, query.now),
                   query);
}

std::vector<std::string> Sessions(const RecommendResult& result) {
  std::vector<std::string> out;
  for (const auto& r : result.recommendations) out.push_back(r.session());
  return out;
}

TEST(RecommenderTest, FirstChoiceWithEveryPreferenceMetScoresHighAndSaysWhy) {
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  catalog.push_back(MakeRotation("im", type::v1::INTERNAL_MEDICINE));
  RecommendResult result = RecommendFor(Maria(), catalog);
  ASSERT_EQ(result.recommendations.size(), 1u);
  const v1::Recommendation& r = result.recommendations[0];
  EXPECT_EQ(r.session(), "rotations/im/sessions/march");
  EXPECT_EQ(r.rotation(), "rotations/im");
  // 35 specialty + 15 dates + 15 state + (10 + 5 x 2400/5000) budget + 10
  // hands-on + 5 letter + 3 seats.
  EXPECT_DOUBLE_EQ(r.score(), 95.4);
  EXPECT_THAT(
      r.reasons(),
      ElementsAre(
          "Internal Medicine is your first choice",
          "starts within your availability 2027-03-01 \xE2\x80\x93 2027-06-30",
          "in New York, one of your preferred states",
          "$2,400 under your budget",
          "hands-on: patient contact and note writing",
          "offers a letter of recommendation", "3 seats left"));
  EXPECT_EQ(r.site_display_name(), "Mercy General");
  EXPECT_EQ(r.total_fee_cents(), 260000);
  EXPECT_EQ(r.seats_available(), 3);
  EXPECT_EQ(r.start_date(), "2027-03-15");
  EXPECT_TRUE(r.lor_offered());
  EXPECT_TRUE(r.hands_on().patient_contact());
}

TEST(RecommenderTest, SpecialtyOrderDecidesAndEqualScoresGoByName) {
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  catalog.push_back(MakeRotation("peds", type::v1::PEDIATRICS));
  catalog.push_back(MakeRotation("fm-b", type::v1::FAMILY_MEDICINE));
  catalog.push_back(MakeRotation("im", type::v1::INTERNAL_MEDICINE));
  catalog.push_back(MakeRotation("fm-a", type::v1::FAMILY_MEDICINE));
  catalog.push_back(MakeRotation("derm", type::v1::DERMATOLOGY));
  RecommendResult result = RecommendFor(Maria(), catalog);
  EXPECT_THAT(Sessions(result), ElementsAre("rotations/im/sessions/march",
                                            "rotations/fm-a/sessions/march",
                                            "rotations/fm-b/sessions/march",
                                            "rotations/peds/sessions/march",
                                            "rotations/derm/sessions/march"));
  EXPECT_EQ(result.recommendations[1].score(),
            result.recommendations[2].score());
  EXPECT_GT(result.recommendations[0].score(),
            result.recommendations[1].score());
  EXPECT_EQ(result.recommendations[1].reasons(0),
            "Family Medicine is your second choice");
  EXPECT_EQ(result.recommendations[3].reasons(0),
            "Pediatrics is your third choice");
  // Not among the interests: no specialty reason at all.
  EXPECT_THAT(result.recommendations[4].reasons(0),
              ::testing::StartsWith("starts within your availability"));
}

TEST(RecommenderTest, OrderIsTheSameWhateverTheCatalogOrder) {
  std::vector<std::unique_ptr<CatalogRotation>> forward, backward;
  for (const char* id : {"a", "b", "c", "d", "e", "f"}) {
    forward.push_back(MakeRotation(id, type::v1::FAMILY_MEDICINE));
  }
  for (const char* id : {"f", "e", "d", "c", "b", "a"}) {
    backward.push_back(MakeRotation(id, type::v1::FAMILY_MEDICINE));
  }
  EXPECT_EQ(Sessions(RecommendFor(Maria(), forward)),
            Sessions(RecommendFor(Maria(), backward)));
  EXPECT_EQ(Sessions(RecommendFor(Maria(), forward))[0],
            "rotations/a/sessions/march");
}

TEST(RecommenderTest, OnlyEligibleOpenSessionsWithSeatsThatFitTheAvailability) {
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  catalog.push_back(MakeRotation("ok", type::v1::INTERNAL_MEDICINE));

  auto ecfmg = MakeRotation("needs-ecfmg", type::v1::INTERNAL_MEDICINE);
  ecfmg->rotation.mutable_eligibility()->set_ecfmg_required(true);
  catalog.push_back(std::move(ecfmg));

  auto full = MakeRotation("full", type::v1::INTERNAL_MEDICINE);
  full->sessions[0].set_seats_available(0);
  catalog.push_back(std::move(full));

  auto summer = MakeRotation("summer", type::v1::INTERNAL_MEDICINE);
  summer->sessions[0].set_start_date("2027-06-20");
  summer->sessions[0].set_end_date(
      "2027-07-20");  // ends after the availability
  catalog.push_back(std::move(summer));

  auto closed = MakeRotation("closed", type::v1::INTERNAL_MEDICINE);
  closed->sessions[0].set_application_deadline("2027-01-14");  // yesterday
  catalog.push_back(std::move(closed));

  auto archived = MakeRotation("archived", type::v1::INTERNAL_MEDICINE);
  archived->rotation.set_state(catalog::v1::Rotation::ARCHIVED);
  catalog.push_back(std::move(archived));

  auto applied = MakeRotation("applied", type::v1::INTERNAL_MEDICINE);
  catalog.push_back(std::move(applied));

  RecommendQuery query;
  query.excluded_sessions.insert("rotations/applied/sessions/march");
  RecommendResult result = RecommendFor(Maria(), catalog, query);
  EXPECT_THAT(Sessions(result), ElementsAre("rotations/ok/sessions/march"));
  EXPECT_EQ(result.total, 1);
}

TEST(RecommenderTest, DeadlineIsJudgedInTheSiteTimeZone) {
  // 2027-02-01 03:00 UTC is still 2027-01-31 in Los Angeles but already Feb 1
  // in UTC.
  const absl::Time now = absl::FromCivil(absl::CivilSecond(2027, 2, 1, 3, 0, 0),
                                         absl::UTCTimeZone());
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  auto la = MakeRotation("la", type::v1::INTERNAL_MEDICINE);
  la->site_time_zone = "America/Los_Angeles";
  la->sessions[0].set_application_deadline("2027-01-31");
  catalog.push_back(std::move(la));
  auto utc = MakeRotation("utc", type::v1::INTERNAL_MEDICINE);
  utc->site_time_zone = "UTC";
  utc->sessions[0].set_application_deadline("2027-01-31");
  catalog.push_back(std::move(utc));
  RecommendQuery query;
  query.now = now;
  EXPECT_THAT(Sessions(RecommendFor(Maria(), catalog, query)),
              ElementsAre("rotations/la/sessions/march"));
}

TEST(RecommenderTest, B1B2GraduatesAreOfferedObservershipsOnly) {
  applicant::v1::Applicant visitor = Maria();
  visitor.set_visa_status(type::v1::B1_B2);
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  catalog.push_back(MakeRotation("hands-on", type::v1::INTERNAL_MEDICINE));
  auto observe = MakeRotation("observe", type::v1::INTERNAL_MEDICINE);
  observe->rotation.set_experience_type(type::v1::OBSERVERSHIP);
  observe->rotation.mutable_hands_on()->Clear();
  catalog.push_back(std::move(observe));
  RecommendResult result = RecommendFor(visitor, catalog);
  ASSERT_THAT(Sessions(result),
              ElementsAre("rotations/observe/sessions/march"));
  // Observational: no hands-on reason even though the applicant prefers
  // hands-on.
  for (const std::string& reason : result.recommendations[0].reasons()) {
    EXPECT_THAT(reason, ::testing::Not(::testing::HasSubstr("hands-on")));
  }
}

TEST(RecommenderTest, StudentsAreNotFilteredOutForTheirDocuments) {
  // Documents are not considered for recommendations, so the
  // school-authorization rule does not hide hands-on rotations from students.
  applicant::v1::Applicant student = Maria();
  student.set_training_stage(type::v1::STUDENT);
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  catalog.push_back(MakeRotation("im", type::v1::INTERNAL_MEDICINE));
  EXPECT_THAT(Sessions(RecommendFor(student, catalog)),
              ElementsAre("rotations/im/sessions/march"));
}

TEST(RecommenderTest, OverBudgetScoresLowerAndSaysByHowMuch) {
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  auto cheap = MakeRotation("cheap", type::v1::INTERNAL_MEDICINE);
  auto dear = MakeRotation("dear", type::v1::INTERNAL_MEDICINE);
  dear->rotation.mutable_fees()->set_total_cents(560050);
  catalog.push_back(std::move(dear));
  catalog.push_back(std::move(cheap));
  RecommendResult result = RecommendFor(Maria(), catalog);
  ASSERT_THAT(Sessions(result), ElementsAre("rotations/cheap/sessions/march",
                                            "rotations/dear/sessions/march"));
  EXPECT_THAT(result.recommendations[1].reasons(),
              ::testing::Contains("$600.50 over your budget"));
}

TEST(RecommenderTest, NoStatedPreferencesStillRecommendsByLetterAndSeats) {
  applicant::v1::Applicant plain = Maria();
  plain.clear_specialty_interests();
  plain.clear_availability();
  plain.clear_preferred_states();
  plain.set_budget_cents(0);
  plain.set_prefers_hands_on(false);
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  auto few = MakeRotation("few", type::v1::INTERNAL_MEDICINE);
  few->sessions[0].set_seats_available(1);
  catalog.push_back(std::move(few));
  catalog.push_back(MakeRotation("many", type::v1::INTERNAL_MEDICINE));
  RecommendResult result = RecommendFor(plain, catalog);
  ASSERT_THAT(Sessions(result), ElementsAre("rotations/many/sessions/march",
                                            "rotations/few/sessions/march"));
  EXPECT_THAT(result.recommendations[1].reasons(),
              ElementsAre("offers a letter of recommendation", "1 seat left"));
  EXPECT_DOUBLE_EQ(result.recommendations[1].score(), 6);
}

TEST(RecommenderTest, PagesSliceTheFullRanking) {
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  for (int i = 0; i < 25; ++i) {
    catalog.push_back(
        MakeRotation(absl::StrCat("r", 100 + i), type::v1::INTERNAL_MEDICINE));
  }
  RecommendQuery first;
  first.limit = 10;
  RecommendQuery third;
  third.offset = 20;
  third.limit = 10;
  RecommendResult page1 = RecommendFor(Maria(), catalog, first);
  RecommendResult page3 = RecommendFor(Maria(), catalog, third);
  EXPECT_EQ(page1.total, 25);
  EXPECT_EQ(page1.recommendations.size(), 10u);
  EXPECT_EQ(page1.recommendations[0].session(),
            "rotations/r100/sessions/march");
  ASSERT_EQ(page3.recommendations.size(), 5u);
  EXPECT_EQ(page3.recommendations[0].session(),
            "rotations/r120/sessions/march");
  RecommendQuery beyond;
  beyond.offset = 40;
  EXPECT_THAT(RecommendFor(Maria(), catalog, beyond).recommendations,
              IsEmpty());
}

TEST(RecommenderTest, AvailabilityNeedsTheWholeSessionInsideOneRange) {
  applicant::v1::Applicant a = Maria();
  a.clear_availability();
  type::v1::DateRange* march = a.add_availability();
  march->set_start_date("2027-03-01");
  march->set_end_date("2027-03-31");
  type::v1::DateRange* april = a.add_availability();
  april->set_start_date("2027-04-01");
  april->set_end_date("2027-04-30");
  catalog::v1::Session s;
  s.set_start_date("2027-03-15");
  s.set_end_date("2027-04-11");  // spans both ranges, inside neither
  EXPECT_FALSE(FitsAvailability(a, s, nullptr));
  s.set_start_date("2027-04-01");
  const type::v1::DateRange* fitting = nullptr;
  EXPECT_TRUE(FitsAvailability(a, s, &fitting));
  ASSERT_NE(fitting, nullptr);
  EXPECT_EQ(fitting->start_date(), "2027-04-01");
}

// The recommender compares dates as integers it keeps per entry; a copy of an
// entry (how the catalog cache changes one) must not keep the old dates, and a
// date not in "YYYY-MM-DD" form is still judged as its string compares.
TEST(RecommenderTest, DateKeysFollowCopiesAndOddDatesCompareAsStrings) {
  EXPECT_EQ(DateKey("2027-03-01"), 20270301);
  EXPECT_EQ(DateKey("2027-3-01"), -1);
  EXPECT_EQ(DateKey(""), -1);

  auto original = MakeRotation("ok", type::v1::INTERNAL_MEDICINE);
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  catalog.push_back(std::make_unique<CatalogRotation>(*original));
  EXPECT_THAT(Sessions(RecommendFor(Maria(), catalog)),
              ElementsAre("rotations/ok/sessions/march"));
  // The same entry, copied and moved to July: outside Maria's availability.
  auto moved = std::make_unique<CatalogRotation>(*catalog[0]);
  moved->sessions[0].set_start_date("2027-07-05");
  moved->sessions[0].set_end_date("2027-08-01");
  catalog[0] = std::move(moved);
  EXPECT_THAT(Sessions(RecommendFor(Maria(), catalog)), IsEmpty());

  // A deadline with a time part: "2027-02-01T00:00" > "2027-01-15" as strings,
  // so the session still takes applications on January 15.
  auto odd = std::make_unique<CatalogRotation>(*original);
  odd->sessions[0].set_application_deadline("2027-02-01T00:00");
  catalog[0] = std::move(odd);
  EXPECT_THAT(Sessions(RecommendFor(Maria(), catalog)),
              ElementsAre("rotations/ok/sessions/march"));
  auto past = std::make_unique<CatalogRotation>(*original);
  past->sessions[0].set_application_deadline("2027-01-1");  // < "2027-01-15"
  catalog[0] = std::move(past);
  EXPECT_THAT(Sessions(RecommendFor(Maria(), catalog)), IsEmpty());
}

TEST(RecommenderTest, DollarsAreWrittenAsPeopleWriteThem) {
  EXPECT_EQ(FormatDollars(240000), "$2,400");
  EXPECT_EQ(FormatDollars(240050), "$2,400.50");
  EXPECT_EQ(FormatDollars(99), "$0.99");
  EXPECT_EQ(FormatDollars(123456789), "$1,234,567.89");
  EXPECT_EQ(SpecialtyDisplayName(type::v1::OBSTETRICS_GYNECOLOGY),
            "Obstetrics and Gynecology");
  EXPECT_EQ(UsStateDisplayName("TX"), "Texas");
}

}  // namespace
}  // namespace clerkship::matching

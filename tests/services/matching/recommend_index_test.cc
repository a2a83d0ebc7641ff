// Recommendations over the catalog index (RecommendIndex), which skips work a
// plain scan does: it must give exactly the plain scan's answer (same page,
// scores, reasons, fields, and whether another page follows) for any catalog,
// applicant and page; and the catalog cache's view must follow the catalog.

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/matching/catalog_cache.h"
#include "services/matching/recommender.h"

namespace clerkship::matching {
namespace {

using applicant::v1::Applicant;
using catalog::v1::Rotation;
using catalog::v1::Session;

// ---------------------------------------------------------------------------------------
// The reference: filter every session, score it with ScoreSession, sort the
// lot, slice the page, explain it.

std::string ReferenceToday(const std::string& zone_name, absl::Time now) {
  if (zone_name.empty()) return "";  // AcceptingOn then asks the session
  absl::TimeZone zone = absl::UTCTimeZone();
  if (!absl::LoadTimeZone(zone_name, &zone)) zone = absl::UTCTimeZone();
  return absl::FormatTime("%Y-%m-%d", now, zone);
}

struct Ranked {
  double score;
  const CatalogRotation* entry;
  const Session* session;
  ScoreParts parts;
};

// The whole ranking, best first, each entry as Recommend reports it.
std::vector<v1::Recommendation> ReferenceRanking(
    const Applicant& applicant,
    const std::vector<const CatalogRotation*>& catalog,
    const RecommendQuery& query) {
  const EligibilityCheck eligibility =
      RecommendationEligibility(applicant, query.now);
  std::vector<Ranked> ranked;
  for (const CatalogRotation* entry : catalog) {
    const Rotation& rotation = entry->rotation;
    const std::string today = ReferenceToday(entry->site_time_zone, query.now);
    for (const Session& session : entry->sessions) {
      if (session.seats_available() <= 0) continue;
      if (!AcceptingOn(rotation, session, today)) continue;
      if (!FitsAvailability(applicant, session, nullptr)) continue;
      if (query.excluded_sessions.contains(session.name())) continue;
      if (!eligibility(applicant, rotation).empty()) continue;
      ScoreParts parts = ScoreSession(applicant, rotation, session);
      ranked.push_back(
          {std::round(parts.total() * 100) / 100, entry, &session, parts});
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.session->name() < b.session->name();
  });
  std::vector<v1::Recommendation> out;
  for (const Ranked& c : ranked) {
    const Rotation& rotation = c.entry->rotation;
    const Session& session = *c.session;
    v1::Recommendation& r = out.emplace_back();
    r.set_session(session.name());
    r.set_rotation(rotation.name());
    r.set_score(c.score);
    for (const std::string& reason :
         ExplainSession(applicant, rotation, session, c.parts)) {
      r.add_reasons(reason);
    }
    r.set_rotation_title(rotation.title());
    r.set_site(rotation.site());
    r.set_site_display_name(rotation.site_display_name());
    r.set_city(rotation.city());
    r.set_us_state(rotation.us_state());
    r.set_specialty(rotation.specialty());
    r.set_experience_type(rotation.experience_type());
    r.set_setting(rotation.setting());
    *r.mutable_hands_on() = rotation.hands_on();
    r.set_duration_weeks(rotation.duration_weeks());
    r.set_start_date(session.start_date());
    r.set_end_date(session.end_date());
    r.set_application_deadline(session.application_deadline());
    r.set_total_fee_cents(rotation.fees().total_cents());
    r.set_seats_available(session.seats_available());
    r.set_lor_offered(rotation.lor_offered());
  }
  return out;
}

// Recommend over `index` for one page, in both counting modes, against the
// reference ranking.
void ExpectPageMatches(const Applicant& applicant, const RecommendIndex& index,
                       const std::vector<v1::Recommendation>& ranking,
                       RecommendQuery query, const std::string& context) {
  const int64_t begin = std::max(query.offset, 0);
  const int64_t end = begin + std::max(query.limit, 0);
  for (bool exact : {false, true}) {
    query.exact_total = exact;
    SCOPED_TRACE(absl::StrCat(context, " offset=", query.offset,
                              " limit=", query.limit, " exact=", exact));
    RecommendResult got =
        Recommend(applicant, index,
                  RecommendationEligibility(applicant, query.now), query);
    const int64_t want_size =
        std::max<int64_t>(0, std::min<int64_t>(end, ranking.size()) -
                                 std::min<int64_t>(begin, ranking.size()));
    ASSERT_EQ(static_cast<int64_t>(got.recommendations.size()), want_size);
    for (int64_t i = 0; i < want_size; ++i) {
      const v1::Recommendation& want = ranking[begin + i];
      ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
          want, got.recommendations[i]))
          << "at " << begin + i << "\nwant " << want.ShortDebugString()
          << "\ngot  " << got.recommendations[i].ShortDebugString();
    }
    const int64_t full = static_cast<int64_t>(ranking.size());
    // What the service turns into next_page_token.
    EXPECT_EQ(got.total > end, full > end);
    EXPECT_EQ(got.total, exact ? full : std::min(full, end + 1));
  }
}

// ---------------------------------------------------------------------------------------
// Random catalogs and applicants, with many ties (few fees, few seat counts),
// dates around "now" in zones a day apart, odd dates, and a few eligibility
// rules shared by many rotations.

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  int Below(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(engine_);
  }
  bool OneIn(int n) { return Below(n) == 0; }
  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[Below(static_cast<int>(values.size()))];
  }

 private:
  std::mt19937_64 engine_;
};

const absl::CivilDay kToday(2027, 1, 15);

const std::vector<std::string>& Zones() {
  static const auto* const kZones = new std::vector<std::string>{
      "",  // unknown: the session's own flag decides
      "UTC",
      "America/New_York",
      "America/Los_Angeles",
      "Pacific/Kiritimati",  // UTC+14
      "Pacific/Pago_Pago",   // UTC-11
      "Asia/Kolkata",
      "Not/A_Zone",  // does not load: read as UTC
  };
  return *kZones;
}

std::string RandomDate(Random& rng, int around, int spread) {
  if (rng.OneIn(20)) {
    return rng.Pick(std::vector<std::string>{"", "2027-1-05",
                                             "2027-02-01T00:00", "2027/03/01",
                                             "20270301", "2026-12-3"});
  }
  return absl::FormatCivilTime(kToday + around + rng.Below(2 * spread + 1) -
                               spread);
}

type::v1::EligibilityRules RandomRules(Random& rng) {
  type::v1::EligibilityRules rules;
  if (rng.OneIn(2)) return rules;  // most rotations have none
  if (rng.OneIn(4)) rules.add_allowed_training_stages(type::v1::GRADUATE);
  if (rng.OneIn(6)) rules.add_allowed_training_stages(type::v1::STUDENT);
  if (rng.OneIn(4)) rules.set_step1_pass_required(true);
  if (rng.OneIn(5)) rules.set_step2ck_required(true);
  if (rng.OneIn(5)) rules.set_min_step2ck_score(rng.OneIn(2) ? 220 : 240);
  if (rng.OneIn(4)) rules.set_ecfmg_required(true);
  if (rng.OneIn(5)) {
    rules.add_accepted_visa_statuses(type::v1::US_CITIZEN);
    if (rng.OneIn(2)) rules.add_accepted_visa_statuses(type::v1::J1);
    if (rng.OneIn(3)) rules.add_accepted_visa_statuses(type::v1::B1_B2);
  }
  if (rng.OneIn(5)) rules.set_max_years_since_graduation(1 + rng.Below(5));
  return rules;
}

std::vector<std::unique_ptr<CatalogRotation>> RandomCatalog(Random& rng,
                                                            int rotations) {
  static const std::vector<std::string> kStates = {"NY", "NJ", "CA",
                                                   "TX", "PR", ""};
  static const std::vector<int64_t> kFees = {0,      100000, 150000, 200000,
                                             250000, 400000, 500000};
  static const std::vector<type::v1::ExperienceType> kTypes = {
      type::v1::CLINICAL_ROTATION, type::v1::ELECTIVE, type::v1::OBSERVERSHIP,
      type::v1::SHADOWING, type::v1::RESEARCH};
  // Ids drawn without repetition, so that catalog order says nothing about
  // name order.
  std::vector<int> ids(rotations * 3);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
  for (size_t i = ids.size(); i > 1; --i) {
    std::swap(ids[i - 1], ids[rng.Below(static_cast<int>(i))]);
  }
  const int specialties = 1 + rng.Below(8);
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  for (int i = 0; i < rotations; ++i) {
    auto entry = std::make_unique<CatalogRotation>();
    Rotation& r = entry->rotation;
    r.set_name(absl::StrCat("rotations/r", ids[i]));
    r.set_site(absl::StrCat("sites/s", rng.Below(20)));
    r.set_site_display_name("Site");
    r.set_city("Springfield");
    r.set_us_state(rng.Pick(kStates));
    r.set_title("Clerkship");
    r.set_specialty(static_cast<type::v1::Specialty>(rng.Below(specialties)));
    r.set_experience_type(rng.Pick(kTypes));
    r.set_setting(type::v1::INPATIENT);
    r.mutable_hands_on()->set_patient_contact(rng.OneIn(2));
    r.mutable_hands_on()->set_emr_access(rng.OneIn(2));
    r.mutable_hands_on()->set_note_writing(rng.OneIn(3));
    r.set_duration_weeks(4);
    r.mutable_fees()->set_total_cents(
        rng.OneIn(3) ? 50000 + 10000 * static_cast<int64_t>(rng.Below(80))
                     : rng.Pick(kFees));
    r.set_lor_offered(rng.OneIn(2));
    *r.mutable_eligibility() = RandomRules(rng);
    r.set_state(rng.OneIn(12)
                    ? (rng.OneIn(2) ? Rotation::ARCHIVED : Rotation::DRAFT)
                    : Rotation::PUBLISHED);
    entry->site_time_zone = rng.Pick(Zones());
    const int sessions = rng.Below(5);
    for (int k = 0; k < sessions; ++k) {
      Session& s = entry->sessions.emplace_back();
      s.set_name(absl::StrCat(r.name(), "/sessions/",
                              std::string(1, static_cast<char>('a' + k))));
      const int start = 20 + rng.Below(150);
      s.set_start_date(RandomDate(rng, start, 0));
      s.set_end_date(RandomDate(rng, start + 27, 0));
      s.set_application_deadline(RandomDate(rng, 0, 3));
      s.set_capacity(6);
      s.set_seats_available(rng.Below(8) - 1);
      s.set_accepting_applications(!rng.OneIn(4));
    }
    catalog.push_back(std::move(entry));
  }
  return catalog;
}

Applicant RandomApplicant(Random& rng, int specialties) {
  static const std::vector<std::string> kStates = {"NY", "NJ", "CA", "TX",
                                                   "PR", "",   "ZZ"};
  static const std::vector<type::v1::VisaStatus> kVisas = {
      type::v1::US_CITIZEN, type::v1::J1, type::v1::B1_B2, type::v1::F1,
      type::v1::VISA_STATUS_UNSPECIFIED};
  Applicant a;
  a.set_name("applicants/random");
  a.set_training_stage(rng.OneIn(2) ? type::v1::GRADUATE : type::v1::STUDENT);
  a.set_graduation_year(2018 + rng.Below(10));
  a.set_step1_status(rng.OneIn(4) ? type::v1::STEP1_NOT_TAKEN
                                  : type::v1::STEP1_PASSED);
  a.set_step2ck_score(rng.OneIn(3) ? 0 : 200 + rng.Below(60));
  a.set_ecfmg_certified(rng.OneIn(2));
  a.set_visa_status(rng.Pick(kVisas));
  a.set_time_zone(rng.Pick(Zones()));
  const int interests = rng.Below(6);
  for (int i = 0; i < interests; ++i) {
    // Repeats happen: only the first mention counts.
    a.add_specialty_interests(
        static_cast<type::v1::Specialty>(rng.Below(specialties + 1)));
  }
  const int ranges = rng.OneIn(3) ? 0 : 1 + rng.Below(2);
  for (int i = 0; i < ranges; ++i) {
    type::v1::DateRange* range = a.add_availability();
    const int from = rng.Below(120);
    range->set_start_date(RandomDate(rng, from, 0));
    range->set_end_date(RandomDate(rng, from + 30 + rng.Below(120), 0));
  }
  const int states = rng.Below(4);
  for (int i = 0; i < states; ++i) a.add_preferred_states(rng.Pick(kStates));
  switch (rng.Below(6)) {
    case 0:
      break;  // no budget
    case 1:
      a.set_budget_cents(-100);
      break;
    case 2:
      a.set_budget_cents(250000);  // equal to a common fee
      break;
    default:
      a.set_budget_cents(100000 + 10000 * static_cast<int64_t>(rng.Below(60)));
  }
  a.set_prefers_hands_on(rng.OneIn(2));
  return a;
}

// A "now" near a UTC midnight, so that site zones disagree about the day.
absl::Time RandomNow(Random& rng) {
  return absl::FromCivil(absl::CivilSecond(kToday) +
                             (rng.Below(7) - 3) * 86400 +
                             (rng.OneIn(2) ? 1800 : 86400 - 1800),
                         absl::UTCTimeZone());
}

std::vector<const CatalogRotation*> View(
    const std::vector<std::unique_ptr<CatalogRotation>>& catalog) {
  std::vector<const CatalogRotation*> out;
  for (const auto& entry : catalog) out.push_back(entry.get());
  return out;
}

// Pages through the whole ranking (the first pages, the last ones, one past
// the end, and a few at random offsets) with each page size.
void ExpectAllPagesMatch(Random& rng, const Applicant& applicant,
                         const RecommendIndex& index,
                         const std::vector<v1::Recommendation>& ranking,
                         const RecommendQuery& base,
                         const std::string& context) {
  const int total = static_cast<int>(ranking.size());
  for (int limit : {1, 3, 10, 50}) {
    std::vector<int> offsets;
    for (int offset = 0; offset <= total && offsets.size() < 12;
         offset += limit) {
      offsets.push_back(offset);
    }
    for (int page = std::max(0, total / limit - 2); page <= total / limit + 1;
         ++page) {
      offsets.push_back(page * limit);
    }
    for (int i = 0; i < 3; ++i) offsets.push_back(rng.Below(total + 5));
    for (int offset : offsets) {
      RecommendQuery query = base;
      query.offset = offset;
      query.limit = limit;
      ExpectPageMatches(applicant, index, ranking, query, context);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  // No page at all: only whether any candidate exists.
  RecommendQuery none = base;
  none.offset = 0;
  none.limit = 0;
  ExpectPageMatches(applicant, index, ranking, none, context);
}

void ExpectScanOrder(const RecommendIndex& index,
                     const std::vector<const CatalogRotation*>& catalog);

TEST(RecommendIndexTest, GivesThePlainScansPagesOnRandomCatalogs) {
  Random rng(20270115);
  int nonempty = 0;
  for (int round = 0; round < 120; ++round) {
    const int size = rng.OneIn(3) ? 1 + rng.Below(12) : 40 + rng.Below(260);
    std::vector<std::unique_ptr<CatalogRotation>> catalog =
        RandomCatalog(rng, size);
    const std::vector<const CatalogRotation*> view = View(catalog);
    // One index answers many applicants, as the catalog cache's does.
    std::shared_ptr<const RecommendIndex> index = RecommendIndex::Build(view);
    ExpectScanOrder(*index, view);
    for (int a = 0; a < 5; ++a) {
      const Applicant applicant = RandomApplicant(rng, 8);
      RecommendQuery base;
      base.now = RandomNow(rng);
      if (rng.OneIn(3)) {
        for (int i = 0; i < 4 && !catalog.empty(); ++i) {
          const CatalogRotation& entry =
              *catalog[rng.Below(static_cast<int>(catalog.size()))];
          if (!entry.sessions.empty()) {
            base.excluded_sessions.insert(entry.sessions[0].name());
          }
        }
        base.excluded_sessions.insert("rotations/elsewhere/sessions/a");
      }
      const std::vector<v1::Recommendation> ranking =
          ReferenceRanking(applicant, view, base);
      if (!ranking.empty()) ++nonempty;
      const std::string context =
          absl::StrCat("round ", round, " applicant ", a, ": ",
                       applicant.ShortDebugString());
      ExpectAllPagesMatch(rng, applicant, *index, ranking, base, context);
      if (HasFatalFailure()) return;
      // The plain-list form indexes the list for the call: same answer.
      RecommendQuery first = base;
      first.limit = 10;
      RecommendResult listed =
          Recommend(applicant, view,
                    RecommendationEligibility(applicant, base.now), first);
      EXPECT_EQ(listed.total, static_cast<int>(ranking.size()));
    }
  }
  // The catalogs are not so hard to please that nothing is ever recommended.
  EXPECT_GT(nonempty, 300);
}

// At the size the service runs at: thousands of rotations, few specialties, so
// the page is decided in the first buckets and most of the catalog is skipped;
// deep pages hold thousands of candidates.
TEST(RecommendIndexTest, GivesThePlainScansPagesOnALargeCatalog) {
  Random rng(7);
  std::vector<std::unique_ptr<CatalogRotation>> catalog =
      RandomCatalog(rng, 3000);
  const std::vector<const CatalogRotation*> view = View(catalog);
  std::shared_ptr<const RecommendIndex> index = RecommendIndex::Build(view);
  for (int a = 0; a < 6; ++a) {
    const Applicant applicant = RandomApplicant(rng, 8);
    RecommendQuery base;
    base.now = RandomNow(rng);
    const std::vector<v1::Recommendation> ranking =
        ReferenceRanking(applicant, view, base);
    const int total = static_cast<int>(ranking.size());
    for (int offset : {0, 10, 20, 490, total / 2, total - 10, total - 1, total,
                       total + 10}) {
      for (int limit : {1, 10, 50}) {
        RecommendQuery query = base;
        query.offset = std::max(offset, 0);
        query.limit = limit;
        ExpectPageMatches(applicant, *index, ranking, query,
                          absl::StrCat("applicant ", a));
        if (HasFatalFailure()) return;
      }
    }
  }
}

// A changed copy of a rotation, as the catalog cache makes one for an event:
// seats, state, fee, rules, type, zone, state, sessions.
std::shared_ptr<const CatalogRotation> Changed(Random& rng,
                                               const CatalogRotation& entry) {
  auto copy = std::make_shared<CatalogRotation>(entry);
  Rotation& r = copy->rotation;
  switch (rng.Below(9)) {
    case 0:
    case 1:
      if (!copy->sessions.empty()) {
        copy->sessions[rng.Below(static_cast<int>(copy->sessions.size()))]
            .set_seats_available(rng.Below(4));
      }
      break;
    case 2:
      r.set_state(rng.OneIn(2) ? Rotation::ARCHIVED : Rotation::PUBLISHED);
      break;
    case 3:
      r.mutable_fees()->set_total_cents(50000 + 10000 * rng.Below(80));
      break;
    case 4:
      *r.mutable_eligibility() = RandomRules(rng);
      r.set_experience_type(rng.OneIn(2) ? type::v1::OBSERVERSHIP
                                         : type::v1::CLINICAL_ROTATION);
      break;
    case 5:
      copy->site_time_zone = rng.OneIn(2) ? "Europe/Berlin" : rng.Pick(Zones());
      break;
    case 6:
      r.set_us_state(rng.OneIn(2) ? "WA" : "NY");
      r.set_specialty(static_cast<type::v1::Specialty>(rng.Below(9)));
      break;
    case 7:
      if (!copy->sessions.empty()) copy->sessions.pop_back();
      break;
    default: {
      Session& s = copy->sessions.emplace_back();
      s.set_name(absl::StrCat(r.name(), "/sessions/z", rng.Below(1000)));
      s.set_start_date(RandomDate(rng, 60, 30));
      s.set_end_date(RandomDate(rng, 120, 30));
      s.set_application_deadline(RandomDate(rng, 0, 3));
      s.set_seats_available(1 + rng.Below(5));
      s.set_accepting_applications(true);
    }
  }
  return copy;
}

bool Indexable(const CatalogRotation& entry) {
  return entry.rotation.state() == Rotation::PUBLISHED &&
         std::any_of(entry.sessions.begin(), entry.sessions.end(),
                     [](const Session& s) { return s.seats_available() > 0; });
}

using SharedCatalog = std::vector<std::shared_ptr<const CatalogRotation>>;

// The order that early stops rely on: one run per specialty, fees ascending
// within it, holding exactly the indexable entries of the catalog.
void ExpectScanOrder(const RecommendIndex& index,
                     const std::vector<const CatalogRotation*>& catalog) {
  std::vector<const CatalogRotation*> order = index.ScanOrder();
  size_t runs = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 ||
        order[i]->rotation.specialty() != order[i - 1]->rotation.specialty()) {
      ++runs;
      if (i > 0) {
        EXPECT_LT(order[i - 1]->rotation.specialty(),
                  order[i]->rotation.specialty());
      }
    } else {
      EXPECT_LE(order[i - 1]->rotation.fees().total_cents(),
                order[i]->rotation.fees().total_cents());
    }
  }
  EXPECT_EQ(index.bucket_count(), runs);
  std::vector<const CatalogRotation*> indexable;
  for (const CatalogRotation* entry : catalog) {
    if (Indexable(*entry)) indexable.push_back(entry);
  }
  std::sort(order.begin(), order.end());
  std::sort(indexable.begin(), indexable.end());
  EXPECT_EQ(order, indexable);
}

std::vector<const CatalogRotation*> View(const SharedCatalog& catalog) {
  std::vector<const CatalogRotation*> out;
  for (const auto& entry : catalog) out.push_back(entry.get());
  return out;
}

// Successive versions of a catalog, each indexed from the index of the one
// before (as the catalog cache does): what changed is read afresh, the rest is
// reused, and the answers are the plain scan's.
TEST(RecommendIndexTest, RebuildsFromThePreviousIndexGiveThePlainScansPages) {
  Random rng(99);
  for (int round = 0; round < 30; ++round) {
    auto catalog = std::make_shared<SharedCatalog>();
    for (auto& entry : RandomCatalog(rng, 20 + rng.Below(200))) {
      catalog->push_back(std::move(entry));
    }
    auto by_name = [](const auto& a, const auto& b) {
      return a->rotation.name() < b->rotation.name();
    };
    // The cache's order; some rounds also shuffle, which must only cost reuse.
    const bool sorted = !rng.OneIn(4);
    if (sorted) std::sort(catalog->begin(), catalog->end(), by_name);
    std::shared_ptr<const RecommendIndex> index =
        RecommendIndex::Build(View(*catalog), catalog);
    for (int version = 0; version < 6; ++version) {
      auto next = std::make_shared<SharedCatalog>(*catalog);
      const int changes =
          rng.OneIn(4) ? 0 : 1 + rng.Below(rng.OneIn(3) ? 40 : 3);
      for (int c = 0; c < changes; ++c) {
        const int at = rng.Below(static_cast<int>(next->size()) + 1);
        const int size = static_cast<int>(next->size());
        switch (rng.Below(sorted ? 3 : 4)) {
          case 0:
            if (at < size) (*next)[at] = Changed(rng, *(*next)[at]);
            break;
          case 1: {
            auto added =
                std::make_shared<CatalogRotation>(*RandomCatalog(rng, 1)[0]);
            added->rotation.set_name(
                absl::StrCat("rotations/n", round, "-", version, "-", c));
            for (Session& s : added->sessions) {
              s.set_name(
                  absl::StrCat(added->rotation.name(), "/sessions/",
                               s.name().substr(s.name().rfind('/') + 1)));
            }
            next->insert(next->begin() + at, std::move(added));
            break;
          }
          case 2:
            if (at < size) next->erase(next->begin() + at);
            break;
          default:
            if (size > 1) {
              std::swap((*next)[at % size], (*next)[rng.Below(size)]);
            }
        }
      }
      if (sorted) std::sort(next->begin(), next->end(), by_name);
      std::shared_ptr<const RecommendIndex> rebuilt =
          RecommendIndex::Build(View(*next), next, index.get());
      const std::shared_ptr<const RecommendIndex> fresh =
          RecommendIndex::Build(View(*next));
      EXPECT_EQ(rebuilt->rotation_count(), fresh->rotation_count());
      EXPECT_EQ(rebuilt->session_count(), fresh->session_count());
      ExpectScanOrder(*rebuilt, View(*next));
      ExpectScanOrder(*fresh, View(*next));
      if (sorted) {
        // Every unchanged entry is reused.
        size_t unchanged = 0;
        for (const auto& entry : *next) {
          if (Indexable(*entry) && std::find(catalog->begin(), catalog->end(),
                                             entry) != catalog->end()) {
            ++unchanged;
          }
        }
        EXPECT_EQ(rebuilt->reused_count(), unchanged);
      }
      // The old version goes; the new index must not need it.
      index.reset();
      catalog = next;
      index = rebuilt;
      const std::vector<const CatalogRotation*> view = View(*catalog);
      // Many small pages, where a misplaced row would be skipped too early,
      // against an index built from scratch...
      for (int a = 0; a < 6; ++a) {
        const Applicant applicant = RandomApplicant(rng, 8);
        RecommendQuery query;
        query.now = RandomNow(rng);
        query.exact_total = false;
        for (int limit : {1, 2, 5}) {
          for (int offset = 0; offset < 6; offset += limit) {
            query.offset = offset;
            query.limit = limit;
            const EligibilityCheck eligibility =
                RecommendationEligibility(applicant, query.now);
            RecommendResult want =
                Recommend(applicant, *fresh, eligibility, query);
            RecommendResult got =
                Recommend(applicant, *index, eligibility, query);
            ASSERT_EQ(got.recommendations.size(), want.recommendations.size());
            for (size_t i = 0; i < got.recommendations.size(); ++i) {
              ASSERT_EQ(got.recommendations[i].session(),
                        want.recommendations[i].session())
                  << "round " << round << " version " << version;
            }
            EXPECT_EQ(got.total, want.total);
          }
        }
      }
      // ...and the plain scan.
      for (int a = 0; a < 2; ++a) {
        const Applicant applicant = RandomApplicant(rng, 8);
        RecommendQuery base;
        base.now = RandomNow(rng);
        const std::vector<v1::Recommendation> ranking =
            ReferenceRanking(applicant, view, base);
        for (int offset : {0, 10, 20}) {
          RecommendQuery query = base;
          query.offset = offset;
          query.limit = 10;
          ExpectPageMatches(
              applicant, *index, ranking, query,
              absl::StrCat("round ", round, " version ", version));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Rotations that share eligibility rules share one answer per call; what the
// engine reads of a rotation besides the rules (its experience type, for a
// graduate on a visitor visa) must keep them apart.
TEST(RecommendIndexTest,
     RotationsWithTheSameRulesButAnotherTypeAreJudgedApart) {
  Applicant visitor;
  visitor.set_name("applicants/visitor");
  visitor.set_training_stage(type::v1::GRADUATE);
  visitor.set_graduation_year(2024);
  visitor.set_visa_status(type::v1::B1_B2);
  std::vector<std::unique_ptr<CatalogRotation>> catalog;
  for (auto [id, kind] :
       std::vector<std::pair<std::string, type::v1::ExperienceType>>{
           {"a-clinical", type::v1::CLINICAL_ROTATION},
           {"b-observe", type::v1::OBSERVERSHIP},
           {"c-clinical", type::v1::CLINICAL_ROTATION},
           {"d-shadow", type::v1::SHADOWING}}) {
    auto entry = std::make_unique<CatalogRotation>();
    entry->rotation.set_name(absl::StrCat("rotations/", id));
    entry->rotation.set_state(Rotation::PUBLISHED);
    entry->rotation.set_experience_type(kind);
    entry->rotation.mutable_eligibility()->set_step1_pass_required(false);
    Session& s = entry->sessions.emplace_back();
    s.set_name(absl::StrCat("rotations/", id, "/sessions/a"));
    s.set_seats_available(1);
    s.set_accepting_applications(true);
    catalog.push_back(std::move(entry));
  }
  const absl::Time now = absl::FromCivil(kToday, absl::UTCTimeZone());
  std::shared_ptr<const RecommendIndex> index =
      RecommendIndex::Build(View(catalog));
  EXPECT_EQ(index->signature_count(), 3u);
  RecommendQuery query;
  query.now = now;
  RecommendResult result = Recommend(
      visitor, *index, RecommendationEligibility(visitor, now), query);
  std::vector<std::string> sessions;
  for (const auto& r : result.recommendations) sessions.push_back(r.session());
  EXPECT_EQ(sessions,
            (std::vector<std::string>{"rotations/b-observe/sessions/a",
                                      "rotations/d-shadow/sessions/a"}));
}

// ---------------------------------------------------------------------------------------
// The catalog cache's recommend view.

class CatalogCacheViewTest : public ::testing::Test {
 protected:
  CatalogCacheViewTest()
      : channel_(grpc::CreateChannel("127.0.0.1:1",
                                     grpc::InsecureChannelCredentials())),
        catalog_(channel_, absl::Seconds(1)) {
    CatalogCacheOptions options;
    // The cache is filled by hand and never started: it never calls Redis or
    // the catalog.
    options.redis.address = "127.0.0.1:1";
    cache_ = std::make_unique<CatalogCache>(&catalog_, options);
    applicant_.set_name("applicants/maria");
    applicant_.set_training_stage(type::v1::GRADUATE);
    applicant_.set_graduation_year(2024);
    applicant_.add_specialty_interests(type::v1::INTERNAL_MEDICINE);
  }

  static std::shared_ptr<CatalogRotation> Entry(const std::string& id,
                                                int seats) {
    auto entry = std::make_shared<CatalogRotation>();
    entry->rotation.set_name(absl::StrCat("rotations/", id));
    entry->rotation.set_state(Rotation::PUBLISHED);
    entry->rotation.set_specialty(type::v1::INTERNAL_MEDICINE);
    entry->site_time_zone = "America/New_York";
    Session& s = entry->sessions.emplace_back();
    s.set_name(absl::StrCat("rotations/", id, "/sessions/a"));
    s.set_start_date("2027-03-01");
    s.set_end_date("2027-03-28");
    s.set_application_deadline("2027-02-01");
    s.set_seats_available(seats);
    s.set_accepting_applications(true);
    return entry;
  }

  // Session → seats, best first.
  std::vector<std::pair<std::string, int>> Recommended(
      const RecommendIndex& view) const {
    const absl::Time now = absl::FromCivil(kToday, absl::UTCTimeZone());
    RecommendQuery query;
    query.now = now;
    query.limit = 50;
    RecommendResult result = Recommend(
        applicant_, view, RecommendationEligibility(applicant_, now), query);
    std::vector<std::pair<std::string, int>> out;
    for (const auto& r : result.recommendations) {
      out.emplace_back(r.session(), r.seats_available());
    }
    return out;
  }

  std::shared_ptr<grpc::Channel> channel_;
  CatalogClient catalog_;
  std::unique_ptr<CatalogCache> cache_;
  Applicant applicant_;
};

using Seats = std::vector<std::pair<std::string, int>>;

TEST_F(CatalogCacheViewTest, FollowsUpsertsAndErasures) {
  cache_->Upsert(Entry("a", 3));
  cache_->Upsert(Entry("b", 2));
  cache_->Upsert(Entry("c", 1));
  cache_->MarkReady();

  std::shared_ptr<const RecommendIndex> first = cache_->RecommendView();
  // 5 points for 5 free seats at most: more seats rank first.
  EXPECT_EQ(Recommended(*first), (Seats{{"rotations/a/sessions/a", 3},
                                        {"rotations/b/sessions/a", 2},
                                        {"rotations/c/sessions/a", 1}}));
  // Built once per catalog version.
  EXPECT_EQ(cache_->RecommendView(), first);

  // A changed seat count shows in the next view (and reorders).
  cache_->Upsert(Entry("c", 5));
  std::shared_ptr<const RecommendIndex> second = cache_->RecommendView();
  EXPECT_NE(second, first);
  EXPECT_EQ(second->reused_count(), 2u);  // only "c" was read again
  EXPECT_EQ(Recommended(*second), (Seats{{"rotations/c/sessions/a", 5},
                                         {"rotations/a/sessions/a", 3},
                                         {"rotations/b/sessions/a", 2}}));
  // A caller still holding the old view keeps a consistent, live catalog.
  EXPECT_EQ(Recommended(*first).size(), 3u);
  first.reset();

  // A full session, an archived rotation, an erased one: gone.
  cache_->Upsert(Entry("a", 0));
  EXPECT_EQ(
      Recommended(*cache_->RecommendView()),
      (Seats{{"rotations/c/sessions/a", 5}, {"rotations/b/sessions/a", 2}}));
  auto archived = Entry("b", 2);
  archived->rotation.set_state(Rotation::ARCHIVED);
  cache_->Upsert(archived);
  EXPECT_EQ(Recommended(*cache_->RecommendView()),
            (Seats{{"rotations/c/sessions/a", 5}}));
  cache_->Erase("rotations/c");
  EXPECT_TRUE(Recommended(*cache_->RecommendView()).empty());
  EXPECT_EQ(cache_->RecommendView()->rotation_count(), 0u);

  // And a new one arrives.
  cache_->Upsert(Entry("d", 4));
  EXPECT_EQ(Recommended(*cache_->RecommendView()),
            (Seats{{"rotations/d/sessions/a", 4}}));
}

// Readers take views while a writer keeps changing the catalog: every view is
// one whole version of it (here: rotation "b" has 1..4 seats and "a" 4), and
// stays valid for as long as its reader holds it.
TEST_F(CatalogCacheViewTest, ReadersSeeWholeVersionsWhileTheCatalogChanges) {
  cache_->Upsert(Entry("a", 4));
  cache_->Upsert(Entry("b", 1));
  cache_->MarkReady();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_ptr<const RecommendIndex> view = cache_->RecommendView();
        Seats seats = Recommended(*view);
        if (seats.size() != 2) {
          ++bad;
          continue;
        }
        int b = seats[0].first == "rotations/b/sessions/a" ? seats[0].second
                                                           : seats[1].second;
        int a = seats[0].first == "rotations/a/sessions/a" ? seats[0].second
                                                           : seats[1].second;
        if (a != 4 || b < 1 || b > 4) ++bad;
      }
    });
  }
  for (int i = 0; i < 300; ++i) cache_->Upsert(Entry("b", 1 + i % 4));
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(
      Recommended(*cache_->RecommendView()),
      (Seats{{"rotations/a/sessions/a", 4}, {"rotations/b/sessions/a", 4}}));
}

}  // namespace
}  // namespace clerkship::matching

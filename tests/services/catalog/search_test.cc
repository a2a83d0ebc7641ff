// SearchRotations against a seeded, generated catalog of a few hundred rotations (drafts,
// archived rotations, closed sessions, full sessions) loaded through the API into a real
// Redis: every filter, every ordering and pagination are checked against a plain filter over
// the same data. A second suite checks that the indexes follow changes.

#include <gmock/gmock.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/synchronization/notification.h"
#include "absl/time/civil_time.h"
#include "tests/services/catalog/catalog_test_env.h"
#include "tests/services/catalog/generated_catalog.h"

namespace clerkship::catalog {
namespace {

using ::testing::ElementsAreArray;
using testing::ViolatedFields;
using Fate = GeneratedRotation::Fate;

constexpr uint64_t kSeed = 20270301;
constexpr int kSites = 40;
constexpr int kRotations = 300;
const char* const kOrders[] = {"", "total_fee", "seats_available desc"};

int64_t Day(const std::string& date) {
  absl::CivilDay day;
  EXPECT_TRUE(absl::ParseCivilTime(date, &day)) << date;
  return day - absl::CivilDay(1970, 1, 1);
}

// What a rotation looks like to search at TestEpoch, computed directly from the generated
// data (sessions are open until the end of their deadline day in the site's time zone).
struct Expectation {
  std::string name;
  int64_t sort_key = 0;
  int32_t seats_available = 0;   // over open sessions
  std::string next_start_date;   // over open sessions
};

class SearchTestBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    clock_ = new ManualClock(TestEpoch());
    server_ = InProcessCatalog::Start(clock_).release();
    data_ = new GeneratedCatalog(
        GenerateCatalog(kSeed, kSites, kRotations, absl::CivilDay(2027, 3, 1)));
    if (server_) {
      load_status_ = new absl::Status(
          LoadCatalog(server_->channel, *data_, TestEpoch() + absl::Hours(24 * 7)));
    }
  }

  static void TearDownTestSuite() {
    delete server_;
    delete data_;
    delete clock_;
    delete load_status_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(load_status_->ok()) << *load_status_;
  }

  // The straightforward filter the service must agree with.
  static std::vector<Expectation> Reference(const v1::SearchRotationsRequest& q) {
    std::vector<Expectation> rows;
    bool window = !q.start_from().empty() || !q.start_to().empty();
    for (const GeneratedRotation& g : data_->rotations) {
      if (g.fate != Fate::kPublished) continue;
      const v1::Rotation& r = g.rotation;
      const v1::Site& site = data_->SiteOf(g);
      if (q.specialty() != 0 && r.specialty() != q.specialty()) continue;
      if (q.experience_type() != 0 && r.experience_type() != q.experience_type()) continue;
      if (q.setting() != 0 && r.setting() != q.setting()) continue;
      if (q.has_hands_on() && r.hands_on().patient_contact() != q.hands_on()) continue;
      if (!q.us_state().empty() && site.us_state() != q.us_state()) continue;
      if (!q.city().empty() &&
          absl::AsciiStrToLower(site.city()) !=
              absl::AsciiStrToLower(absl::StripAsciiWhitespace(q.city()))) {
        continue;
      }
      if (q.has_lor_offered() && r.lor_offered() != q.lor_offered()) continue;
      const auto& visas = r.eligibility().accepted_visa_statuses();
      if (q.visa() != 0 && !visas.empty() &&
          std::find(visas.begin(), visas.end(), q.visa()) == visas.end()) {
        continue;
      }
      const auto& f = r.fees();
      int64_t total = f.program_fee_cents() + f.application_fee_cents() +
                      f.background_check_cents() + f.malpractice_insurance_cents() +
                      f.housing_estimate_cents();
      if (q.max_total_fee_cents() > 0 && total > q.max_total_fee_cents()) continue;

      absl::TimeZone tz;
      EXPECT_TRUE(absl::LoadTimeZone(site.time_zone(), &tz));
      Expectation e;
      e.name = "rotations/" + g.id;
      std::optional<std::string> earliest_match;
      for (const GeneratedSession& s : g.sessions) {
        absl::CivilDay deadline;
        if (!absl::ParseCivilTime(s.session.application_deadline(), &deadline)) {
          ADD_FAILURE() << s.session.application_deadline();
          continue;
        }
        if (TestEpoch() >= absl::FromCivil(deadline + 1, tz)) continue;  // closed
        int available = std::max(0, s.session.capacity() - s.holds);
        const std::string& start = s.session.start_date();
        e.seats_available += available;
        if (e.next_start_date.empty() || start < e.next_start_date) e.next_start_date = start;
        if (!q.start_from().empty() && start < q.start_from()) continue;
        if (!q.start_to().empty() && start > q.start_to()) continue;
        if (q.has_seats() && available == 0) continue;
        if (!earliest_match || start < *earliest_match) earliest_match = start;
      }
      if ((window || q.has_seats()) && !earliest_match) continue;
      if (q.order_by() == "total_fee") {
        e.sort_key = total;
      } else if (q.order_by() == "seats_available desc") {
        e.sort_key = -e.seats_available;
      } else {
        e.sort_key = earliest_match ? Day(*earliest_match) : INT64_MAX;
      }
      rows.push_back(std::move(e));
    }
    std::sort(rows.begin(), rows.end(), [](const Expectation& a, const Expectation& b) {
      return a.sort_key != b.sort_key ? a.sort_key < b.sort_key : a.name < b.name;
    });
    return rows;
  }

  static std::vector<std::string> Names(const std::vector<Expectation>& rows) {
    std::vector<std::string> names;
    for (const auto& r : rows) names.push_back(r.name);
    return names;
  }

  grpc::Status Search(const v1::SearchRotationsRequest& request,
                      v1::SearchRotationsResponse* out) {
    grpc::ClientContext context;  // the public: no identity
    return server_->catalog->SearchRotations(&context, request, out);
  }

  // Every page of a search, in order; checks that each page is full but the last and that
  // total_size stays the same.
  std::vector<v1::Rotation> WalkAll(v1::SearchRotationsRequest request, int page_size) {
    std::vector<v1::Rotation> all;
    request.set_page_size(page_size);
    int total = -1;
    for (int pages = 0; pages < 1000; ++pages) {
      v1::SearchRotationsResponse page;
      grpc::Status s = Search(request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      if (total >= 0) EXPECT_EQ(page.total_size(), total);
      total = page.total_size();
      for (const auto& r : page.rotations()) all.push_back(r);
      if (page.next_page_token().empty()) break;
      EXPECT_EQ(page.rotations_size(), page_size);
      request.set_page_token(page.next_page_token());
    }
    EXPECT_EQ(static_cast<int>(all.size()), std::max(total, 0));
    return all;
  }

  // The service and the reference agree, for every ordering, walking pages of 7.
  void ExpectMatchesReference(v1::SearchRotationsRequest request, const std::string& label,
                              bool allow_empty = false) {
    for (const char* order : kOrders) {
      request.set_order_by(order);
      SCOPED_TRACE(label + " order_by=\"" + order + "\"");
      std::vector<Expectation> expected = Reference(request);
      if (!allow_empty) EXPECT_FALSE(expected.empty()) << "the case should match something";
      std::vector<std::string> names;
      std::map<std::string, const Expectation*> by_name;
      for (const auto& e : expected) by_name[e.name] = &e;
      for (const v1::Rotation& r : WalkAll(request, 7)) {
        names.push_back(r.name());
        auto it = by_name.find(r.name());
        if (it == by_name.end()) continue;
        EXPECT_EQ(r.seats_available(), it->second->seats_available) << r.name();
        EXPECT_EQ(r.next_start_date(), it->second->next_start_date) << r.name();
        EXPECT_EQ(r.state(), v1::Rotation::PUBLISHED);
      }
      EXPECT_THAT(names, ElementsAreArray(Names(expected)));
    }
  }

  static ManualClock* clock_;
  static InProcessCatalog* server_;
  static GeneratedCatalog* data_;
  static absl::Status* load_status_;
};

ManualClock* SearchTestBase::clock_ = nullptr;
InProcessCatalog* SearchTestBase::server_ = nullptr;
GeneratedCatalog* SearchTestBase::data_ = nullptr;
absl::Status* SearchTestBase::load_status_ = nullptr;

class SearchTest : public SearchTestBase {};

TEST_F(SearchTest, EachFilterAloneMatchesAPlainFilter) {
  v1::SearchRotationsRequest q;
  ExpectMatchesReference(q, "no filter");
  for (int specialty : {1, 4, 8, 16, 29}) {
    q.Clear();
    q.set_specialty(static_cast<type::v1::Specialty>(specialty));
    ExpectMatchesReference(q, "specialty " + std::to_string(specialty));
  }
  for (int type = 1; type <= 7; ++type) {
    q.Clear();
    q.set_experience_type(static_cast<type::v1::ExperienceType>(type));
    ExpectMatchesReference(q, "experience_type " + std::to_string(type));
  }
  for (int setting = 1; setting <= 3; ++setting) {
    q.Clear();
    q.set_setting(static_cast<type::v1::Setting>(setting));
    ExpectMatchesReference(q, "setting " + std::to_string(setting));
  }
  for (bool flag : {true, false}) {
    q.Clear();
    q.set_hands_on(flag);
    ExpectMatchesReference(q, flag ? "hands_on" : "not hands_on");
    q.Clear();
    q.set_lor_offered(flag);
    ExpectMatchesReference(q, flag ? "lor" : "no lor");
  }
  for (const char* state : {"NY", "IL", "GU", "HI"}) {
    q.Clear();
    q.set_us_state(state);
    ExpectMatchesReference(q, std::string("state ") + state);
  }
  for (const char* city : {"SPRINGFIELD", "new york", "Hagåtña", " Queens "}) {
    q.Clear();
    q.set_city(city);
    ExpectMatchesReference(q, std::string("city ") + city);
  }
  for (int visa : {1, 3, 5, 9}) {
    q.Clear();
    q.set_visa(static_cast<type::v1::VisaStatus>(visa));
    ExpectMatchesReference(q, "visa " + std::to_string(visa));
  }
  for (int64_t fee : {150000, 300000, 600000}) {
    q.Clear();
    q.set_max_total_fee_cents(fee);
    ExpectMatchesReference(q, "max fee " + std::to_string(fee));
  }
  q.Clear();
  q.set_has_seats(true);
  ExpectMatchesReference(q, "has seats");
}

TEST_F(SearchTest, StartWindowsMatchAPlainFilter) {
  v1::SearchRotationsRequest q;
  q.set_start_from(DayFromEpoch(60));
  ExpectMatchesReference(q, "from day 60");
  q.Clear();
  q.set_start_to(DayFromEpoch(45));
  ExpectMatchesReference(q, "to day 45");
  q.Clear();
  q.set_start_from(DayFromEpoch(30));
  q.set_start_to(DayFromEpoch(90));
  ExpectMatchesReference(q, "days 30-90");
  q.set_has_seats(true);
  ExpectMatchesReference(q, "days 30-90 with seats");
  // A single day: the same session must satisfy both ends.
  std::string single = data_->rotations[3].sessions.empty()
                           ? DayFromEpoch(100)
                           : data_->rotations[3].sessions[0].session.start_date();
  q.Clear();
  q.set_start_from(single);
  q.set_start_to(single);
  ExpectMatchesReference(q, "single day " + single, /*allow_empty=*/true);
  // Far outside every session.
  q.Clear();
  q.set_start_from("2031-01-01");
  ExpectMatchesReference(q, "far future", /*allow_empty=*/true);
  v1::SearchRotationsResponse out;
  ASSERT_TRUE(Search(q, &out).ok());
  EXPECT_EQ(out.total_size(), 0);
  EXPECT_TRUE(out.next_page_token().empty());
}

TEST_F(SearchTest, CombinedFiltersMatchAPlainFilter) {
  v1::SearchRotationsRequest q;
  q.set_us_state("IL");
  q.set_has_seats(true);
  ExpectMatchesReference(q, "IL with seats");
  q.Clear();
  q.set_hands_on(true);
  q.set_max_total_fee_cents(400000);
  q.set_start_from(DayFromEpoch(20));
  q.set_start_to(DayFromEpoch(200));
  ExpectMatchesReference(q, "hands-on, fee, window");
  q.Clear();
  q.set_lor_offered(true);
  q.set_visa(type::v1::J1);
  q.set_has_seats(true);
  q.set_max_total_fee_cents(500000);
  ExpectMatchesReference(q, "lor, J1, seats, fee");
  q.Clear();
  q.set_city("springfield");
  q.set_us_state("MO");
  ExpectMatchesReference(q, "Springfield MO", /*allow_empty=*/true);
  q.Clear();
  q.set_setting(type::v1::OUTPATIENT);
  q.set_experience_type(type::v1::CLINICAL_ROTATION);
  q.set_lor_offered(false);
  ExpectMatchesReference(q, "outpatient clinical without lor", /*allow_empty=*/true);
  q.Clear();
  q.set_hands_on(true);
  q.set_start_to(DayFromEpoch(120));
  q.set_max_total_fee_cents(450000);
  ExpectMatchesReference(q, "hands-on, fee, ending day 120");
  // A window opening today or earlier is bounded only by its end.
  q.Clear();
  q.set_start_from(DayFromEpoch(-10));
  q.set_start_to(DayFromEpoch(75));
  q.set_has_seats(true);
  q.set_setting(type::v1::INPATIENT);
  ExpectMatchesReference(q, "inpatient, past start to day 75, with seats");
  q.Clear();
  q.set_start_from(DayFromEpoch(0));
  q.set_visa(type::v1::B1_B2);
  ExpectMatchesReference(q, "from today, B1/B2");
  q.Clear();
  q.set_city("Atlantis");
  ExpectMatchesReference(q, "unknown city", /*allow_empty=*/true);
}

TEST_F(SearchTest, PaginationWalksEveryResultOnce) {
  v1::SearchRotationsRequest q;
  std::vector<std::string> expected = Names(Reference(q));
  int published = 0;
  for (const auto& g : data_->rotations) published += g.fate == Fate::kPublished;
  ASSERT_EQ(static_cast<int>(expected.size()), published);
  for (int page_size : {1, 13, 100}) {
    SCOPED_TRACE(page_size);
    std::vector<std::string> names;
    for (const auto& r : WalkAll(q, page_size)) names.push_back(r.name());
    EXPECT_THAT(names, ElementsAreArray(expected));
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  }
  // Page size 0 means 20; above 100 is capped.
  v1::SearchRotationsResponse page;
  ASSERT_TRUE(Search(q, &page).ok());
  EXPECT_EQ(page.rotations_size(), 20);
  EXPECT_EQ(page.total_size(), published);
  q.set_page_size(1000);
  ASSERT_TRUE(Search(q, &page).ok());
  EXPECT_EQ(page.rotations_size(), 100);
}

TEST_F(SearchTest, DraftsAndArchivedRotationsNeverAppear) {
  std::set<std::string> hidden;
  for (const auto& g : data_->rotations) {
    if (g.fate != Fate::kPublished) hidden.insert("rotations/" + g.id);
  }
  ASSERT_FALSE(hidden.empty());
  for (const char* order : kOrders) {
    v1::SearchRotationsRequest q;
    q.set_order_by(order);
    for (const auto& r : WalkAll(q, 100)) EXPECT_EQ(hidden.count(r.name()), 0u) << r.name();
  }
}

TEST_F(SearchTest, PageTokensOnlyContinueTheSameQuery) {
  v1::SearchRotationsRequest q;
  q.set_us_state("NY");
  q.set_page_size(3);
  v1::SearchRotationsResponse first;
  ASSERT_TRUE(Search(q, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());

  auto reuse = [&](std::function<void(v1::SearchRotationsRequest*)> change) {
    v1::SearchRotationsRequest other = q;
    other.set_page_token(first.next_page_token());
    change(&other);
    v1::SearchRotationsResponse out;
    return Search(other, &out);
  };
  EXPECT_TRUE(reuse([](auto*) {}).ok());
  EXPECT_TRUE(reuse([](auto* r) { r->set_page_size(50); }).ok());  // page size may change
  EXPECT_TRUE(reuse([](auto* r) { r->set_us_state("ny"); }).ok());  // same filter, spelt lower
  for (auto change : std::vector<std::function<void(v1::SearchRotationsRequest*)>>{
           [](auto* r) { r->set_us_state("TX"); },
           [](auto* r) { r->set_order_by("total_fee"); },
           [](auto* r) { r->set_has_seats(true); },
           [](auto* r) { r->set_hands_on(false); },
           [](auto* r) { r->set_max_total_fee_cents(100); },
           [](auto* r) { r->set_start_from("2027-04-01"); },
           [](auto* r) { r->set_page_token("garbage"); },
       }) {
    grpc::Status s = reuse(change);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"page_token"});
  }
}

TEST_F(SearchTest, EveryInvalidFieldIsNamed) {
  struct Case {
    std::string field;
    std::function<void(v1::SearchRotationsRequest*)> spoil;
  };
  std::vector<Case> cases = {
      {"specialty", [](auto* r) { r->set_specialty(static_cast<type::v1::Specialty>(77)); }},
      {"experience_type",
       [](auto* r) { r->set_experience_type(static_cast<type::v1::ExperienceType>(8)); }},
      {"setting", [](auto* r) { r->set_setting(static_cast<type::v1::Setting>(4)); }},
      {"us_state", [](auto* r) { r->set_us_state("XX"); }},
      {"us_state", [](auto* r) { r->set_us_state("New York"); }},
      {"city", [](auto* r) { r->set_city(std::string(101, 'c')); }},
      {"visa", [](auto* r) { r->set_visa(static_cast<type::v1::VisaStatus>(10)); }},
      {"max_total_fee_cents", [](auto* r) { r->set_max_total_fee_cents(-1); }},
      {"start_from", [](auto* r) { r->set_start_from("2027-13-01"); }},
      {"start_to", [](auto* r) { r->set_start_to("tomorrow"); }},
      {"start_to",
       [](auto* r) {
         r->set_start_from("2027-05-01");
         r->set_start_to("2027-04-30");
       }},
      {"page_size", [](auto* r) { r->set_page_size(-5); }},
      {"order_by", [](auto* r) { r->set_order_by("price"); }},
      {"order_by", [](auto* r) { r->set_order_by("total_fee desc"); }},
  };
  for (const Case& c : cases) {
    v1::SearchRotationsRequest request;
    c.spoil(&request);
    v1::SearchRotationsResponse out;
    grpc::Status s = Search(request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field}) << s.error_message();
  }
  v1::SearchRotationsRequest several;
  several.set_us_state("ZZ");
  several.set_max_total_fee_cents(-1);
  several.set_order_by("random");
  v1::SearchRotationsResponse out;
  EXPECT_EQ(ViolatedFields(Search(several, &out)),
            (std::set<std::string>{"us_state", "max_total_fee_cents", "order_by"}));
}

// The indexes follow every kind of change: seats taken and freed (also by expiry),
// deadlines passing, updates, archiving.
class SearchIndexTest : public CatalogTestEnv {
 protected:
  std::vector<std::string> Find(v1::SearchRotationsRequest q) {
    grpc::ClientContext context;
    v1::SearchRotationsResponse out;
    grpc::Status s = catalog_->SearchRotations(&context, q, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> names;
    for (const auto& r : out.rotations()) names.push_back(r.name().substr(10));
    return names;
  }
};

TEST_F(SearchIndexTest, IndexesFollowChanges) {
  MakeSite("site", SiteIn("Queens", "NY"));
  MakeSite("tx", SiteIn("Austin", "TX", "America/Chicago"));
  // a: one small session soon; b: a later big one; c: two sessions, TX.
  MakeRotation("a", ValidRotation("sites/site"));
  MakeSession("a", "s1", ValidSession(20, 1));
  MakeRotation("b", ValidRotation("sites/site"));
  MakeSession("b", "s1", ValidSession(40, 5));
  v1::Rotation cheap = ValidRotation("sites/tx");
  cheap.mutable_fees()->Clear();
  cheap.set_specialty(type::v1::PEDIATRICS);
  MakeRotation("c", cheap);
  v1::Session soon = ValidSession(10, 2);
  soon.set_application_deadline(DayFromEpoch(3));
  MakeSession("c", "s1", soon);
  MakeSession("c", "s2", ValidSession(100, 2));
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Publish(id).ok());

  v1::SearchRotationsRequest by_start, with_seats, by_seats, by_fee;
  with_seats.set_has_seats(true);
  by_seats.set_order_by("seats_available desc");
  by_fee.set_order_by("total_fee");
  EXPECT_THAT(Find(by_start), ::testing::ElementsAre("c", "a", "b"));
  EXPECT_THAT(Find(by_seats), ::testing::ElementsAre("b", "c", "a"));
  EXPECT_THAT(Find(by_fee), ::testing::ElementsAre("c", "a", "b"));

  // a's only seat is taken: it drops out of has_seats and to the end by seats.
  ASSERT_TRUE(Hold("rotations/a/sessions/s1", "applications/1", absl::Hours(2)).ok());
  EXPECT_THAT(Find(with_seats), ::testing::ElementsAre("c", "b"));
  EXPECT_THAT(Find(by_seats), ::testing::ElementsAre("b", "c", "a"));
  // c's first session fills: with has_seats, c now sorts by its second session.
  ASSERT_TRUE(Hold("rotations/c/sessions/s1", "applications/2").ok());
  ASSERT_TRUE(Hold("rotations/c/sessions/s1", "applications/3").ok());
  EXPECT_THAT(Find(with_seats), ::testing::ElementsAre("b", "c"));
  EXPECT_THAT(Find(by_start), ::testing::ElementsAre("c", "a", "b"));

  // The hold on a lapses: search sees the seat again without waiting for the sweeper.
  clock_.Advance(absl::Hours(2));
  EXPECT_THAT(Find(with_seats), ::testing::ElementsAre("a", "b", "c"));
  EXPECT_EQ(EventsOfType("seat.expired").size(), 1u);

  // Releasing frees c's first session again.
  ASSERT_TRUE(Release("rotations/c/sessions/s1", "applications/2").ok());
  EXPECT_THAT(Find(with_seats), ::testing::ElementsAre("c", "a", "b"));

  // An update moves c between specialty sets.
  v1::SearchRotationsRequest pediatrics, medicine;
  pediatrics.set_specialty(type::v1::PEDIATRICS);
  medicine.set_specialty(type::v1::INTERNAL_MEDICINE);
  EXPECT_THAT(Find(pediatrics), ::testing::ElementsAre("c"));
  grpc::ClientContext context;
  testing::AsAdmin(&context);
  v1::UpdateRotationRequest update;
  update.mutable_rotation()->set_name("rotations/c");
  update.mutable_rotation()->set_specialty(type::v1::INTERNAL_MEDICINE);
  v1::Rotation updated;
  ASSERT_TRUE(catalog_->UpdateRotation(&context, update, &updated).ok());
  EXPECT_TRUE(Find(pediatrics).empty());
  EXPECT_THAT(Find(medicine), ::testing::ElementsAre("c", "a", "b"));

  // c's first deadline (day 3) passes: it now starts on day 100, after a and b.
  clock_.Set(absl::FromCivil(absl::CivilDay(2027, 3, 1) + 7, absl::UTCTimeZone()));
  EXPECT_THAT(Find(by_start), ::testing::ElementsAre("a", "b", "c"));
  v1::SearchRotationsRequest window;
  window.set_start_to(DayFromEpoch(15));
  EXPECT_TRUE(Find(window).empty());

  // Archived rotations leave search.
  grpc::ClientContext archive_context;
  testing::AsAdmin(&archive_context);
  v1::ArchiveRotationRequest archive;
  archive.set_name("rotations/b");
  v1::Rotation archived;
  ASSERT_TRUE(catalog_->ArchiveRotation(&archive_context, archive, &archived).ok());
  EXPECT_THAT(Find(by_start), ::testing::ElementsAre("a", "c"));
  EXPECT_THAT(Find(by_fee), ::testing::ElementsAre("c", "a"));
}

// A second catalog replica (its own store, hence its own in-process index) sees every write
// the first one makes as soon as that write has been acknowledged: drafts only through
// GetRotation, publication, updates, seats and archiving both there and in search.
TEST_F(SearchIndexTest, AnotherReplicaSeesEveryWriteAtOnce) {
  RedisCatalogStore replica(redis_);
  auto search = [&](const SearchQuery& query) {
    absl::Notification done;
    absl::StatusOr<SearchPage> out;
    replica.SearchRotations(query, std::nullopt, 20, clock_.Now(),
                            [&](absl::StatusOr<SearchPage> page) {
                              out = std::move(page);
                              done.Notify();
                            });
    done.WaitForNotification();
    std::vector<std::string> names;
    EXPECT_TRUE(out.ok()) << out.status();
    if (out.ok()) {
      for (const RotationWire& r : out->rotations) names.push_back("rotations/" + r.record->id);
    }
    return names;
  };
  auto get = [&](const std::string& id) {
    absl::Notification done;
    absl::StatusOr<StoredRotation> out;
    replica.GetRotation(id, clock_.Now(), [&](absl::StatusOr<StoredRotation> r) {
      out = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  };

  EXPECT_EQ(get("r").status().code(), absl::StatusCode::kNotFound);
  MakeSite("site", SiteIn("Queens", "NY"));
  MakeRotation("r", ValidRotation("sites/site"));
  MakeSession("r", "s1", ValidSession(20, 2));
  ASSERT_TRUE(get("r").ok());
  EXPECT_EQ(get("r")->rotation.state(), v1::Rotation::DRAFT);
  EXPECT_EQ(get("r")->rotation.seats_available(), 2);
  EXPECT_TRUE(search(SearchQuery{}).empty());

  ASSERT_TRUE(Publish("r").ok());
  EXPECT_THAT(search(SearchQuery{}), ::testing::ElementsAre("rotations/r"));
  SearchQuery pediatrics;
  pediatrics.terms = {"specialty:PEDIATRICS"};
  EXPECT_TRUE(search(pediatrics).empty());

  grpc::ClientContext context;
  testing::AsAdmin(&context);
  v1::UpdateRotationRequest update;
  update.mutable_rotation()->set_name("rotations/r");
  update.mutable_rotation()->set_specialty(type::v1::PEDIATRICS);
  v1::Rotation updated;
  ASSERT_TRUE(catalog_->UpdateRotation(&context, update, &updated).ok());
  EXPECT_THAT(search(pediatrics), ::testing::ElementsAre("rotations/r"));
  EXPECT_EQ(get("r")->rotation.specialty(), type::v1::PEDIATRICS);

  // Seats: held ones count until they lapse, with no write in between.
  SearchQuery with_seats;
  with_seats.has_seats = true;
  ASSERT_TRUE(Hold("rotations/r/sessions/s1", "applications/1", absl::Hours(1)).ok());
  EXPECT_EQ(get("r")->rotation.seats_available(), 1);
  ASSERT_TRUE(Hold("rotations/r/sessions/s1", "applications/2", absl::Hours(3)).ok());
  EXPECT_EQ(get("r")->rotation.seats_available(), 0);
  EXPECT_TRUE(search(with_seats).empty());
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(get("r")->rotation.seats_available(), 1);
  EXPECT_THAT(search(with_seats), ::testing::ElementsAre("rotations/r"));

  grpc::ClientContext archive_context;
  testing::AsAdmin(&archive_context);
  v1::ArchiveRotationRequest archive;
  archive.set_name("rotations/r");
  v1::Rotation archived;
  ASSERT_TRUE(catalog_->ArchiveRotation(&archive_context, archive, &archived).ok());
  EXPECT_TRUE(search(SearchQuery{}).empty());
  EXPECT_EQ(get("r")->rotation.state(), v1::Rotation::ARCHIVED);

  // Redis loses its data (emptied, or restarted without its latest writes): the change
  // counter goes back, and the replica reloads rather than answer from what it held.
  MakeRotation("q", ValidRotation("sites/site"));
  MakeSession("q", "s1", ValidSession(20, 2));
  ASSERT_TRUE(Publish("q").ok());
  EXPECT_THAT(search(SearchQuery{}), ::testing::ElementsAre("rotations/q"));
  redis_server_->Command({"FLUSHALL"});
  EXPECT_EQ(get("q").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(search(SearchQuery{}).empty());
  MakeSite("site", SiteIn("Queens", "NY"));
  MakeRotation("p", ValidRotation("sites/site"));
  MakeSession("p", "s1", ValidSession(20, 2));
  ASSERT_TRUE(Publish("p").ok());
  EXPECT_THAT(search(SearchQuery{}), ::testing::ElementsAre("rotations/p"));
  EXPECT_EQ(get("r").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace clerkship::catalog

// RotationIndex on its own: what search and GetRotation compute from the in-process copy,
// and how the copy follows replacements (updates, archiving) and removals.

#include "services/catalog/rotation_index.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/util/message_differencer.h"

namespace clerkship::catalog {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kDay = 20000;  // a day number; sessions start relative to it
const absl::Time kNow = absl::FromUnixMillis(1'700'000'000'000);
const int64_t kNowMs = absl::ToUnixMillis(kNow);

IndexedSession Session(const std::string& id, int64_t start_offset, int64_t capacity,
                       bool open = true) {
  IndexedSession s;
  s.id = id;
  s.start_day = kDay + start_offset;
  s.close_ms = open ? kNowMs + 86'400'000 : kNowMs - 1;
  s.capacity = capacity;
  return s;
}

IndexedRotation Rotation(const std::string& id, std::vector<std::string> terms, int64_t fee,
                         std::vector<IndexedSession> sessions,
                         v1::Rotation::State state = v1::Rotation::PUBLISHED) {
  IndexedRotation r;
  r.id = id;
  r.rotation.set_name("rotations/" + id);
  r.rotation.set_state(state);
  r.state = state;
  r.time_zone = "America/New_York";
  r.terms = std::move(terms);
  r.fee_cents = fee;
  r.sessions = std::move(sessions);
  return r;
}

// A page's rotations as messages, parsed from the wire form the index answers in.
std::vector<v1::Rotation> Parsed(const SearchPage& page) {
  std::vector<v1::Rotation> out;
  for (const RotationWire& wire : page.rotations) {
    EXPECT_TRUE(wire.ParseTo(&out.emplace_back()));
    EXPECT_EQ(wire.record->id, out.back().name().substr(10));
  }
  return out;
}

std::vector<std::string> Names(const SearchPage& page) {
  std::vector<std::string> out;
  for (const v1::Rotation& r : Parsed(page)) out.push_back(r.name().substr(10));
  return out;
}

TEST(RotationIndexTest, OrdersFiltersAndPages) {
  RotationIndex index;
  index.Upsert(Rotation("a", {"specialty:CARDIOLOGY"}, 300, {Session("s1", 10, 5)}));
  index.Upsert(Rotation("b", {"specialty:CARDIOLOGY"}, 100, {Session("s1", 30, 1)}));
  index.Upsert(Rotation("c", {"specialty:PEDIATRICS"}, 200,
                        {Session("s1", 5, 3, /*open=*/false), Session("s2", 20, 2)}));
  index.Upsert(Rotation("d", {"specialty:CARDIOLOGY"}, 50, {}, v1::Rotation::DRAFT));
  index.Upsert(Rotation("e", {"specialty:CARDIOLOGY"}, 400, {Session("s1", 1, 9, false)}));

  SearchQuery all;
  SearchPage page = index.Search(all, std::nullopt, 10, kNow);
  // By earliest open start; e has none and comes last; the draft never appears.
  EXPECT_THAT(Names(page), ElementsAre("a", "c", "b", "e"));
  EXPECT_EQ(page.total_size, 4);
  EXPECT_EQ(Parsed(page)[1].next_start_date(), DateOfDay(kDay + 20));
  EXPECT_EQ(Parsed(page)[1].seats_available(), 2);

  SearchQuery by_fee;
  by_fee.order = SearchOrder::kTotalFee;
  by_fee.max_total_fee_cents = 300;
  EXPECT_THAT(Names(index.Search(by_fee, std::nullopt, 10, kNow)), ElementsAre("b", "c", "a"));

  SearchQuery by_seats;
  by_seats.order = SearchOrder::kSeatsAvailable;
  EXPECT_THAT(Names(index.Search(by_seats, std::nullopt, 10, kNow)),
              ElementsAre("a", "c", "b", "e"));

  SearchQuery cardiology;
  cardiology.terms = {"specialty:CARDIOLOGY"};
  cardiology.start_from_day = kDay + 15;
  EXPECT_THAT(Names(index.Search(cardiology, std::nullopt, 10, kNow)), ElementsAre("b"));
  SearchQuery unknown;
  unknown.terms = {"specialty:UROLOGY"};
  EXPECT_EQ(index.Search(unknown, std::nullopt, 10, kNow).total_size, 0);

  // Pages of one continue after the cursor and say whether more follow.
  std::optional<SearchCursor> cursor;
  std::vector<std::string> walked;
  for (;;) {
    SearchPage one = index.Search(all, cursor, 1, kNow);
    ASSERT_EQ(one.rotations.size(), 1u);
    walked.push_back(Names(one)[0]);
    if (!one.more) break;
    cursor = SearchCursor{one.scores.back(), walked.back()};
  }
  EXPECT_THAT(walked, ElementsAre("a", "c", "b", "e"));
}

TEST(RotationIndexTest, SeatsCountHoldsUntilTheyLapse) {
  RotationIndex index;
  IndexedSession s = Session("s1", 10, 2);
  s.hold_expiries_ms = {kNowMs + 1000, kNowMs + 5000};
  index.Upsert(Rotation("a", {}, 0, {s}));
  SearchQuery with_seats;
  with_seats.has_seats = true;
  EXPECT_EQ(index.Search(with_seats, std::nullopt, 10, kNow).total_size, 0);
  EXPECT_EQ(index.View("a", kNow)->rotation.seats_available(), 0);
  absl::Time later = kNow + absl::Seconds(2);
  EXPECT_EQ(index.Search(with_seats, std::nullopt, 10, later).total_size, 1);
  EXPECT_EQ(index.View("a", later)->rotation.seats_available(), 1);
}

TEST(RotationIndexTest, ReplacementsMoveRotationsBetweenTermsAndOutOfSearch) {
  RotationIndex index;
  index.Upsert(Rotation("a", {"specialty:CARDIOLOGY", "state:NY"}, 0, {Session("s1", 1, 1)}));
  index.Upsert(Rotation("b", {"specialty:CARDIOLOGY", "state:TX"}, 0, {Session("s1", 2, 1)}));
  SearchQuery cardiology, pediatrics;
  cardiology.terms = {"specialty:CARDIOLOGY"};
  pediatrics.terms = {"specialty:PEDIATRICS"};
  EXPECT_THAT(Names(index.Search(cardiology, std::nullopt, 10, kNow)), ElementsAre("a", "b"));

  // An update changes a's specialty.
  index.Upsert(Rotation("a", {"specialty:PEDIATRICS", "state:NY"}, 0, {Session("s1", 1, 1)}));
  EXPECT_THAT(Names(index.Search(cardiology, std::nullopt, 10, kNow)), ElementsAre("b"));
  EXPECT_THAT(Names(index.Search(pediatrics, std::nullopt, 10, kNow)), ElementsAre("a"));

  // Archiving leaves search but not GetRotation.
  index.Upsert(Rotation("b", {"specialty:CARDIOLOGY", "state:TX"}, 0, {Session("s1", 2, 1)},
                        v1::Rotation::ARCHIVED));
  EXPECT_TRUE(index.Search(cardiology, std::nullopt, 10, kNow).rotations.empty());
  ASSERT_TRUE(index.View("b", kNow).has_value());
  EXPECT_EQ(index.View("b", kNow)->rotation.state(), v1::Rotation::ARCHIVED);

  // Removed rotations are gone from both; their slot is reused without mixing them up.
  index.Remove("a");
  EXPECT_FALSE(index.View("a", kNow).has_value());
  EXPECT_TRUE(index.Search(pediatrics, std::nullopt, 10, kNow).rotations.empty());
  index.Upsert(Rotation("c", {"specialty:PEDIATRICS"}, 0, {Session("s1", 3, 1)}));
  EXPECT_THAT(Names(index.Search(pediatrics, std::nullopt, 10, kNow)), ElementsAre("c"));
  EXPECT_EQ(index.size(), 2u);
}

// Rotations with equal sort keys come in id order, also where ids share a long prefix or
// one id is a prefix of another, and across terms intersected from several posting lists.
TEST(RotationIndexTest, EqualKeysAreOrderedById) {
  RotationIndex index;
  const std::vector<std::string> ids = {
      "b", "a-very-long-shared-prefix-2", "a-very-long-shared-prefix-10", "a-very-long-shared",
      "a-very-long-shared-prefix-1", "a-very-long-shared-prefix", "c-0", "a"};
  for (const std::string& id : ids) {
    index.Upsert(Rotation(id, {"specialty:CARDIOLOGY", "state:NY", "visa:J1"}, 100,
                          {Session("s1", 5, 1)}));
  }
  index.Upsert(Rotation("z", {"specialty:CARDIOLOGY"}, 100, {Session("s1", 5, 1)}));
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  SearchQuery by_fee;
  by_fee.order = SearchOrder::kTotalFee;
  by_fee.terms = {"visa:J1", "specialty:CARDIOLOGY", "state:NY"};
  EXPECT_EQ(Names(index.Search(by_fee, std::nullopt, 20, kNow)), sorted);
  // Page by page, the cursor continues in the same order.
  std::optional<SearchCursor> cursor;
  std::vector<std::string> walked;
  for (;;) {
    SearchPage one = index.Search(by_fee, cursor, 3, kNow);
    for (const std::string& name : Names(one)) walked.push_back(name);
    if (!one.more) break;
    cursor = SearchCursor{one.scores.back(), walked.back()};
  }
  EXPECT_EQ(walked, sorted);
}

// GetRotation and search answer with the record serialized once per change followed by the
// fields computed at read time; parsed back, that is exactly the message View builds.
TEST(RotationIndexTest, WireFormIsTheViewMessage) {
  RotationIndex index;
  IndexedRotation a = Rotation("a", {"specialty:CARDIOLOGY"}, 250, {Session("s1", 10, 3)});
  a.rotation.set_title("Cardiology \"sub-internship\" \xC3\xA9t\xC3\xA9");
  a.rotation.mutable_fees()->set_total_cents(250);
  index.Upsert(a);
  auto same_as_view = [&](absl::Time at) {
    v1::Rotation parsed;
    std::optional<RotationWire> wire = index.ViewWire("a", at);
    if (!wire || !wire->ParseTo(&parsed)) return false;
    return google::protobuf::util::MessageDifferencer::Equals(parsed, index.View("a", at)->rotation);
  };
  EXPECT_TRUE(same_as_view(kNow));
  // No open session: neither computed field is set.
  EXPECT_TRUE(same_as_view(kNow + absl::Hours(48)));

  // A replacement replaces the record; answers already handed out keep the old one.
  std::optional<RotationWire> before = index.ViewWire("a", kNow);
  a.rotation.set_title("Cardiology");
  index.Upsert(a);
  EXPECT_TRUE(same_as_view(kNow));
  v1::Rotation old_parsed, new_parsed;
  ASSERT_TRUE(before->ParseTo(&old_parsed));
  ASSERT_TRUE(index.ViewWire("a", kNow)->ParseTo(&new_parsed));
  EXPECT_NE(old_parsed.title(), new_parsed.title());
  EXPECT_EQ(new_parsed.title(), "Cardiology");
  EXPECT_EQ(new_parsed.seats_available(), 3);
  EXPECT_FALSE(index.ViewWire("missing", kNow).has_value());
}

}  // namespace
}  // namespace clerkship::catalog

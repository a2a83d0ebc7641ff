#include "services/matching/algorithm/lottery.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/session_preferences.h"
#include "tests/services/matching/algorithm/matching_test_util.h"

namespace clerkship::matching {
namespace {

using ::clerkship::matching::testing::ApplicantId;
using ::clerkship::matching::testing::DenseRound;
using ::clerkship::matching::testing::MakeInstance;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

// A lottery session (index 0, one seat) ranked by applicants `entrants` of
// `applicants`, plus a ranked session everybody lists second.
DenseRound LotteryRound(uint64_t seed, int32_t applicants,
                        const std::vector<int32_t>& entrants) {
  DenseRound round;
  round.seed = seed;
  round.capacity = {1, 1};
  round.rank_lists.assign(applicants, {1});
  for (int32_t a : entrants) round.rank_lists[a] = {0, 1};
  round.rankings = {std::nullopt, std::vector<int32_t>{}};
  return round;
}

std::vector<std::string> LotteryOrderIds(const Instance& instance,
                                         int32_t session) {
  const SessionPreferences prefs = BuildSessionPreferences(instance);
  std::vector<std::string> ids;
  for (int32_t a : prefs.Of(session)) ids.push_back(instance.applicant_ids[a]);
  return ids;
}

// Published results depend on these exact values: changing the hash or the
// ticket function silently changes every lottery ever drawn, so pin them.
// The expected values were computed with a separate Python implementation
// of the formulas documented in lottery.h (FNV-1a 64, SplitMix64 mixer).
TEST(LotteryTest, TicketsArePinned) {
  EXPECT_EQ(StableIdHash(""), 0xc3817c016ba4ff30ULL);
  EXPECT_EQ(StableIdHash("applicants/a1"), 0x1d6e1b0a5dc0d2b6ULL);
  EXPECT_EQ(LotteryTicket(42, StableIdHash("rotations/r1/sessions/s1"),
                          StableIdHash("applicants/a1")),
            0xc7c8b7a478c3a5e3ULL);
}

TEST(LotteryTest, OrderIsPinnedForAFixedRound) {
  const Instance instance =
      MakeInstance(LotteryRound(42, 6, {0, 1, 2, 3, 4, 5}));
  EXPECT_THAT(
      LotteryOrderIds(instance, 0),
      ElementsAre("applicants/a002", "applicants/a000", "applicants/a004",
                  "applicants/a005", "applicants/a003", "applicants/a001"));
}

TEST(LotteryTest, RanksExactlyTheApplicantsWhoRankedTheSessionByTicket) {
  const std::vector<int32_t> entrants = {1, 3, 4, 7, 8};
  const Instance instance = MakeInstance(LotteryRound(99, 10, entrants));
  const SessionPreferences prefs = BuildSessionPreferences(instance);
  const IndexRange order = prefs.Of(0);
  std::vector<int32_t> drawn(order.begin(), order.end());
  EXPECT_THAT(drawn, UnorderedElementsAreArray(entrants));
  const uint64_t session_hash = StableIdHash(instance.session_ids[0]);
  for (size_t k = 1; k < drawn.size(); ++k) {
    EXPECT_LT(LotteryTicket(99, session_hash,
                            StableIdHash(instance.applicant_ids[drawn[k - 1]])),
              LotteryTicket(99, session_hash,
                            StableIdHash(instance.applicant_ids[drawn[k]])));
  }
}

TEST(LotteryTest, SameSeedSameOrderDifferentSeedDifferentOrder) {
  std::vector<int32_t> everyone(20);
  for (int32_t a = 0; a < 20; ++a) everyone[a] = a;
  const auto order_1 =
      LotteryOrderIds(MakeInstance(LotteryRound(1, 20, everyone)), 0);
  const auto order_1_again =
      LotteryOrderIds(MakeInstance(LotteryRound(1, 20, everyone)), 0);
  const auto order_2 =
      LotteryOrderIds(MakeInstance(LotteryRound(2, 20, everyone)), 0);
  EXPECT_EQ(order_1, order_1_again);
  EXPECT_NE(order_1, order_2);
  EXPECT_THAT(order_2, UnorderedElementsAreArray(order_1));
}

TEST(LotteryTest, AnApplicantsDrawDoesNotDependOnWhoElseEntered) {
  // Removing entrants keeps the relative order of those who remain.
  const auto full = LotteryOrderIds(
      MakeInstance(LotteryRound(5, 12, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})),
      0);
  const auto part =
      LotteryOrderIds(MakeInstance(LotteryRound(5, 12, {1, 4, 6, 9, 11})), 0);
  std::vector<std::string> full_restricted;
  for (const std::string& id : full) {
    if (std::find(part.begin(), part.end(), id) != part.end()) {
      full_restricted.push_back(id);
    }
  }
  EXPECT_THAT(part, ElementsAreArray(full_restricted));
}

TEST(LotteryTest, DoesNotDependOnInputOrder) {
  RoundInput input;
  input.seed = 77;
  input.sessions = {{"rotations/r/sessions/lottery", 1, std::nullopt}};
  for (int i = 0; i < 8; ++i) {
    input.applicants.push_back(
        {ApplicantId(i), {"rotations/r/sessions/lottery"}});
  }
  absl::StatusOr<Instance> forward = BuildInstance(input);
  std::reverse(input.applicants.begin(), input.applicants.end());
  absl::StatusOr<Instance> backward = BuildInstance(input);
  ASSERT_TRUE(forward.ok() && backward.ok());
  EXPECT_EQ(LotteryOrderIds(*forward, 0), LotteryOrderIds(*backward, 0));
}

TEST(LotteryTest, IsFairAcrossSeeds) {
  // Each of four entrants should win about a quarter of 4000 draws; the
  // bounds are ~6 standard deviations wide.
  std::vector<int> wins(4, 0);
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    const Instance instance = MakeInstance(LotteryRound(seed, 4, {0, 1, 2, 3}));
    ++wins[BuildSessionPreferences(instance).Of(0)[0]];
  }
  for (int w : wins) {
    EXPECT_GT(w, 835);
    EXPECT_LT(w, 1165);
  }
}

TEST(LotteryTest, SplitMix64BelowStaysInRange) {
  SplitMix64 rng(3);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t x = rng.Below(7);
    ASSERT_LT(x, 7u);
    ++seen[x];
  }
  for (int count : seen) EXPECT_GT(count, 800);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.NextUnit();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace clerkship::matching

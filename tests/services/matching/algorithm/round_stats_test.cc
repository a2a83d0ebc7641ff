#include "services/matching/algorithm/round_stats.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/matching/algorithm/deferred_acceptance.h"
#include "tests/services/matching/algorithm/matching_test_util.h"

namespace clerkship::matching {
namespace {

using ::clerkship::matching::testing::DenseRound;
using ::clerkship::matching::testing::MakeInstance;
using ::testing::ElementsAre;

// The NRMP "Run a Match" example again (see deferred_acceptance_test.cc):
// Anderson and Eastman get their 1st choice, Chen and Ford their 2nd, Davis
// his 3rd; one Mercy seat stays empty.
DenseRound NrmpRunAMatch() {
  DenseRound round;
  round.capacity = {2, 2, 2};  // City, General, Mercy
  round.rank_lists = {{0}, {0, 2}, {2, 0, 1}, {0, 2, 1}, {0, 1, 2}};
  round.rankings = {std::vector<int32_t>{3, 0, 1, 2, 4},
                    std::vector<int32_t>{3, 0, 4, 2},
                    std::vector<int32_t>{1, 4}};
  return round;
}

TEST(RoundStatsTest, CountsTheNrmpExample) {
  const Instance instance = MakeInstance(NrmpRunAMatch());
  const RoundStats stats =
      ComputeRoundStats(instance, RunDeferredAcceptance(instance));
  EXPECT_EQ(stats.applicants, 5);
  EXPECT_EQ(stats.sessions, 3);
  EXPECT_EQ(stats.lottery_sessions, 0);
  EXPECT_EQ(stats.seats, 6);
  EXPECT_EQ(stats.matched, 5);
  EXPECT_EQ(stats.unmatched, 0);
  EXPECT_DOUBLE_EQ(stats.fill_rate, 0.833333);
  EXPECT_THAT(stats.filled_per_session, ElementsAre(2, 2, 1));
  EXPECT_THAT(stats.matches_by_choice, ElementsAre(2, 2, 1));
}

TEST(RoundStatsTest, HandlesUnmatchedLotteryAndSeatlessRounds) {
  DenseRound round;
  round.capacity = {0, 0};
  round.rank_lists = {{0, 1}, {}};
  round.rankings = {std::nullopt, std::vector<int32_t>{0}};
  const Instance instance = MakeInstance(round);
  const RoundStats stats =
      ComputeRoundStats(instance, RunDeferredAcceptance(instance));
  EXPECT_EQ(stats.lottery_sessions, 1);
  EXPECT_EQ(stats.matched, 0);
  EXPECT_EQ(stats.unmatched, 2);
  EXPECT_EQ(stats.fill_rate, 0);  // no seats: no division by zero
  EXPECT_THAT(stats.matches_by_choice, ElementsAre(0, 0));
}

TEST(RoundStatsTest, ToleratesAMalformedMatching) {
  const Instance instance = MakeInstance(NrmpRunAMatch());
  // Out-of-range index counts as unmatched; a placement off the list still
  // fills a seat but is left out of the histogram.
  const RoundStats stats =
      ComputeRoundStats(instance, Matching{{9, 1, kUnmatched, 0, 0}});
  EXPECT_EQ(stats.matched, 3);
  EXPECT_EQ(stats.unmatched, 2);
  EXPECT_THAT(stats.filled_per_session, ElementsAre(2, 1, 0));
  EXPECT_THAT(stats.matches_by_choice, ElementsAre(2, 0, 0));
}

}  // namespace
}  // namespace clerkship::matching

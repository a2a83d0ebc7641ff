#include "services/matching/algorithm/deferred_acceptance.h"

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/matching/algorithm/session_preferences.h"
#include "services/matching/algorithm/verify.h"
#include "tests/services/matching/algorithm/matching_test_util.h"

namespace clerkship::matching {
namespace {

using ::clerkship::matching::testing::AllStableMatchings;
using ::clerkship::matching::testing::DenseRound;
using ::clerkship::matching::testing::IsStableByDefinition;
using ::clerkship::matching::testing::MakeInstance;
using ::clerkship::matching::testing::PositionIn;
using ::clerkship::matching::testing::RandomSmallRound;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// Session orders the brute force should use: the coordinator's ranking taken
// from the test's own data, and the library's lottery order only for
// sessions without one (the lottery itself is tested in lottery_test.cc).
std::vector<std::vector<int32_t>> SessionOrders(const DenseRound& round,
                                                const Instance& instance) {
  const SessionPreferences prefs = BuildSessionPreferences(instance);
  std::vector<std::vector<int32_t>> orders(round.capacity.size());
  for (size_t s = 0; s < orders.size(); ++s) {
    if (round.rankings[s].has_value()) {
      orders[s] = *round.rankings[s];
    } else {
      IndexRange order = prefs.Of(static_cast<int32_t>(s));
      orders[s].assign(order.begin(), order.end());
    }
  }
  return orders;
}

// Gale and Shapley (1962), example 1: three men A, B, C and three women
// α, β, γ whose preferences are cyclic. Each side's first choices form a
// stable matching, as does everyone's second choice. Men are applicants,
// women are sessions with one seat.
DenseRound GaleShapleyExample1() {
  enum { kA, kB, kC };
  enum { kAlpha, kBeta, kGamma };
  DenseRound round;
  round.capacity = {1, 1, 1};
  round.rank_lists = {
      {kAlpha, kBeta, kGamma},  // A
      {kBeta, kGamma, kAlpha},  // B
      {kGamma, kAlpha, kBeta},  // C
  };
  round.rankings = {
      std::vector<int32_t>{kB, kC, kA},  // α
      std::vector<int32_t>{kC, kA, kB},  // β
      std::vector<int32_t>{kA, kB, kC},  // γ
  };
  return round;
}

TEST(DeferredAcceptanceTest, GaleShapleyExample1GivesApplicantsFirstChoice) {
  const DenseRound round = GaleShapleyExample1();
  const Instance instance = MakeInstance(round);
  const Matching matching = RunDeferredAcceptance(instance);
  EXPECT_THAT(matching.session_of_applicant, ElementsAre(0, 1, 2));

  // The paper's three stable matchings, and no others.
  const auto stable = AllStableMatchings(round.capacity, round.rank_lists,
                                         SessionOrders(round, instance));
  EXPECT_THAT(stable,
              UnorderedElementsAre(ElementsAre(0, 1, 2), ElementsAre(1, 2, 0),
                                   ElementsAre(2, 0, 1)));
}

// Gale and Shapley (1962), example 2: four men A–D, four women α–δ; the
// only stable matching is A–γ, B–δ, C–α, D–β, reached only after a chain
// of rejections.
TEST(DeferredAcceptanceTest, GaleShapleyExample2HasItsUniqueStableMatching) {
  enum { kA, kB, kC, kD };
  enum { kAlpha, kBeta, kGamma, kDelta };
  DenseRound round;
  round.capacity = {1, 1, 1, 1};
  round.rank_lists = {
      {kAlpha, kBeta, kGamma, kDelta},  // A
      {kAlpha, kDelta, kGamma, kBeta},  // B
      {kBeta, kAlpha, kGamma, kDelta},  // C
      {kDelta, kBeta, kGamma, kAlpha},  // D
  };
  round.rankings = {
      std::vector<int32_t>{kD, kC, kA, kB},  // α
      std::vector<int32_t>{kB, kD, kA, kC},  // β
      std::vector<int32_t>{kD, kA, kB, kC},  // γ
      std::vector<int32_t>{kC, kB, kA, kD},  // δ
  };
  const Instance instance = MakeInstance(round);
  const Matching matching = RunDeferredAcceptance(instance);
  EXPECT_THAT(matching.session_of_applicant,
              ElementsAre(kGamma, kDelta, kAlpha, kBeta));
  const auto stable = AllStableMatchings(round.capacity, round.rank_lists,
                                         SessionOrders(round, instance));
  EXPECT_THAT(stable, ElementsAre(ElementsAre(kGamma, kDelta, kAlpha, kBeta)));
}

// The NRMP's "Run a Match" worked example: five applicants, three programs
// with two positions each, short and strategic rank lists on both sides.
// Published outcome: Anderson and Eastman at City, Chen at Mercy (one Mercy
// position unfilled), Davis and Ford at General.
TEST(DeferredAcceptanceTest, NrmpRunAMatchExample) {
  enum { kAnderson, kChen, kDavis, kEastman, kFord };
  enum { kCity, kGeneral, kMercy };
  DenseRound round;
  round.capacity = {2, 2, 2};
  round.rank_lists = {
      {kCity},                    // Anderson
      {kCity, kMercy},            // Chen
      {kMercy, kCity, kGeneral},  // Davis
      {kCity, kMercy, kGeneral},  // Eastman
      {kCity, kGeneral, kMercy},  // Ford
  };
  round.rankings = {
      std::vector<int32_t>{kEastman, kAnderson, kChen, kDavis, kFord},  // City
      std::vector<int32_t>{kEastman, kAnderson, kFord, kDavis},  // General
      std::vector<int32_t>{kChen, kFord},                        // Mercy
  };
  const Instance instance = MakeInstance(round);
  const Matching matching = RunDeferredAcceptance(instance);
  EXPECT_THAT(matching.session_of_applicant,
              ElementsAre(kCity, kMercy, kGeneral, kCity, kGeneral));
  EXPECT_TRUE(VerifyMatching(instance, matching).stable());
}

// A hospitals/residents case worked by hand: a stronger resident arriving
// late displaces the weakest holder, who cascades down their list and in
// turn displaces someone else.
TEST(DeferredAcceptanceTest, DisplacementCascadesThroughCapacities) {
  // Sessions: 0 (2 seats), 1 (1 seat), 2 (1 seat).
  // r0: 0, 1    r1: 0, 2    r2: 1, 2    r3: 0, 1, 2    r4: 2
  // Session 0 ranks r3 > r0 > r1; session 1 ranks r1 > r0 > r2 > r3;
  // session 2 ranks r2 > r4 > r1 > r3.
  DenseRound round;
  round.capacity = {2, 1, 1};
  round.rank_lists = {{0, 1}, {0, 2}, {1, 2}, {0, 1, 2}, {2}};
  round.rankings = {
      std::vector<int32_t>{3, 0, 1},
      std::vector<int32_t>{1, 0, 2, 3},
      std::vector<int32_t>{2, 4, 1, 3},
  };
  // By hand: r0, r1 held at 0; r2 at 1; r3 displaces r1 at 0; r1 tries 2
  // (free) and is held; r4 displaces r1 at 2 (r4 > r1 there); r1 is out of
  // choices. Final: r0->0, r1 unmatched, r2->1, r3->0, r4->2.
  const Instance instance = MakeInstance(round);
  EXPECT_THAT(RunDeferredAcceptance(instance).session_of_applicant,
              ElementsAre(0, kUnmatched, 1, 0, 2));
}

TEST(DeferredAcceptanceTest, UnrankedPairsAreUnacceptableOnEitherSide) {
  // a0 ranks only s0, which does not rank a0; s1 ranks a0 first but a0 did
  // not rank it. a1 ranks s0 and s0 ranks a1: the only acceptable pair.
  DenseRound round;
  round.capacity = {3, 3};
  round.rank_lists = {{0}, {0}};
  round.rankings = {std::vector<int32_t>{1}, std::vector<int32_t>{0, 1}};
  EXPECT_THAT(RunDeferredAcceptance(MakeInstance(round)).session_of_applicant,
              ElementsAre(kUnmatched, 0));
}

TEST(DeferredAcceptanceTest, ZeroCapacityAndEmptyRankingAcceptNobody) {
  DenseRound round;
  round.capacity = {0, 2, 1};
  round.rank_lists = {{0, 1, 2}, {2}, {}};
  round.rankings = {std::vector<int32_t>{0, 1},  // no seats
                    std::vector<int32_t>{},      // ranked nobody
                    std::vector<int32_t>{1, 0}};
  EXPECT_THAT(RunDeferredAcceptance(MakeInstance(round)).session_of_applicant,
              ElementsAre(kUnmatched, 2, kUnmatched));
}

TEST(DeferredAcceptanceTest, EmptyRound) {
  EXPECT_TRUE(RunDeferredAcceptance(MakeInstance(DenseRound{}))
                  .session_of_applicant.empty());
}

TEST(DeferredAcceptanceTest, LotterySessionRanksEveryoneWhoRankedIt) {
  // One seat, no ranking: whoever draws the better ticket wins it, and the
  // loser falls through to their second choice.
  DenseRound round;
  round.seed = 2027;
  round.capacity = {1, 1};
  round.rank_lists = {{0, 1}, {0, 1}};
  round.rankings = {std::nullopt, std::vector<int32_t>{0, 1}};
  const Instance instance = MakeInstance(round);
  const SessionPreferences prefs = BuildSessionPreferences(instance);
  const int32_t winner = prefs.Of(0)[0];
  const Matching matching = RunDeferredAcceptance(instance);
  EXPECT_EQ(matching.session_of_applicant[winner], 0);
  EXPECT_EQ(matching.session_of_applicant[1 - winner], 1);
}

// Random small rounds against the brute force: the result is stable and
// within capacity by the definition, and every applicant gets the best
// session they hold in any stable matching (applicant optimality).
TEST(DeferredAcceptanceTest, RandomSmallRoundsAreStableAndApplicantOptimal) {
  std::mt19937_64 rng(20270301);
  int with_several_stable_matchings = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    // Mix partial lists (unacceptable pairs, empty capacities) with complete
    // ones (where several stable matchings are more common).
    const bool complete = trial % 3 != 0;
    const int32_t applicants = complete ? 3 + static_cast<int32_t>(rng() % 3)
                                        : 1 + static_cast<int32_t>(rng() % 6);
    const int32_t sessions = complete ? 2 + static_cast<int32_t>(rng() % 3)
                                      : 1 + static_cast<int32_t>(rng() % 4);
    const int32_t max_capacity = complete ? 1 + (trial % 3 == 2) : 2;
    const DenseRound round =
        RandomSmallRound(rng, applicants, sessions, max_capacity,
                         /*lottery_share=*/0.25, complete);
    const Instance instance = MakeInstance(round);
    const auto orders = SessionOrders(round, instance);
    const Matching matching = RunDeferredAcceptance(instance);
    const std::vector<int32_t>& got = matching.session_of_applicant;

    std::string why;
    ASSERT_TRUE(IsStableByDefinition(round.capacity, round.rank_lists, orders,
                                     got, &why))
        << "trial " << trial << ": " << why;

    const auto stable =
        AllStableMatchings(round.capacity, round.rank_lists, orders);
    ASSERT_FALSE(stable.empty()) << "trial " << trial;
    ASSERT_NE(std::find(stable.begin(), stable.end(), got), stable.end())
        << "trial " << trial;
    with_several_stable_matchings += stable.size() > 1;
    for (int32_t a = 0; a < applicants; ++a) {
      // Best stable partner: smallest position on a's list; unmatched is
      // worst.
      auto position = [&](int32_t s) {
        return s == kUnmatched ? 1 << 20 : PositionIn(round.rank_lists[a], s);
      };
      int32_t best = kUnmatched;
      for (const auto& m : stable) {
        if (position(m[a]) < position(best)) best = m[a];
      }
      ASSERT_EQ(got[a], best) << "trial " << trial << ", applicant " << a;
      // Rural hospitals theorem: the same applicants are matched in every
      // stable matching.
      for (const auto& m : stable) {
        ASSERT_EQ(m[a] == kUnmatched, got[a] == kUnmatched)
            << "trial " << trial;
      }
    }
  }
  // Optimality means something only where there was a choice.
  EXPECT_GT(with_several_stable_matchings, 150);
}

// Larger random rounds, beyond brute-force enumeration, still pass the
// definition-level stability check.
TEST(DeferredAcceptanceTest, RandomMediumRoundsAreStableByDefinition) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    const DenseRound round = RandomSmallRound(rng, 40, 12, 4, 0.3);
    const Instance instance = MakeInstance(round);
    const Matching matching = RunDeferredAcceptance(instance);
    std::string why;
    EXPECT_TRUE(IsStableByDefinition(round.capacity, round.rank_lists,
                                     SessionOrders(round, instance),
                                     matching.session_of_applicant, &why))
        << "trial " << trial << ": " << why;
  }
}

}  // namespace
}  // namespace clerkship::matching

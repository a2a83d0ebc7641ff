#include "services/matching/algorithm/verify.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/instance_generator.h"
#include "services/matching/algorithm/session_preferences.h"
#include "tests/services/matching/algorithm/matching_test_util.h"

namespace clerkship::matching {
namespace {

using ::clerkship::matching::testing::ApplicantId;
using ::clerkship::matching::testing::DenseRound;
using ::clerkship::matching::testing::IsStableByDefinition;
using ::clerkship::matching::testing::MakeInstance;
using ::clerkship::matching::testing::RandomSmallRound;
using ::clerkship::matching::testing::SessionId;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Two sessions with one seat each; both applicants put session 0 first and
// session 0 prefers applicant 1.
DenseRound TwoByTwo() {
  DenseRound round;
  round.capacity = {1, 1};
  round.rank_lists = {{0, 1}, {0, 1}};
  round.rankings = {std::vector<int32_t>{1, 0}, std::vector<int32_t>{0, 1}};
  return round;
}

TEST(VerifyTest, AcceptsTheStableMatching) {
  const Instance instance = MakeInstance(TwoByTwo());
  const Verdict verdict = VerifyMatching(instance, Matching{{1, 0}});
  EXPECT_TRUE(verdict.stable());
  EXPECT_EQ(verdict.violation, Violation::kNone);
  EXPECT_THAT(verdict.explanation, HasSubstr("stable"));
}

TEST(VerifyTest, FindsBlockingPairAgainstAWeakerHolder) {
  // Applicant 0 holds session 0, which prefers applicant 1, who would
  // rather have session 0 than session 1.
  const Instance instance = MakeInstance(TwoByTwo());
  const Verdict verdict = VerifyMatching(instance, Matching{{0, 1}});
  EXPECT_EQ(verdict.violation, Violation::kBlockingPair);
  EXPECT_EQ(verdict.applicant, 1);
  EXPECT_EQ(verdict.session, 0);
  EXPECT_THAT(verdict.explanation,
              AllOf(HasSubstr(ApplicantId(1)), HasSubstr(SessionId(0)),
                    HasSubstr("ranks " + SessionId(0) + " 1st"),
                    HasSubstr("2nd choice"), HasSubstr("ranks them 1st"),
                    HasSubstr("ahead of " + ApplicantId(0))));
}

TEST(VerifyTest, FindsBlockingPairWithAFreeSeat) {
  const Instance instance = MakeInstance(TwoByTwo());
  // Applicant 0 left unmatched: session 0 rightly prefers applicant 1, but
  // session 1 has room and ranks applicant 0.
  const Verdict verdict = VerifyMatching(instance, Matching{{kUnmatched, 0}});
  EXPECT_EQ(verdict.violation, Violation::kBlockingPair);
  EXPECT_EQ(verdict.applicant, 0);
  EXPECT_EQ(verdict.session, 1);
  EXPECT_THAT(verdict.explanation,
              AllOf(HasSubstr("is unmatched"), HasSubstr("free seat"),
                    HasSubstr("0 of 1 filled")));
}

TEST(VerifyTest, FindsOverCapacity) {
  const Instance instance = MakeInstance(TwoByTwo());
  const Verdict verdict = VerifyMatching(instance, Matching{{0, 0}});
  EXPECT_EQ(verdict.violation, Violation::kOverCapacity);
  EXPECT_EQ(verdict.session, 0);
  EXPECT_THAT(verdict.explanation,
              AllOf(HasSubstr(SessionId(0)), HasSubstr("1 seats but 2")));
}

TEST(VerifyTest, FindsMatchNotOnTheApplicantsList) {
  DenseRound round = TwoByTwo();
  round.rank_lists[0] = {1};
  const Instance instance = MakeInstance(round);
  const Verdict verdict = VerifyMatching(instance, Matching{{0, 1}});
  EXPECT_EQ(verdict.violation, Violation::kNotOnRankList);
  EXPECT_EQ(verdict.applicant, 0);
  EXPECT_THAT(verdict.explanation, HasSubstr("not on their rank list"));
}

TEST(VerifyTest, FindsMatchTheSessionDidNotRank) {
  DenseRound round = TwoByTwo();
  round.rankings[0] = std::vector<int32_t>{1};
  const Instance instance = MakeInstance(round);
  const Verdict verdict = VerifyMatching(instance, Matching{{0, 1}});
  EXPECT_EQ(verdict.violation, Violation::kNotRankedBySession);
  EXPECT_EQ(verdict.applicant, 0);
  EXPECT_EQ(verdict.session, 0);
  EXPECT_THAT(verdict.explanation, HasSubstr("not on the session's ranking"));
}

TEST(VerifyTest, SessionWithoutSeatsBlocksNobody) {
  // Session 0 ranks both applicants but has no seats; leaving them where
  // they are is stable.
  DenseRound round;
  round.capacity = {0, 1};
  round.rank_lists = {{0, 1}, {0}};
  round.rankings = {std::vector<int32_t>{0, 1}, std::vector<int32_t>{0}};
  const Instance instance = MakeInstance(round);
  EXPECT_TRUE(VerifyMatching(instance, Matching{{1, kUnmatched}}).stable());
}

TEST(VerifyTest, FindsMalformedMatchings) {
  const Instance instance = MakeInstance(TwoByTwo());
  EXPECT_EQ(VerifyMatching(instance, Matching{{0}}).violation,
            Violation::kMalformed);
  const Verdict out_of_range = VerifyMatching(instance, Matching{{0, 7}});
  EXPECT_EQ(out_of_range.violation, Violation::kMalformed);
  EXPECT_THAT(out_of_range.explanation, HasSubstr("does not exist"));
}

// The verifier agrees with the definition-level brute force on arbitrary
// (mostly unstable) matchings, in both directions.
TEST(VerifyTest, AgreesWithBruteForceOnRandomMatchings) {
  std::mt19937_64 rng(11);
  int stable_seen = 0;
  int unstable_seen = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int32_t applicants = 1 + static_cast<int32_t>(rng() % 6);
    const int32_t sessions = 1 + static_cast<int32_t>(rng() % 4);
    const DenseRound round =
        RandomSmallRound(rng, applicants, sessions, 2, 0.2);
    const Instance instance = MakeInstance(round);
    const SessionPreferences prefs = BuildSessionPreferences(instance);
    std::vector<std::vector<int32_t>> orders;
    for (int32_t s = 0; s < instance.num_sessions(); ++s) {
      orders.emplace_back(prefs.Of(s).begin(), prefs.Of(s).end());
    }
    // Random assignment, sometimes the algorithm's own result so that
    // stable cases are well represented.
    Matching matching;
    if (trial % 3 == 0) {
      matching = RunDeferredAcceptance(instance);
    } else {
      for (size_t a = 0; a < round.rank_lists.size(); ++a) {
        const int32_t pick =
            static_cast<int32_t>(rng() % (round.capacity.size() + 1)) - 1;
        matching.session_of_applicant.push_back(pick);
      }
    }
    std::string why;
    const bool expected =
        IsStableByDefinition(round.capacity, round.rank_lists, orders,
                             matching.session_of_applicant, &why);
    const Verdict verdict = VerifyMatching(instance, matching);
    ASSERT_EQ(verdict.stable(), expected)
        << "trial " << trial << ": brute force says " << why
        << "; verifier says " << verdict.explanation;
    (expected ? stable_seen : unstable_seen)++;
  }
  EXPECT_GT(stable_seen, 500);
  EXPECT_GT(unstable_seen, 500);
}

// On a generated round, knocking out any one placement plants a blocking
// pair (the applicant and the seat just vacated), which must be reported.
TEST(VerifyTest, FindsAPlantedVacancyInALargeRound) {
  GeneratorOptions options;
  options.applicants = 4000;
  options.sessions = 500;
  options.seats = 3300;
  options.seed = 5;
  absl::StatusOr<Instance> instance = GenerateInstance(options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  Matching matching = RunDeferredAcceptance(*instance);
  ASSERT_TRUE(VerifyMatching(*instance, matching).stable());
  int planted = 0;
  for (int32_t a = 0; a < instance->num_applicants() && planted < 25; a += 97) {
    const int32_t s = matching.session_of_applicant[a];
    if (s == kUnmatched) continue;
    ++planted;
    Matching broken = matching;
    broken.session_of_applicant[a] = kUnmatched;
    const Verdict verdict = VerifyMatching(*instance, broken);
    EXPECT_EQ(verdict.violation, Violation::kBlockingPair);
    // Only the applicant (now free to take any session that would have
    // them) and the vacated session changed, so any blocking pair involves
    // one of them.
    EXPECT_TRUE(verdict.applicant == a || verdict.session == s)
        << verdict.explanation;
  }
  EXPECT_EQ(planted, 25);
}

}  // namespace
}  // namespace clerkship::matching

#include "services/matching/algorithm/placement_round.h"

#include <algorithm>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "services/matching/algorithm/instance_generator.h"
#include "services/matching/algorithm/round_json.h"

namespace clerkship::matching {
namespace {

GeneratorOptions RegionalRound(uint64_t seed) {
  GeneratorOptions options;
  options.applicants = 5000;
  options.sessions = 640;
  options.seats = 4100;
  // Many lottery sessions, so the seed has something to decide.
  options.lottery_fraction = 0.4;
  options.seed = seed;
  return options;
}

TEST(PlacementRoundTest, SameInputsAndSeedGiveByteIdenticalResults) {
  absl::StatusOr<Instance> instance = GenerateInstance(RegionalRound(8));
  ASSERT_TRUE(instance.ok());
  const RoundOutcome first = RunPlacementRound(*instance);
  ASSERT_TRUE(first.verdict.stable()) << first.verdict.explanation;
  const std::string first_json = WriteRoundOutcomeJson(*instance, first);
  EXPECT_EQ(WriteRoundOutcomeJson(*instance, RunPlacementRound(*instance)),
            first_json);

  // Through the export and back, as the replay tool does.
  absl::StatusOr<Instance> replayed = ParseRoundJson(WriteRoundJson(*instance));
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(WriteRoundOutcomeJson(*replayed, RunPlacementRound(*replayed)),
            first_json);
}

TEST(PlacementRoundTest, ResultDoesNotDependOnTheOrderInputsAreListed) {
  absl::StatusOr<Instance> instance = GenerateInstance(RegionalRound(9));
  ASSERT_TRUE(instance.ok());
  absl::StatusOr<RoundInput> input =
      ParseRoundInputJson(WriteRoundJson(*instance));
  ASSERT_TRUE(input.ok());
  // Shuffle who comes first in the export (as an unordered store would).
  std::mt19937_64 rng(1);
  std::shuffle(input->applicants.begin(), input->applicants.end(), rng);
  std::shuffle(input->sessions.begin(), input->sessions.end(), rng);
  absl::StatusOr<Instance> shuffled = BuildInstance(*input);
  ASSERT_TRUE(shuffled.ok());
  EXPECT_EQ(WriteRoundOutcomeJson(*shuffled, RunPlacementRound(*shuffled)),
            WriteRoundOutcomeJson(*instance, RunPlacementRound(*instance)));
}

TEST(PlacementRoundTest, ADifferentSeedRedrawsTheLotteries) {
  absl::StatusOr<Instance> instance = GenerateInstance(RegionalRound(10));
  ASSERT_TRUE(instance.ok());
  const RoundOutcome first = RunPlacementRound(*instance);
  Instance reseeded = *instance;
  reseeded.seed = instance->seed + 1;
  const RoundOutcome second = RunPlacementRound(reseeded);
  EXPECT_TRUE(second.verdict.stable());
  EXPECT_NE(first.matching, second.matching);
  // The seed is the only difference, so it must be the lotteries that moved
  // someone: some lottery session holds a different set of applicants.
  bool lottery_holders_changed = false;
  for (int32_t a = 0; a < instance->num_applicants(); ++a) {
    for (int32_t s : {first.matching.session_of_applicant[a],
                      second.matching.session_of_applicant[a]}) {
      if (s != kUnmatched && !instance->HasRanking(s) &&
          first.matching.session_of_applicant[a] !=
              second.matching.session_of_applicant[a]) {
        lottery_holders_changed = true;
      }
    }
  }
  EXPECT_TRUE(lottery_holders_changed);
}

}  // namespace
}  // namespace clerkship::matching

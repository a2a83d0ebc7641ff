#include "services/matching/algorithm/instance_generator.h"

#include <algorithm>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/matching/algorithm/placement_round.h"
#include "services/matching/algorithm/round_json.h"

namespace clerkship::matching {
namespace {

using ::testing::HasSubstr;

TEST(InstanceGeneratorTest, NationalScaleHasTheRequestedShape) {
  const GeneratorOptions options;  // national defaults
  absl::StatusOr<Instance> instance = GenerateInstance(options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_TRUE(ValidateInstance(*instance).ok());
  EXPECT_EQ(instance->num_applicants(), 52000);
  EXPECT_EQ(instance->num_sessions(), 6600);
  EXPECT_EQ(instance->TotalSeats(), 43000);
  EXPECT_EQ(*std::min_element(instance->session_capacity.begin(),
                              instance->session_capacity.end()),
            1);

  const double mean_ranks =
      static_cast<double>(instance->rank_lists.size()) / 52000;
  EXPECT_NEAR(mean_ranks, 12.0, 0.2);

  // Popularity skew: the most ranked session draws far more applicants
  // than the median one.
  std::vector<int32_t> ranked_by(6600, 0);
  for (int32_t s : instance->rank_lists) ++ranked_by[s];
  std::vector<int32_t> sorted = ranked_by;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_GT(sorted.back(), 20 * sorted[sorted.size() / 2]);

  int32_t lottery = 0;
  size_t longest_ranking = 0;
  for (int32_t s = 0; s < 6600; ++s) {
    lottery += !instance->HasRanking(s);
    longest_ranking =
        std::max(longest_ranking, instance->SessionRanking(s).size());
  }
  EXPECT_EQ(longest_ranking, 90u);
  EXPECT_NEAR(lottery / 6600.0, 0.05, 0.015);

  // It is a realistic round: stable, most seats filled, not everyone placed.
  const RoundOutcome outcome = RunPlacementRound(*instance);
  EXPECT_TRUE(outcome.verdict.stable()) << outcome.verdict.explanation;
  EXPECT_GT(outcome.stats.fill_rate, 0.8);
  EXPECT_GT(outcome.stats.unmatched, 9000);
}

TEST(InstanceGeneratorTest, SameSeedSameRoundOtherSeedOtherRound) {
  GeneratorOptions options;
  options.applicants = 500;
  options.sessions = 80;
  options.seats = 400;
  options.seed = 3;
  const std::string first = WriteRoundJson(*GenerateInstance(options));
  EXPECT_EQ(WriteRoundJson(*GenerateInstance(options)), first);
  options.seed = 4;
  EXPECT_NE(WriteRoundJson(*GenerateInstance(options)), first);
}

TEST(InstanceGeneratorTest, TinyRoundsTerminateAndStayValid) {
  // More ranks asked for than sessions exist; fewer seats than sessions.
  GeneratorOptions options;
  options.applicants = 10;
  options.sessions = 3;
  options.seats = 2;
  options.ranks_per_applicant = 12;
  absl::StatusOr<Instance> instance = GenerateInstance(options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->TotalSeats(), 2);
  for (int32_t a = 0; a < 10; ++a) EXPECT_EQ(instance->RankList(a).size(), 3u);
}

TEST(InstanceGeneratorTest, RejectsImpossibleOptions) {
  GeneratorOptions options;
  options.sessions = 0;
  EXPECT_THAT(std::string(GenerateInstance(options).status().message()),
              HasSubstr("at least one session"));
  options = GeneratorOptions();
  options.lottery_fraction = 1.5;
  EXPECT_FALSE(GenerateInstance(options).ok());
  options = GeneratorOptions();
  options.applicants = -1;
  EXPECT_FALSE(GenerateInstance(options).ok());
}

}  // namespace
}  // namespace clerkship::matching

#include "services/matching/algorithm/instance.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clerkship::matching {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RoundInput SmallInput() {
  RoundInput input;
  input.seed = 9;
  input.sessions = {
      {"rotations/r2/sessions/s1", 1, std::vector<std::string>{"applicants/b"}},
      {"rotations/r1/sessions/s1", 2, std::nullopt},
  };
  input.applicants = {
      {"applicants/b",
       {"rotations/r1/sessions/s1", "rotations/r2/sessions/s1"}},
      {"applicants/a", {"rotations/r1/sessions/s1"}},
  };
  return input;
}

TEST(BuildInstanceTest, IndexesIdsInByteOrder) {
  absl::StatusOr<Instance> instance = BuildInstance(SmallInput());
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->seed, 9u);
  EXPECT_THAT(instance->applicant_ids,
              ElementsAre("applicants/a", "applicants/b"));
  EXPECT_THAT(instance->session_ids, ElementsAre("rotations/r1/sessions/s1",
                                                 "rotations/r2/sessions/s1"));
  EXPECT_THAT(instance->session_capacity, ElementsAre(2, 1));
  // Rank lists keep their order, translated to the new indices.
  EXPECT_THAT(std::vector<int32_t>(instance->RankList(1).begin(),
                                   instance->RankList(1).end()),
              ElementsAre(0, 1));
  EXPECT_FALSE(instance->HasRanking(0));
  EXPECT_TRUE(instance->HasRanking(1));
  EXPECT_THAT(std::vector<int32_t>(instance->SessionRanking(1).begin(),
                                   instance->SessionRanking(1).end()),
              ElementsAre(1));
  EXPECT_EQ(instance->TotalSeats(), 3);
}

struct BadInputCase {
  std::string name;
  void (*mutate)(RoundInput*);
  std::string message;
};

class BuildInstanceRejectsTest : public ::testing::TestWithParam<BadInputCase> {
};

TEST_P(BuildInstanceRejectsTest, WithAMessageNamingTheInput) {
  RoundInput input = SmallInput();
  GetParam().mutate(&input);
  absl::StatusOr<Instance> instance = BuildInstance(input);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(instance.status().message()),
              HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    BadInputs, BuildInstanceRejectsTest,
    ::testing::Values(
        BadInputCase{
            "DuplicateSession",
            [](RoundInput* in) { in->sessions[1].id = in->sessions[0].id; },
            "appears more than once"},
        BadInputCase{
            "DuplicateApplicant",
            [](RoundInput* in) { in->applicants[1].id = in->applicants[0].id; },
            "\"applicants/b\" appears more than once"},
        BadInputCase{"EmptyId",
                     [](RoundInput* in) { in->applicants[1].id = ""; },
                     "applicants[1]: id is empty"},
        BadInputCase{"NegativeCapacity",
                     [](RoundInput* in) { in->sessions[0].capacity = -1; },
                     "sessions[0] (rotations/r2/sessions/s1): capacity must "
                     "not be negative"},
        BadInputCase{"UnknownSessionInRankList",
                     [](RoundInput* in) {
                       in->applicants[1].rank_list.push_back("rotations/x");
                     },
                     "applicants[1] (applicants/a): rankList[1] names "
                     "\"rotations/x\", which is not a session of this round"},
        BadInputCase{"RepeatedSessionInRankList",
                     [](RoundInput* in) {
                       in->applicants[0].rank_list.push_back(
                           "rotations/r1/sessions/s1");
                     },
                     "rankList[2] repeats \"rotations/r1/sessions/s1\" "
                     "already at rankList[0]"},
        BadInputCase{"UnknownApplicantInRanking",
                     [](RoundInput* in) {
                       in->sessions[0].ranking->push_back("applicants/zed");
                     },
                     "sessions[0] (rotations/r2/sessions/s1): ranking[1] names "
                     "\"applicants/zed\", which is not an applicant"},
        BadInputCase{"RepeatedApplicantInRanking",
                     [](RoundInput* in) {
                       in->sessions[0].ranking->push_back("applicants/b");
                     },
                     "ranking[1] repeats \"applicants/b\""}),
    [](const ::testing::TestParamInfo<BadInputCase>& info) {
      return info.param.name;
    });

TEST(ValidateInstanceTest, RejectsStructuralDamage) {
  absl::StatusOr<Instance> built = BuildInstance(SmallInput());
  ASSERT_TRUE(built.ok());
  EXPECT_TRUE(ValidateInstance(*built).ok());

  Instance out_of_range = *built;
  out_of_range.rank_lists[0] = 5;
  EXPECT_THAT(std::string(ValidateInstance(out_of_range).message()),
              HasSubstr("does not exist"));

  Instance lottery_with_ranking = *built;
  lottery_with_ranking.session_has_ranking[1] = 0;
  EXPECT_THAT(std::string(ValidateInstance(lottery_with_ranking).message()),
              HasSubstr("marked as unranked"));

  Instance bad_offsets = *built;
  bad_offsets.rank_list_begin.back() = 1;
  EXPECT_FALSE(ValidateInstance(bad_offsets).ok());

  Instance missing_capacity = *built;
  missing_capacity.session_capacity.pop_back();
  EXPECT_FALSE(ValidateInstance(missing_capacity).ok());

  // A renamed id whose lottery key was not re-derived would silently change
  // the lottery; validation catches it.
  Instance stale_key = *built;
  stale_key.applicant_ids[0] = "applicants/a-renamed";
  EXPECT_THAT(std::string(ValidateInstance(stale_key).message()),
              HasSubstr("lottery key does not match"));

  Instance duplicate_in_list = *built;
  duplicate_in_list.rank_lists[2] = duplicate_in_list.rank_lists[1];
  EXPECT_THAT(std::string(ValidateInstance(duplicate_in_list).message()),
              HasSubstr("more than once"));
}

}  // namespace
}  // namespace clerkship::matching

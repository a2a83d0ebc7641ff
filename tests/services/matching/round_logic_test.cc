// Round rules without a server: request validation, inputs → instance, outcome
// → results and statistics.

#include "services/matching/round_logic.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/time/clock.h"
#include "common/status/status.h"
#include "common/util/ids.h"

namespace clerkship::matching {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::set<std::string> Fields(const absl::Status& s) {
  std::set<std::string> out;
  for (const FieldViolation& v : FieldViolationsOf(s)) out.insert(v.field);
  return out;
}

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

v1::CreateRoundRequest GoodRound() {
  v1::CreateRoundRequest r;
  r.mutable_round()->set_display_name("Spring 2027");
  r.mutable_round()->add_sessions("rotations/im/sessions/s1");
  r.mutable_round()->add_sessions("rotations/im/sessions/s2");
  *r.mutable_round()->mutable_rank_deadline() =
      ToProtoTime(kNow + absl::Hours(24));
  return r;
}

TEST(RoundLogicTest, AGoodRoundPasses) {
  EXPECT_TRUE(ValidateCreateRound(GoodRound(), kNow).ok());
}

TEST(RoundLogicTest, EveryBadFieldOfARoundIsNamed) {
  v1::CreateRoundRequest r = GoodRound();
  r.mutable_round()->set_display_name("");
  r.mutable_round()->add_sessions(
      "rotations/im/sessions/s1");  // duplicate of [0]
  r.mutable_round()->add_sessions("rotations/IM/sessions/x");  // bad id
  *r.mutable_round()->mutable_rank_deadline() =
      ToProtoTime(kNow - absl::Seconds(1));
  r.mutable_round()->set_seed(-1);
  r.mutable_round()->set_max_ranks_per_applicant(101);
  r.set_round_id("Spring_2027");
  r.set_request_id("has spaces");
  absl::Status s = ValidateCreateRound(r, kNow);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s),
              UnorderedElementsAre(
                  "round.display_name", "round.sessions[2]",
                  "round.sessions[3]", "round.rank_deadline", "round.seed",
                  "round.max_ranks_per_applicant", "round_id", "request_id"));
  v1::CreateRoundRequest empty;
  EXPECT_THAT(Fields(ValidateCreateRound(empty, kNow)), ElementsAre("round"));
  v1::CreateRoundRequest no_sessions = GoodRound();
  no_sessions.mutable_round()->clear_sessions();
  no_sessions.mutable_round()->clear_rank_deadline();
  EXPECT_THAT(Fields(ValidateCreateRound(no_sessions, kNow)),
              UnorderedElementsAre("round.sessions", "round.rank_deadline"));
}

TEST(RoundLogicTest, RankingsNameApplicantsOnceEach) {
  v1::SubmitSessionRankingRequest r;
  r.set_round("rounds/spring");
  r.set_session("rotations/im/sessions/s1");
  r.add_applicants("applicants/a1");
  r.add_applicants("applicants/a2");
  EXPECT_TRUE(ValidateSessionRankingRequest(r).ok());
  r.add_applicants("applicants/a1");
  r.add_applicants("a3");
  r.set_session("rotations/im");
  EXPECT_THAT(
      Fields(ValidateSessionRankingRequest(r)),
      UnorderedElementsAre("session", "applicants[2]", "applicants[3]"));
  v1::SubmitRankListRequest list;
  list.set_round("spring");
  list.set_applicant("applicants/a1");
  list.add_sessions("rotations/im/sessions/s1");
  list.add_sessions("rotations/im/sessions/s1");
  EXPECT_THAT(Fields(ValidateRankListRequest(list)),
              UnorderedElementsAre("round", "sessions[1]"));
}

TEST(RoundLogicTest, SessionNames) {
  EXPECT_TRUE(IsSessionName("rotations/im-1/sessions/s1"));
  EXPECT_FALSE(IsSessionName("rotations/im-1/sessions/"));
  EXPECT_FALSE(IsSessionName("rotations/im-1/sessions/s1/x"));
  EXPECT_FALSE(IsSessionName("sites/im-1/sessions/s1"));
  EXPECT_EQ(RotationOfSession("rotations/im-1/sessions/s1"), "rotations/im-1");
  EXPECT_EQ(RotationOfSession("nonsense"), "");
}

StoredRoundInputs SmallInputs() {
  StoredRoundInputs in;
  in.round.set_seed(9);
  in.sessions = {"rotations/r/sessions/a", "rotations/r/sessions/b"};
  in.rank_lists = {
      {"applicants/x", {"rotations/r/sessions/a", "rotations/r/sessions/b"}},
      {"applicants/y", {"rotations/r/sessions/a"}}};
  // The coordinator of a ranks someone who never submitted a list.
  in.rankings = {{"rotations/r/sessions/a",
                  {"applicants/z", "applicants/y", "applicants/x"}}};
  return in;
}

TEST(RoundLogicTest, ResultsAndStatsCountOnlyApplicantsWithRankLists) {
  absl::StatusOr<Instance> instance = BuildRoundInstance(
      SmallInputs(),
      {{"rotations/r/sessions/a", 1}, {"rotations/r/sessions/b", 1}});
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->num_applicants(), 3);  // z joins with an empty list
  RoundOutcome outcome = RunPlacementRound(*instance);
  std::vector<v1::RoundResult> results = ResultsOf(*instance, outcome.matching);
  ASSERT_EQ(results.size(), 2u);
  // a prefers y to x: y gets a (first choice), x falls back to b (second
  // choice).
  EXPECT_EQ(results[0].applicant(), "applicants/x");
  EXPECT_EQ(results[0].session(), "rotations/r/sessions/b");
  EXPECT_EQ(results[0].applicant_rank(), 2);
  EXPECT_EQ(results[1].applicant(), "applicants/y");
  EXPECT_EQ(results[1].applicant_rank(), 1);

  v1::RoundStats stats =
      StatsOf(*instance, outcome, absl::Milliseconds(3), absl::Seconds(1));
  EXPECT_EQ(stats.applicants(), 2);
  EXPECT_EQ(stats.matched(), 2);
  EXPECT_EQ(stats.unmatched(), 0);
  EXPECT_EQ(stats.seats(), 2);
  EXPECT_DOUBLE_EQ(stats.fill_rate(), 1.0);
  EXPECT_TRUE(stats.stable());
  EXPECT_EQ(stats.verdict(), "stable: 2 seats, 0 blocking pairs");
  EXPECT_THAT(stats.rank_histogram(), ElementsAre(1, 1));
  EXPECT_EQ(stats.lottery_sessions(), 1);
  ASSERT_EQ(stats.session_fill_size(), 2);
  EXPECT_FALSE(stats.session_fill(0).lottery());
  EXPECT_TRUE(stats.session_fill(1).lottery());
  EXPECT_EQ(stats.match_duration().nanos(), 3000000);
  EXPECT_EQ(stats.run_duration().seconds(), 1);
}

TEST(RoundLogicTest, MissingCapacityMeansNoSeats) {
  absl::StatusOr<Instance> instance = BuildRoundInstance(SmallInputs(), {});
  ASSERT_TRUE(instance.ok());
  RoundOutcome outcome = RunPlacementRound(*instance);
  v1::RoundStats stats =
      StatsOf(*instance, outcome, absl::ZeroDuration(), absl::ZeroDuration());
  EXPECT_EQ(stats.seats(), 0);
  EXPECT_EQ(stats.matched(), 0);
  EXPECT_EQ(stats.unmatched(), 2);
  EXPECT_DOUBLE_EQ(stats.fill_rate(), 0);
}

TEST(RoundLogicTest, WithCodeKeepsTheDetails) {
  absl::Status s =
      WithCode(InvalidFieldError("round.sessions[1]", "does not exist"),
               absl::StatusCode::kNotFound);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Fields(s), ElementsAre("round.sessions[1]"));
}

}  // namespace
}  // namespace clerkship::matching

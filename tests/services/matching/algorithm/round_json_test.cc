#include "services/matching/algorithm/round_json.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/matching/algorithm/instance_generator.h"
#include "services/matching/algorithm/placement_round.h"

namespace clerkship::matching {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void ExpectSameInstance(const Instance& x, const Instance& y) {
  EXPECT_EQ(x.seed, y.seed);
  EXPECT_EQ(x.applicant_ids, y.applicant_ids);
  EXPECT_EQ(x.session_ids, y.session_ids);
  EXPECT_EQ(x.applicant_lottery_keys, y.applicant_lottery_keys);
  EXPECT_EQ(x.session_lottery_keys, y.session_lottery_keys);
  EXPECT_EQ(x.session_capacity, y.session_capacity);
  EXPECT_EQ(x.rank_list_begin, y.rank_list_begin);
  EXPECT_EQ(x.rank_lists, y.rank_lists);
  EXPECT_EQ(x.session_has_ranking, y.session_has_ranking);
  EXPECT_EQ(x.session_ranking_begin, y.session_ranking_begin);
  EXPECT_EQ(x.session_rankings, y.session_rankings);
}

constexpr char kSmallRound[] = R"({
  "format": "clerkship.matching.round.v1",
  "round": "rounds/spring",
  "seed": "18446744073709551615",
  "sessions": [
    {"session": "rotations/r1/sessions/s1", "capacity": 1,
     "ranking": ["applicants/a2", "applicants/a1"]},
    {"session": "rotations/r2/sessions/s1", "capacity": 1},
    {"session": "rotations/r3/sessions/s1", "capacity": 4, "ranking": []}
  ],
  "applicants": [
    {"applicant": "applicants/a1",
     "rankList": ["rotations/r1/sessions/s1", "rotations/r2/sessions/s1"]},
    {"applicant": "applicants/a2", "rankList": ["rotations/r1/sessions/s1"]},
    {"applicant": "applicants/a3", "rankList": ["rotations/r3/sessions/s1"]},
    {"applicant": "applicants/a4", "rankList": []}
  ]
})";

TEST(RoundJsonTest, ParsesARoundDocument) {
  absl::StatusOr<Instance> instance = ParseRoundJson(kSmallRound);
  ASSERT_TRUE(instance.ok()) << instance.status();
  // Seeds above 2^53 survive: they travel as strings.
  EXPECT_EQ(instance->seed, 18446744073709551615ULL);
  EXPECT_EQ(instance->num_applicants(), 4);
  EXPECT_EQ(instance->num_sessions(), 3);
  EXPECT_TRUE(instance->HasRanking(0));
  EXPECT_FALSE(instance->HasRanking(1));  // no "ranking": lottery
  EXPECT_TRUE(instance->HasRanking(2));   // "ranking": [] accepts nobody
  EXPECT_TRUE(instance->SessionRanking(2).empty());
  EXPECT_TRUE(instance->RankList(3).empty());
}

TEST(RoundJsonTest, AcceptsANumericSeed) {
  nlohmann::json doc = nlohmann::json::parse(kSmallRound);
  doc["seed"] = 42;
  absl::StatusOr<Instance> instance = ParseRoundJson(doc.dump());
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->seed, 42u);
}

TEST(RoundJsonTest, RoundTripsASmallRoundByteForByte) {
  absl::StatusOr<Instance> instance = ParseRoundJson(kSmallRound);
  ASSERT_TRUE(instance.ok());
  const std::string written = WriteRoundJson(*instance);
  absl::StatusOr<Instance> reread = ParseRoundJson(written);
  ASSERT_TRUE(reread.ok()) << reread.status();
  ExpectSameInstance(*instance, *reread);
  EXPECT_EQ(WriteRoundJson(*reread), written);
  // The lottery session is written without a ranking, the empty one with [].
  const nlohmann::json doc = nlohmann::json::parse(written);
  EXPECT_FALSE(doc["sessions"][1].contains("ranking"));
  EXPECT_TRUE(doc["sessions"][2]["ranking"].empty());
  EXPECT_EQ(doc["seed"], "18446744073709551615");
  EXPECT_EQ(doc["format"], "clerkship.matching.round.v1");
}

TEST(RoundJsonTest, RoundTripsAGeneratedRound) {
  GeneratorOptions options;
  options.applicants = 3000;
  options.sessions = 400;
  options.seats = 2500;
  options.lottery_fraction = 0.2;
  options.seed = 12;
  absl::StatusOr<Instance> instance = GenerateInstance(options);
  ASSERT_TRUE(instance.ok());
  const std::string compact = WriteRoundJson(*instance, -1);
  EXPECT_EQ(compact.find('\n'), compact.size() - 1);
  absl::StatusOr<Instance> reread = ParseRoundJson(compact);
  ASSERT_TRUE(reread.ok()) << reread.status();
  ExpectSameInstance(*instance, *reread);
}

TEST(RoundJsonTest, WritesTheResultDocument) {
  absl::StatusOr<Instance> instance = ParseRoundJson(kSmallRound);
  ASSERT_TRUE(instance.ok());
  const RoundOutcome outcome = RunPlacementRound(*instance);
  const std::string json = WriteRoundOutcomeJson(*instance, outcome, -1);
  // a2 is preferred at r1; a1 falls to the r2 lottery, which has a free
  // seat; a3 is refused by r3 (empty ranking); a4 ranked nothing.
  EXPECT_EQ(
      json,
      R"({"matches":[{"applicant":"applicants/a1","session":"rotations/r2/sessions/s1"},)"
      R"({"applicant":"applicants/a2","session":"rotations/r1/sessions/s1"}],)"
      R"("unmatched":["applicants/a3","applicants/a4"],)"
      R"("stats":{"applicants":4,"sessions":3,"lotterySessions":1,"seats":6,)"
      R"("matched":2,"unmatched":2,"filledSeats":2,"fillRate":0.333333,)"
      R"("matchesByChoice":[{"choice":1,"applicants":1},{"choice":2,"applicants":1}],)"
      R"("sessionFill":[{"session":"rotations/r1/sessions/s1","capacity":1,"filled":1},)"
      R"({"session":"rotations/r2/sessions/s1","capacity":1,"filled":1},)"
      R"({"session":"rotations/r3/sessions/s1","capacity":4,"filled":0}]},)"
      R"("verdict":{"stable":true,"violation":"NONE","explanation":)"
      R"("stable: 2 matches, every session within capacity, every match )"
      R"(mutually acceptable, no blocking pair among 4 ranked pairs"}})"
      "\n");
}

TEST(RoundJsonTest, ResultNamesTheViolationWhenThereIsOne) {
  absl::StatusOr<Instance> instance = ParseRoundJson(kSmallRound);
  ASSERT_TRUE(instance.ok());
  RoundOutcome outcome;
  outcome.matching.session_of_applicant = {0, kUnmatched, kUnmatched,
                                           kUnmatched};
  outcome.verdict = VerifyMatching(*instance, outcome.matching);
  outcome.stats = ComputeRoundStats(*instance, outcome.matching);
  const nlohmann::json doc =
      nlohmann::json::parse(WriteRoundOutcomeJson(*instance, outcome));
  EXPECT_EQ(doc["verdict"]["stable"], false);
  EXPECT_EQ(doc["verdict"]["violation"], "BLOCKING_PAIR");
  EXPECT_EQ(doc["verdict"].value("applicant", ""), "applicants/a2");
  EXPECT_EQ(doc["verdict"].value("session", ""), "rotations/r1/sessions/s1");
}

TEST(RoundJsonTest, ReadsPublishedMatchesBack) {
  absl::StatusOr<Instance> instance = ParseRoundJson(kSmallRound);
  ASSERT_TRUE(instance.ok());
  const RoundOutcome outcome = RunPlacementRound(*instance);
  absl::StatusOr<Matching> published =
      ParseMatchesJson(*instance, WriteRoundOutcomeJson(*instance, outcome));
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(*published, outcome.matching);

  EXPECT_THAT(
      std::string(ParseMatchesJson(*instance,
                                   R"({"matches":[{"applicant":"applicants/zz",
                                       "session":"rotations/r1/sessions/s1"}]})")
                      .status()
                      .message()),
      HasSubstr("\"applicants/zz\" is not an applicant of the round"));
  EXPECT_THAT(
      std::string(ParseMatchesJson(*instance,
                                   R"({"matches":[
                {"applicant":"applicants/a1","session":"rotations/r1/sessions/s1"},
                {"applicant":"applicants/a1","session":"rotations/r2/sessions/s1"}]})")
                      .status()
                      .message()),
      HasSubstr("matches[1]: \"applicants/a1\" is matched more than once"));
  EXPECT_FALSE(ParseMatchesJson(*instance, R"({"unmatched":[]})").ok());
}

struct MalformedCase {
  std::string name;
  std::string json;
  std::string message;
};

class RoundJsonRejectsTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(RoundJsonRejectsTest, WithInvalidArgumentNamingThePath) {
  absl::StatusOr<Instance> instance = ParseRoundJson(GetParam().json);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(instance.status().message()),
              HasSubstr(GetParam().message));
}

// A minimal valid document with one fragment swapped in.
std::string Doc(const std::string& sessions, const std::string& applicants,
                const std::string& seed = R"("1")") {
  return R"({"seed":)" + seed + R"(,"sessions":)" + sessions +
         R"(,"applicants":)" + applicants + "}";
}
const std::string kSessions = R"([{"session":"s/1","capacity":1}])";
const std::string kApplicants = R"([{"applicant":"a/1","rankList":["s/1"]}])";

INSTANTIATE_TEST_SUITE_P(
    Malformed, RoundJsonRejectsTest,
    ::testing::Values(
        MalformedCase{"NotJson", "{\"seed\": ", "not valid JSON"},
        MalformedCase{"Empty", "", "not valid JSON"},
        MalformedCase{"TrailingGarbage", Doc(kSessions, kApplicants) + "x",
                      "not valid JSON"},
        MalformedCase{"TopLevelArray", "[]",
                      "document: expected a JSON object"},
        MalformedCase{"MissingSeed", R"({"sessions":[],"applicants":[]})",
                      "document: missing \"seed\""},
        MalformedCase{"NegativeSeed", Doc(kSessions, kApplicants, "-3"),
                      "seed: expected an unsigned integer"},
        MalformedCase{"FractionalSeed", Doc(kSessions, kApplicants, "1.5"),
                      "seed: expected an unsigned integer"},
        MalformedCase{"NonDecimalSeedString",
                      Doc(kSessions, kApplicants, R"("12a")"),
                      "seed: \"12a\" is not an unsigned 64-bit integer"},
        MalformedCase{"SeedStringTooLarge",
                      Doc(kSessions, kApplicants, R"("18446744073709551616")"),
                      "is not an unsigned 64-bit integer"},
        MalformedCase{
            "WrongFormat",
            R"({"format":"v0","seed":1,"sessions":[],"applicants":[]})",
            "format: expected \"clerkship.matching.round.v1\""},
        MalformedCase{"UnknownTopLevelField",
                      R"({"seed":1,"sessions":[],"applicants":[],"extra":1})",
                      "document: unknown field \"extra\""},
        MalformedCase{"SessionsNotArray", Doc("{}", kApplicants),
                      "sessions: expected an array, found object"},
        MalformedCase{"MissingApplicants", R"({"seed":1,"sessions":[]})",
                      "document: missing \"applicants\""},
        MalformedCase{"SessionNotObject", Doc("[1]", kApplicants),
                      "sessions[0]: expected an object, found number"},
        MalformedCase{"MissingCapacity", Doc(R"([{"session":"s/1"}])", "[]"),
                      "sessions[0]: missing \"capacity\""},
        MalformedCase{"NegativeCapacity",
                      Doc(R"([{"session":"s/1","capacity":-1}])", "[]"),
                      "sessions[0].capacity: expected a non-negative"},
        MalformedCase{"FractionalCapacity",
                      Doc(R"([{"session":"s/1","capacity":1.5}])", "[]"),
                      "sessions[0].capacity: expected a non-negative"},
        MalformedCase{"HugeCapacity",
                      Doc(R"([{"session":"s/1","capacity":4294967296}])", "[]"),
                      "sessions[0].capacity: expected a non-negative"},
        MalformedCase{"StringCapacity",
                      Doc(R"([{"session":"s/1","capacity":"2"}])", "[]"),
                      "sessions[0].capacity"},
        MalformedCase{
            "MisspeltRanking",
            Doc(R"([{"session":"s/1","capacity":1,"rankings":[]}])", "[]"),
            "sessions[0]: unknown field \"rankings\""},
        MalformedCase{"RankingNotArray",
                      Doc(R"([{"session":"s/1","capacity":1,"ranking":"a/1"}])",
                          kApplicants),
                      "sessions[0].ranking: expected an array, found string"},
        MalformedCase{"RankingItemNotString",
                      Doc(R"([{"session":"s/1","capacity":1,"ranking":[7]}])",
                          kApplicants),
                      "sessions[0].ranking[0]: expected a string id, found "
                      "number"},
        MalformedCase{"EmptySessionId",
                      Doc(R"([{"session":"","capacity":1}])", "[]"),
                      "sessions[0].session: id must not be empty"},
        MalformedCase{"MissingRankList",
                      Doc(kSessions, R"([{"applicant":"a/1"}])"),
                      "applicants[0]: missing \"rankList\""},
        MalformedCase{
            "SnakeCaseRankList",
            Doc(kSessions, R"([{"applicant":"a/1","rank_list":["s/1"]}])"),
            "applicants[0]: unknown field \"rank_list\""},
        MalformedCase{
            "RankListItemEmpty",
            Doc(kSessions, R"([{"applicant":"a/1","rankList":["s/1",""]}])"),
            "applicants[0].rankList[1]: id must not be empty"},
        MalformedCase{"ApplicantIdNotString",
                      Doc(kSessions, R"([{"applicant":5,"rankList":[]}])"),
                      "applicants[0].applicant: expected a string id"},
        MalformedCase{
            "UnknownSession",
            Doc(kSessions, R"([{"applicant":"a/1","rankList":["s/2"]}])"),
            "applicants[0] (a/1): rankList[0] names \"s/2\", which "
            "is not a session of this round"},
        MalformedCase{
            "RepeatedSession",
            Doc(kSessions, R"([{"applicant":"a/1","rankList":["s/1","s/1"]}])"),
            "rankList[1] repeats \"s/1\""},
        MalformedCase{"DuplicateApplicant",
                      Doc(kSessions, R"([{"applicant":"a/1","rankList":[]},)"
                                     R"({"applicant":"a/1","rankList":[]}])"),
                      "\"a/1\" appears more than once"},
        MalformedCase{
            "RankingNamesStranger",
            Doc(R"([{"session":"s/1","capacity":1,"ranking":["a/9"]}])",
                kApplicants),
            "sessions[0] (s/1): ranking[0] names \"a/9\", which is "
            "not an applicant of this round"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace clerkship::matching

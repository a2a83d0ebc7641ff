#pragma once

// Placement-round rules that need neither gRPC nor Redis: request validation,
// turning the stored inputs into the algorithm's instance, and the algorithm's
// outcome into the API's results and statistics.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clerkship/matching/v1/matching.pb.h"
#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/placement_round.h"
#include "services/matching/round_store.h"

namespace clerkship::matching {

inline constexpr int kMaxRoundSessions = 20000;
inline constexpr int kDefaultMaxRanks = 20;
inline constexpr int kMaxRanksLimit = 100;
inline constexpr int kMaxSessionRanking = 10000;
inline constexpr char kMatchingDomain[] = "clerkship.matching";

// "rotations/{rotation}/sessions/{session}" with valid ids.
bool IsSessionName(const std::string& name);
// "rotations/r/sessions/s" → "rotations/r" (empty when malformed).
std::string RotationOfSession(const std::string& session);

absl::Status ValidateCreateRound(const v1::CreateRoundRequest& request,
                                 absl::Time now);
// Shape only (names, duplicates); membership, length limit and eligibility need
// the round.
absl::Status ValidateRankListRequest(const v1::SubmitRankListRequest& request);
absl::Status ValidateSessionRankingRequest(
    const v1::SubmitSessionRankingRequest& request);

// The algorithm's instance from the stored inputs. `capacity` gives each
// session's seats (sessions missing from it have none). Applicants named only
// in session rankings join with empty rank lists, as the algorithm library
// requires.
absl::StatusOr<Instance> BuildRoundInstance(
    const StoredRoundInputs& inputs,
    const std::map<std::string, int32_t>& capacity);

// One result per applicant who submitted a non-empty rank list, ordered by
// applicant.
std::vector<v1::RoundResult> ResultsOf(const Instance& instance,
                                       const Matching& matching);

// The full statistics (session_fill included) of a run.
v1::RoundStats StatsOf(const Instance& instance, const RoundOutcome& outcome,
                       absl::Duration match_duration,
                       absl::Duration run_duration);

// The verdict in plain words: "stable: 43000 seats, 0 blocking pairs" or the
// violation.
std::string VerdictText(const Instance& instance, const Verdict& verdict);

// A status with `code` that carries the same details (field violations,
// reasons).
absl::Status WithCode(const absl::Status& status, absl::StatusCode code);

}  // namespace clerkship::matching

#pragma once

// The audit format of a placement round: its complete inputs (seed,
// capacities, every rank list and session ranking) and its result. The
// service's ExportRound and the offline replay tool both go through here, so
// an export can always be replayed.
//
// Round document:
//   {
//     "format": "clerkship.matching.round.v1",        (optional on input)
//     "round": "rounds/2027-spring",                  (optional, ignored)
//     "seed": "12345",          (uint64 as a decimal string, or a number)
//     "sessions": [
//       {"session": "rotations/r1/sessions/s1", "capacity": 2,
//        "ranking": ["applicants/a2", "applicants/a1"]},
//       {"session": "rotations/r1/sessions/s2", "capacity": 1}
//     ],
//     "applicants": [
//       {"applicant": "applicants/a1",
//        "rankList": ["rotations/r1/sessions/s1", "rotations/r1/sessions/s2"]}
//     ]
//   }
// A session without "ranking" submitted none and ranks by lottery; an empty
// "ranking" accepts nobody. Unknown fields are rejected rather than ignored:
// a misspelt "ranking" would otherwise silently turn a ranked session into a
// lottery.
//
// Result document:
//   {"matches": [{"applicant": ..., "session": ...}], "unmatched": [...],
//    "stats": {...}, "verdict": {"stable": ..., "violation": ...,
//    "explanation": ...}}
// Lists follow the byte order of the ids, so equal inputs give equal bytes.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/placement_round.h"

namespace clerkship::matching {

inline constexpr char kRoundFormat[] = "clerkship.matching.round.v1";

// Parses a round document into its string-keyed form. Errors are
// INVALID_ARGUMENT and name the JSON path ("applicants[3].rankList[1]").
absl::StatusOr<RoundInput> ParseRoundInputJson(std::string_view json);

// ParseRoundInputJson followed by BuildInstance.
absl::StatusOr<Instance> ParseRoundJson(std::string_view json);

// Writes the round document. `indent` < 0 writes one line.
std::string WriteRoundJson(const Instance& instance, int indent = 2);

// Writes the result document.
std::string WriteRoundOutcomeJson(const Instance& instance,
                                  const RoundOutcome& outcome, int indent = 2);

// Reads the "matches" of a result document (a published round, say) back
// into a Matching over `instance`, so it can be verified and compared with a
// replay. Applicants it does not list are unmatched.
absl::StatusOr<Matching> ParseMatchesJson(const Instance& instance,
                                          std::string_view result_json);

}  // namespace clerkship::matching

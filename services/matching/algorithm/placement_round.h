#pragma once

#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/round_stats.h"
#include "services/matching/algorithm/verify.h"

namespace clerkship::matching {

// Everything RunRound stores: the matching, its statistics, and the verdict
// of checking it.
struct RoundOutcome {
  Matching matching;
  RoundStats stats;
  Verdict verdict;
};

// Draws the lotteries, runs deferred acceptance, verifies the result and
// computes the statistics. The one entry point the service and the replay
// tool share, so a published round and its offline replay cannot diverge.
// Requires ValidateInstance(instance).ok() (BuildInstance and ParseRoundJson
// guarantee it).
RoundOutcome RunPlacementRound(const Instance& instance);

}  // namespace clerkship::matching

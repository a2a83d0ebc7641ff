#include "services/matching/algorithm/placement_round.h"

#include "services/matching/algorithm/session_preferences.h"

namespace clerkship::matching {

RoundOutcome RunPlacementRound(const Instance& instance) {
  const SessionPreferences prefs = BuildSessionPreferences(instance);
  RoundOutcome outcome;
  outcome.matching = RunDeferredAcceptance(instance, prefs);
  outcome.verdict = VerifyMatching(instance, prefs, outcome.matching);
  outcome.stats = ComputeRoundStats(instance, outcome.matching);
  return outcome;
}

}  // namespace clerkship::matching

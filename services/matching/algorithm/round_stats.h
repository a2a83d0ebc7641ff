#pragma once

#include <cstdint>
#include <vector>

#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/instance.h"

namespace clerkship::matching {

// The statistics stored with a round's results and shown by GetRound.
struct RoundStats {
  int32_t applicants = 0;
  int32_t sessions = 0;
  // Sessions that submitted no ranking and so ranked by lottery.
  int32_t lottery_sessions = 0;
  int64_t seats = 0;
  int32_t matched = 0;
  int32_t unmatched = 0;
  // matched / seats, rounded to 6 decimals so the stored figure prints the
  // same everywhere; 0 for a round without seats.
  double fill_rate = 0;
  // Per session, by index.
  std::vector<int32_t> filled_per_session;
  // matches_by_choice[k]: applicants matched to their (k+1)-th choice. As
  // long as the longest rank list, zeros included.
  std::vector<int32_t> matches_by_choice;
};

// Requires ValidateInstance(instance).ok(). Tolerates a malformed matching
// (as the verifier reports it): out-of-range sessions count as unmatched and
// placements missing from the applicant's list are left out of the
// histogram.
RoundStats ComputeRoundStats(const Instance& instance,
                             const Matching& matching);

}  // namespace clerkship::matching

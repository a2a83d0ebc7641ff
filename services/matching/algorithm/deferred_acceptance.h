#pragma once

#include <cstdint>
#include <vector>

#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/session_preferences.h"

namespace clerkship::matching {

// A placement: the session each applicant is matched to, or kUnmatched.
struct Matching {
  std::vector<int32_t> session_of_applicant;

  friend bool operator==(const Matching& x, const Matching& y) {
    return x.session_of_applicant == y.session_of_applicant;
  }
  friend bool operator!=(const Matching& x, const Matching& y) {
    return !(x == y);
  }
};

// Applicant-proposing deferred acceptance for many-to-one matching with
// capacities (Gale and Shapley 1962; the NRMP's applicant-proposing design
// since 1998). Returns the applicant-optimal stable matching: no applicant is
// better off in any other stable matching. A pair is acceptable only when
// each side ranks the other (a lottery session ranks everyone who ranked it).
// With strict preferences that matching is unique, so the result does not
// depend on processing order or on the order of the inputs.
//
// Requires ValidateInstance(instance).ok(). O(total rank-list length) time
// besides the lottery sorts.
Matching RunDeferredAcceptance(const Instance& instance);

// The same, reusing session preferences the caller already built.
Matching RunDeferredAcceptance(const Instance& instance,
                               const SessionPreferences& prefs);

}  // namespace clerkship::matching

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/session_preferences.h"

namespace clerkship::matching {

// What is wrong with a matching, in the order the verifier looks for it.
enum class Violation {
  kNone,
  kMalformed,           // wrong size, or a session index that does not exist
  kOverCapacity,        // a session holds more applicants than seats
  kNotOnRankList,       // an applicant matched to a session they did not rank
  kNotRankedBySession,  // a session matched to an applicant it did not rank
  kBlockingPair,        // an applicant and a session would both rather pair
};

// UPPER_SNAKE name for JSON and logs: "NONE", "BLOCKING_PAIR", ...
std::string_view ViolationName(Violation violation);

struct Verdict {
  Violation violation = Violation::kNone;
  // The applicant and session the first violation concerns, or -1.
  int32_t applicant = -1;
  int32_t session = -1;
  // One sentence a coordinator can check by hand against the inputs.
  std::string explanation;

  bool stable() const { return violation == Violation::kNone; }
};

// Checks, independently of how the matching was computed: every session
// within capacity, every match mutually acceptable, and no blocking pair (an
// applicant and a session that rank each other, where the applicant prefers
// the session to their placement and the session has a free seat or prefers
// the applicant to someone it holds). Reports the first violation found:
// the checks run in the order of Violation's values; applicants are scanned
// in index order, sessions in index order and, for blocking pairs, each
// session's applicants in its order of preference. Requires
// ValidateInstance(instance).ok(); the matching may be anything.
Verdict VerifyMatching(const Instance& instance, const Matching& matching);

// The same, reusing session preferences the caller already built.
Verdict VerifyMatching(const Instance& instance,
                       const SessionPreferences& prefs,
                       const Matching& matching);

}  // namespace clerkship::matching

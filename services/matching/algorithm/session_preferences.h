#pragma once

#include <cstdint>
#include <vector>

#include "services/matching/algorithm/instance.h"

namespace clerkship::matching {

// Every session's effective preference order after lotteries are drawn: the
// coordinator's ranking as submitted, or, for a session without one, all
// applicants who ranked it ordered by their lottery tickets (ties, which need
// a 64-bit collision, fall back to applicant index). Applicants absent from a
// session's order are unacceptable to it.
struct SessionPreferences {
  std::vector<int32_t> begin;       // num_sessions + 1 offsets
  std::vector<int32_t> applicants;  // most preferred first

  IndexRange Of(int32_t session) const {
    return {applicants.data() + begin[session],
            applicants.data() + begin[session + 1]};
  }
};

// Requires ValidateInstance(instance).ok().
SessionPreferences BuildSessionPreferences(const Instance& instance);

}  // namespace clerkship::matching

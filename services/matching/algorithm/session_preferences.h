#pragma once

#include <cstdint>
#include <vector>

#include "services/matching/algorithm/instance.h"

namespace clerkship::matching {

// Every session's effective preference order once lotteries are drawn: the
// coordinator's ranking as submitted, or, for a session without one, all
// applicants who ranked it ordered by their lottery tickets (see lottery.h;
// ties, which need a 64-bit collision, fall back to applicant index).
// Applicants absent from a session's order are unacceptable to it.
//
// Only lottery orders are stored; coordinator rankings are read from the
// instance in place, so the instance must outlive this object.
class SessionPreferences {
 public:
  // Draws every lottery. Requires ValidateInstance(instance).ok().
  explicit SessionPreferences(const Instance& instance);

  // The session's applicants, most preferred first.
  IndexRange Of(int32_t session) const {
    if (instance_->HasRanking(session)) {
      return instance_->SessionRanking(session);
    }
    return {lottery_order_.data() + lottery_begin_[session],
            lottery_order_.data() + lottery_begin_[session + 1]};
  }

  // Total length of all orders: the number of acceptable-to-the-session
  // (session, applicant) pairs.
  size_t total_size() const {
    return instance_->session_rankings.size() + lottery_order_.size();
  }

 private:
  const Instance* instance_;
  // Lottery sessions' orders in compressed-row form; ranked sessions have
  // empty ranges here.
  std::vector<int32_t> lottery_begin_;
  std::vector<int32_t> lottery_order_;
};

// Convenience for callers that prefer a function.
inline SessionPreferences BuildSessionPreferences(const Instance& instance) {
  return SessionPreferences(instance);
}

}  // namespace clerkship::matching

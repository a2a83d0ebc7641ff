#include "services/matching/algorithm/session_preferences.h"

#include <algorithm>
#include <utility>

#include "services/matching/algorithm/lottery.h"

namespace clerkship::matching {

SessionPreferences::SessionPreferences(const Instance& instance)
    : instance_(&instance) {
  const int32_t num_sessions = instance.num_sessions();
  const int32_t num_applicants = instance.num_applicants();
  lottery_begin_.assign(num_sessions + 1, 0);

  bool any_lottery = false;
  for (int32_t s = 0; s < num_sessions && !any_lottery; ++s) {
    any_lottery = !instance.HasRanking(s);
  }
  if (!any_lottery) return;

  // Entrants per lottery session, then gathered in applicant order.
  for (int32_t session : instance.rank_lists) {
    if (!instance.HasRanking(session)) ++lottery_begin_[session + 1];
  }
  for (int32_t s = 0; s < num_sessions; ++s) {
    lottery_begin_[s + 1] += lottery_begin_[s];
  }
  lottery_order_.resize(lottery_begin_[num_sessions]);
  std::vector<int32_t> fill(lottery_begin_.begin(), lottery_begin_.end() - 1);
  for (int32_t a = 0; a < num_applicants; ++a) {
    for (int32_t session : instance.RankList(a)) {
      if (!instance.HasRanking(session)) lottery_order_[fill[session]++] = a;
    }
  }

  // Sort each lottery by ticket.
  std::vector<std::pair<uint64_t, int32_t>> tickets;
  for (int32_t s = 0; s < num_sessions; ++s) {
    if (instance.HasRanking(s)) continue;
    const uint64_t session_key = instance.session_lottery_keys[s];
    tickets.clear();
    for (int32_t i = lottery_begin_[s]; i < lottery_begin_[s + 1]; ++i) {
      const int32_t a = lottery_order_[i];
      tickets.emplace_back(LotteryTicket(instance.seed, session_key,
                                         instance.applicant_lottery_keys[a]),
                           a);
    }
    std::sort(tickets.begin(), tickets.end());
    for (size_t k = 0; k < tickets.size(); ++k) {
      lottery_order_[lottery_begin_[s] + k] = tickets[k].second;
    }
  }
}

}  // namespace clerkship::matching

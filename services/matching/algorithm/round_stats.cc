#include "services/matching/algorithm/round_stats.h"

#include <algorithm>
#include <cmath>

namespace clerkship::matching {

RoundStats ComputeRoundStats(const Instance& instance,
                             const Matching& matching) {
  RoundStats stats;
  stats.applicants = instance.num_applicants();
  stats.sessions = instance.num_sessions();
  stats.seats = instance.TotalSeats();
  stats.filled_per_session.assign(stats.sessions, 0);
  for (int32_t s = 0; s < stats.sessions; ++s) {
    if (!instance.HasRanking(s)) ++stats.lottery_sessions;
  }
  size_t longest_list = 0;
  for (int32_t a = 0; a < stats.applicants; ++a) {
    longest_list = std::max(longest_list, instance.RankList(a).size());
  }
  stats.matches_by_choice.assign(longest_list, 0);

  for (int32_t a = 0; a < stats.applicants; ++a) {
    const int32_t s =
        a < static_cast<int32_t>(matching.session_of_applicant.size())
            ? matching.session_of_applicant[a]
            : kUnmatched;
    if (s < 0 || s >= stats.sessions) {
      ++stats.unmatched;
      continue;
    }
    ++stats.matched;
    ++stats.filled_per_session[s];
    IndexRange list = instance.RankList(a);
    const auto it = std::find(list.begin(), list.end(), s);
    if (it != list.end()) ++stats.matches_by_choice[it - list.begin()];
  }
  if (stats.seats > 0) {
    stats.fill_rate = std::round(static_cast<double>(stats.matched) /
                                 static_cast<double>(stats.seats) * 1e6) /
                      1e6;
  }
  return stats;
}

}  // namespace clerkship::matching

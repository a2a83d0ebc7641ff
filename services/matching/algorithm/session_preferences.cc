#include "services/matching/algorithm/session_preferences.h"

#include <algorithm>
#include <utility>

#include "services/matching/algorithm/lottery.h"

namespace clerkship::matching {

SessionPreferences BuildSessionPreferences(const Instance& instance) {
  const int32_t num_sessions = instance.num_sessions();
  const int32_t num_applicants = instance.num_applicants();

  // Size every session's slice: its ranking, or the number of applicants
  // who ranked it when a lottery decides.
  std::vector<int32_t> size(num_sessions, 0);
  bool any_lottery = false;
  for (int32_t s = 0; s < num_sessions; ++s) {
    if (instance.HasRanking(s)) {
      size[s] = static_cast<int32_t>(instance.SessionRanking(s).size());
    } else {
      any_lottery = true;
    }
  }
  if (any_lottery) {
    for (int32_t session : instance.rank_lists) {
      if (!instance.HasRanking(session)) ++size[session];
    }
  }

  SessionPreferences prefs;
  prefs.begin.resize(num_sessions + 1);
  prefs.begin[0] = 0;
  for (int32_t s = 0; s < num_sessions; ++s) {
    prefs.begin[s + 1] = prefs.begin[s] + size[s];
  }
  prefs.applicants.resize(prefs.begin[num_sessions]);

  for (int32_t s = 0; s < num_sessions; ++s) {
    if (!instance.HasRanking(s)) continue;
    IndexRange ranking = instance.SessionRanking(s);
    std::copy(ranking.begin(), ranking.end(),
              prefs.applicants.begin() + prefs.begin[s]);
  }
  if (!any_lottery) return prefs;

  // Gather lottery entrants (in applicant order), then sort each lottery
  // session's slice by ticket.
  std::vector<int32_t> fill(prefs.begin.begin(), prefs.begin.end() - 1);
  for (int32_t a = 0; a < num_applicants; ++a) {
    for (int32_t session : instance.RankList(a)) {
      if (!instance.HasRanking(session)) prefs.applicants[fill[session]++] = a;
    }
  }
  std::vector<uint64_t> applicant_hash(num_applicants);
  for (int32_t a = 0; a < num_applicants; ++a) {
    applicant_hash[a] = StableIdHash(instance.applicant_ids[a]);
  }
  std::vector<std::pair<uint64_t, int32_t>> tickets;
  for (int32_t s = 0; s < num_sessions; ++s) {
    if (instance.HasRanking(s)) continue;
    const uint64_t session_hash = StableIdHash(instance.session_ids[s]);
    tickets.clear();
    for (int32_t i = prefs.begin[s]; i < prefs.begin[s + 1]; ++i) {
      const int32_t a = prefs.applicants[i];
      tickets.emplace_back(
          LotteryTicket(instance.seed, session_hash, applicant_hash[a]), a);
    }
    std::sort(tickets.begin(), tickets.end());
    for (size_t k = 0; k < tickets.size(); ++k) {
      prefs.applicants[prefs.begin[s] + k] = tickets[k].second;
    }
  }
  return prefs;
}

}  // namespace clerkship::matching

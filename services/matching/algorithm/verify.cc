#include "services/matching/algorithm/verify.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace clerkship::matching {
namespace {

constexpr int32_t kUnacceptable = std::numeric_limits<int32_t>::max();

// "1st", "2nd", "3rd", "4th", "11th", "21st": explanations cite positions
// the way a person reads a rank list.
std::string Ordinal(int64_t n) {
  const int64_t last_two = n % 100;
  const char* suffix = "th";
  if (last_two < 11 || last_two > 13) {
    switch (n % 10) {
      case 1: suffix = "st"; break;
      case 2: suffix = "nd"; break;
      case 3: suffix = "rd"; break;
      default: break;
    }
  }
  return absl::StrCat(n, suffix);
}

// Session-side ranks looked up by binary search over (applicant, rank) pairs
// sorted per session. Deliberately a different mechanism from the lookup
// table inside RunDeferredAcceptance, so a bug in one is not mirrored in the
// other.
class SessionRankLookup {
 public:
  explicit SessionRankLookup(const SessionPreferences& prefs)
      : begin_(prefs.begin), pairs_(prefs.applicants.size()) {
    const int32_t num_sessions = static_cast<int32_t>(begin_.size()) - 1;
    for (int32_t s = 0; s < num_sessions; ++s) {
      for (int32_t i = begin_[s]; i < begin_[s + 1]; ++i) {
        pairs_[i] = {prefs.applicants[i], i - begin_[s]};
      }
      std::sort(pairs_.begin() + begin_[s], pairs_.begin() + begin_[s + 1]);
    }
  }

  // The session's rank of the applicant (0 = first), or kUnacceptable.
  int32_t RankOf(int32_t session, int32_t applicant) const {
    auto first = pairs_.begin() + begin_[session];
    auto last = pairs_.begin() + begin_[session + 1];
    auto it = std::lower_bound(
        first, last, applicant,
        [](const std::pair<int32_t, int32_t>& p, int32_t a) {
          return p.first < a;
        });
    return (it != last && it->first == applicant) ? it->second
                                                  : kUnacceptable;
  }

 private:
  const std::vector<int32_t>& begin_;
  std::vector<std::pair<int32_t, int32_t>> pairs_;
};

Verdict Violated(Violation violation, int32_t applicant, int32_t session,
                 std::string explanation) {
  Verdict verdict;
  verdict.violation = violation;
  verdict.applicant = applicant;
  verdict.session = session;
  verdict.explanation = std::move(explanation);
  return verdict;
}

}  // namespace

std::string_view ViolationName(Violation violation) {
  switch (violation) {
    case Violation::kNone: return "NONE";
    case Violation::kMalformed: return "MALFORMED_MATCHING";
    case Violation::kOverCapacity: return "OVER_CAPACITY";
    case Violation::kNotOnRankList: return "NOT_ON_APPLICANT_RANK_LIST";
    case Violation::kNotRankedBySession: return "NOT_RANKED_BY_SESSION";
    case Violation::kBlockingPair: return "BLOCKING_PAIR";
  }
  return "UNKNOWN";
}

Verdict VerifyMatching(const Instance& instance, const Matching& matching) {
  return VerifyMatching(instance, BuildSessionPreferences(instance), matching);
}

Verdict VerifyMatching(const Instance& instance,
                       const SessionPreferences& prefs,
                       const Matching& matching) {
  const int32_t num_applicants = instance.num_applicants();
  const int32_t num_sessions = instance.num_sessions();
  const std::vector<int32_t>& placed = matching.session_of_applicant;

  if (placed.size() != static_cast<size_t>(num_applicants)) {
    return Violated(Violation::kMalformed, -1, -1,
                    absl::StrCat("the matching lists ", placed.size(),
                                 " applicants but the round has ",
                                 num_applicants));
  }
  std::vector<int32_t> filled(num_sessions, 0);
  int64_t matched = 0;
  for (int32_t a = 0; a < num_applicants; ++a) {
    const int32_t s = placed[a];
    if (s == kUnmatched) continue;
    if (s < 0 || s >= num_sessions) {
      return Violated(Violation::kMalformed, a, -1,
                      absl::StrCat(instance.applicant_ids[a],
                                   " is matched to session index ", s,
                                   ", which does not exist"));
    }
    ++filled[s];
    ++matched;
  }

  // 1. Capacity.
  for (int32_t s = 0; s < num_sessions; ++s) {
    if (filled[s] > instance.session_capacity[s]) {
      return Violated(Violation::kOverCapacity, -1, s,
                      absl::StrCat(instance.session_ids[s], " has ",
                                   instance.session_capacity[s],
                                   " seats but ", filled[s],
                                   " applicants are matched to it"));
    }
  }

  // 2. Mutual acceptability; meanwhile find each session's weakest holder,
  // the one a blocking applicant would have to be preferred to.
  const SessionRankLookup lookup(prefs);
  std::vector<int32_t> weakest_rank(num_sessions, -1);
  std::vector<int32_t> weakest_applicant(num_sessions, -1);
  std::vector<int32_t> choice_of(num_applicants, -1);
  for (int32_t a = 0; a < num_applicants; ++a) {
    const int32_t s = placed[a];
    if (s == kUnmatched) continue;
    IndexRange list = instance.RankList(a);
    const auto it = std::find(list.begin(), list.end(), s);
    if (it == list.end()) {
      return Violated(Violation::kNotOnRankList, a, s,
                      absl::StrCat(instance.applicant_ids[a],
                                   " is matched to ", instance.session_ids[s],
                                   ", which is not on their rank list"));
    }
    choice_of[a] = static_cast<int32_t>(it - list.begin());
    const int32_t rank = lookup.RankOf(s, a);
    if (rank == kUnacceptable) {
      return Violated(
          Violation::kNotRankedBySession, a, s,
          absl::StrCat(instance.session_ids[s], " is matched to ",
                       instance.applicant_ids[a],
                       instance.HasRanking(s)
                           ? ", who is not on the session's ranking"
                           : ", who is not in the session's lottery"));
    }
    if (rank > weakest_rank[s]) {
      weakest_rank[s] = rank;
      weakest_applicant[s] = a;
    }
  }

  // 3. No blocking pair. Only sessions an applicant ranks above their
  // placement can block, so each rank-list entry is looked at once at most.
  for (int32_t a = 0; a < num_applicants; ++a) {
    IndexRange list = instance.RankList(a);
    const int32_t better_than =
        choice_of[a] >= 0 ? choice_of[a] : static_cast<int32_t>(list.size());
    for (int32_t k = 0; k < better_than; ++k) {
      const int32_t s = list[k];
      const int32_t rank = lookup.RankOf(s, a);
      if (rank == kUnacceptable) continue;
      // Built only once a violation is certain: this loop is hot.
      auto applicant_side = [&] {
        return choice_of[a] >= 0
                   ? absl::StrCat(instance.applicant_ids[a], " ranks ",
                                  instance.session_ids[s], " ", Ordinal(k + 1),
                                  " but is matched to their ",
                                  Ordinal(choice_of[a] + 1), " choice ",
                                  instance.session_ids[placed[a]])
                   : absl::StrCat(instance.applicant_ids[a], " ranks ",
                                  instance.session_ids[s], " ", Ordinal(k + 1),
                                  " but is unmatched");
      };
      if (filled[s] < instance.session_capacity[s]) {
        return Violated(
            Violation::kBlockingPair, a, s,
            absl::StrCat(applicant_side(), ", while ", instance.session_ids[s],
                         " accepts them and has a free seat (", filled[s],
                         " of ", instance.session_capacity[s], " filled)"));
      }
      if (rank < weakest_rank[s]) {
        return Violated(
            Violation::kBlockingPair, a, s,
            absl::StrCat(applicant_side(), ", while ", instance.session_ids[s],
                         " ranks them ", Ordinal(rank + 1), ", ahead of ",
                         instance.applicant_ids[weakest_applicant[s]],
                         " (ranked ", Ordinal(weakest_rank[s] + 1),
                         ") whom it holds"));
      }
    }
  }

  Verdict verdict;
  verdict.explanation = absl::StrCat(
      "stable: ", matched, " matches, every session within capacity, every "
      "match mutually acceptable, no blocking pair among ",
      instance.rank_lists.size(), " ranked pairs");
  return verdict;
}

}  // namespace clerkship::matching

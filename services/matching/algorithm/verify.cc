#include "services/matching/algorithm/verify.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace clerkship::matching {
namespace {

// "1st", "2nd", "3rd", "4th", "11th", "21st": explanations cite positions
// the way a person reads a rank list.
std::string Ordinal(int64_t n) {
  const int64_t last_two = n % 100;
  const char* suffix = "th";
  if (last_two < 11 || last_two > 13) {
    switch (n % 10) {
      case 1:
        suffix = "st";
        break;
      case 2:
        suffix = "nd";
        break;
      case 3:
        suffix = "rd";
        break;
      default:
        break;
    }
  }
  return absl::StrCat(n, suffix);
}

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
    case Violation::kNone:
      return "NONE";
    case Violation::kMalformed:
      return "MALFORMED_MATCHING";
    case Violation::kOverCapacity:
      return "OVER_CAPACITY";
    case Violation::kNotOnRankList:
      return "NOT_ON_APPLICANT_RANK_LIST";
    case Violation::kNotRankedBySession:
      return "NOT_RANKED_BY_SESSION";
    case Violation::kBlockingPair:
      return "BLOCKING_PAIR";
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
    return Violated(
        Violation::kMalformed, -1, -1,
        absl::StrCat("the matching lists ", placed.size(),
                     " applicants but the round has ", num_applicants));
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
                                   instance.session_capacity[s], " seats but ",
                                   filled[s], " applicants are matched to it"));
    }
  }

  // 2. Mutual acceptability, applicant side: the placement is on the
  // applicant's list (and where, for the blocking-pair check).
  std::vector<int32_t> choice_of(num_applicants, -1);
  for (int32_t a = 0; a < num_applicants; ++a) {
    const int32_t s = placed[a];
    if (s == kUnmatched) continue;
    IndexRange list = instance.RankList(a);
    const auto it = std::find(list.begin(), list.end(), s);
    if (it == list.end()) {
      return Violated(Violation::kNotOnRankList, a, s,
                      absl::StrCat(instance.applicant_ids[a], " is matched to ",
                                   instance.session_ids[s],
                                   ", which is not on their rank list"));
    }
    choice_of[a] = static_cast<int32_t>(it - list.begin());
  }

  // 3. Mutual acceptability, session side. Walking each session's order
  // finds its acceptable holders; any holder not found there is one the
  // session never ranked. The last holder found is the weakest, the one a
  // blocking applicant would have to beat.
  //
  // This works session by session, the opposite direction to the
  // applicant-by-applicant lookup table inside RunDeferredAcceptance, so a
  // bug in one is unlikely to be mirrored in the other.
  std::vector<int32_t> weakest_rank(num_sessions, -1);
  for (int32_t s = 0; s < num_sessions; ++s) {
    IndexRange order = prefs.Of(s);
    int32_t found = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      if (placed[order[k]] == s) {
        ++found;
        weakest_rank[s] = static_cast<int32_t>(k);
      }
    }
    if (found == filled[s]) continue;
    // Rare: name the first such holder.
    std::vector<uint8_t> acceptable(num_applicants, 0);
    for (int32_t b : order) acceptable[b] = 1;
    for (int32_t a = 0; a < num_applicants; ++a) {
      if (placed[a] != s || acceptable[a]) continue;
      // (A lottery session accepts everyone who ranked it, and step 2 has
      // established that this holder did, so only a ranking can refuse.)
      return Violated(Violation::kNotRankedBySession, a, s,
                      absl::StrCat(instance.session_ids[s], " is matched to ",
                                   instance.applicant_ids[a],
                                   ", who is not on the session's ranking"));
    }
  }

  // 4. No blocking pair. A session can only block with applicants it ranks
  // above its weakest holder, or with anyone it accepts while it has a free
  // seat; each such applicant blocks if they rank the session above their
  // placement.
  for (int32_t s = 0; s < num_sessions; ++s) {
    IndexRange order = prefs.Of(s);
    const bool has_free_seat = filled[s] < instance.session_capacity[s];
    // A full session holds someone (step 3 matched every holder to its
    // order) unless it has no seats at all, in which case it blocks nobody.
    const size_t candidates =
        has_free_seat ? order.size()
                      : static_cast<size_t>(std::max(weakest_rank[s], 0));
    for (size_t k = 0; k < candidates; ++k) {
      const int32_t a = order[k];
      if (placed[a] == s) continue;
      IndexRange list = instance.RankList(a);
      const size_t better_than =
          choice_of[a] >= 0 ? static_cast<size_t>(choice_of[a]) : list.size();
      const auto it = std::find(list.begin(), list.begin() + better_than, s);
      if (it == list.begin() + better_than) continue;
      const int64_t position = it - list.begin();
      const std::string applicant_side =
          choice_of[a] >= 0
              ? absl::StrCat(instance.applicant_ids[a], " ranks ",
                             instance.session_ids[s], " ",
                             Ordinal(position + 1), " but is matched to their ",
                             Ordinal(choice_of[a] + 1), " choice ",
                             instance.session_ids[placed[a]])
              : absl::StrCat(instance.applicant_ids[a], " ranks ",
                             instance.session_ids[s], " ",
                             Ordinal(position + 1), " but is unmatched");
      if (has_free_seat) {
        return Violated(
            Violation::kBlockingPair, a, s,
            absl::StrCat(applicant_side, ", while ", instance.session_ids[s],
                         " accepts them and has a free seat (", filled[s],
                         " of ", instance.session_capacity[s], " filled)"));
      }
      return Violated(
          Violation::kBlockingPair, a, s,
          absl::StrCat(applicant_side, ", while ", instance.session_ids[s],
                       " ranks them ", Ordinal(k + 1), ", ahead of ",
                       instance.applicant_ids[order[weakest_rank[s]]],
                       " (ranked ", Ordinal(weakest_rank[s] + 1),
                       ") whom it holds"));
    }
  }

  Verdict verdict;
  verdict.explanation = absl::StrCat(
      "stable: ", matched, matched == 1 ? " match" : " matches",
      ", every session within capacity, every match mutually acceptable, no "
      "blocking pair among ",
      instance.rank_lists.size(), " ranked pairs");
  return verdict;
}

}  // namespace clerkship::matching

#pragma once

// Helpers shared by the matching algorithm tests: dense hand-written rounds,
// and an independent brute-force stability checker and enumerator written
// straight from the definitions, sharing no code with the library.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "services/matching/algorithm/instance.h"

namespace clerkship::matching::testing {

// A round written with indices: rank_lists[a] are session indices best
// first; rankings[s] are applicant indices best first, or nullopt for a
// lottery session.
struct DenseRound {
  uint64_t seed = 0;
  std::vector<int32_t> capacity;
  std::vector<std::vector<int32_t>> rank_lists;
  std::vector<std::optional<std::vector<int32_t>>> rankings;
};

inline std::string ApplicantId(int32_t a) {
  return absl::StrFormat("applicants/a%03d", a);
}
inline std::string SessionId(int32_t s) {
  return absl::StrFormat("rotations/r%03d/sessions/s1", s);
}

// Builds the Instance; ids are zero-padded so index order is id order.
inline Instance MakeInstance(const DenseRound& round) {
  InstanceBuilder builder(round.seed);
  for (size_t s = 0; s < round.capacity.size(); ++s) {
    builder.AddSession(SessionId(static_cast<int32_t>(s)), round.capacity[s]);
  }
  for (size_t a = 0; a < round.rank_lists.size(); ++a) {
    builder.AddApplicant(ApplicantId(static_cast<int32_t>(a)),
                         round.rank_lists[a]);
  }
  for (size_t s = 0; s < round.rankings.size(); ++s) {
    if (round.rankings[s].has_value()) {
      builder.SetSessionRanking(static_cast<int32_t>(s), *round.rankings[s]);
    }
  }
  absl::StatusOr<Instance> instance = std::move(builder).Build();
  EXPECT_TRUE(instance.ok()) << instance.status();
  return instance.ok() ? *std::move(instance) : Instance{};
}

// Position of `x` in `list`, or -1.
inline int32_t PositionIn(const std::vector<int32_t>& list, int32_t x) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == x) return static_cast<int32_t>(i);
  }
  return -1;
}

// Stability straight from the definition, over explicit session orders
// (`session_order[s]`: applicants best first, everyone else unacceptable).
// O(A * S * A): fine for the small instances it is used on. On failure
// `why` says what was violated.
inline bool IsStableByDefinition(
    const std::vector<int32_t>& capacity,
    const std::vector<std::vector<int32_t>>& rank_lists,
    const std::vector<std::vector<int32_t>>& session_order,
    const std::vector<int32_t>& match, std::string* why) {
  const int32_t num_applicants = static_cast<int32_t>(rank_lists.size());
  const int32_t num_sessions = static_cast<int32_t>(capacity.size());
  if (static_cast<int32_t>(match.size()) != num_applicants) {
    *why = "size";
    return false;
  }
  for (int32_t s = 0; s < num_sessions; ++s) {
    int32_t count = 0;
    for (int32_t a = 0; a < num_applicants; ++a) count += match[a] == s;
    if (count > capacity[s]) {
      *why = absl::StrFormat("session %d over capacity", s);
      return false;
    }
  }
  for (int32_t a = 0; a < num_applicants; ++a) {
    const int32_t s = match[a];
    if (s == -1) continue;
    if (s < 0 || s >= num_sessions || PositionIn(rank_lists[a], s) < 0 ||
        PositionIn(session_order[s], a) < 0) {
      *why = absl::StrFormat("applicant %d: unacceptable match %d", a, s);
      return false;
    }
  }
  for (int32_t a = 0; a < num_applicants; ++a) {
    for (int32_t s = 0; s < num_sessions; ++s) {
      const int32_t a_rank_of_s = PositionIn(rank_lists[a], s);
      const int32_t s_rank_of_a = PositionIn(session_order[s], a);
      if (a_rank_of_s < 0 || s_rank_of_a < 0 || match[a] == s) continue;
      const bool applicant_wants =
          match[a] == -1 || a_rank_of_s < PositionIn(rank_lists[a], match[a]);
      if (!applicant_wants) continue;
      int32_t count = 0;
      bool prefers_a_to_someone = false;
      for (int32_t b = 0; b < num_applicants; ++b) {
        if (match[b] != s) continue;
        ++count;
        if (s_rank_of_a < PositionIn(session_order[s], b)) {
          prefers_a_to_someone = true;
        }
      }
      if (count < capacity[s] || prefers_a_to_someone) {
        *why =
            absl::StrFormat("blocking pair (applicant %d, session %d)", a, s);
        return false;
      }
    }
  }
  return true;
}

// Every matching that respects capacities and mutual acceptability,
// enumerated by brute force (each applicant: unmatched or any acceptable
// session with room).
inline void EnumerateMatchings(
    const std::vector<int32_t>& capacity,
    const std::vector<std::vector<int32_t>>& rank_lists,
    const std::vector<std::vector<int32_t>>& session_order, int32_t applicant,
    std::vector<int32_t>* match, std::vector<int32_t>* room,
    std::vector<std::vector<int32_t>>* out) {
  if (applicant == static_cast<int32_t>(rank_lists.size())) {
    out->push_back(*match);
    return;
  }
  (*match)[applicant] = -1;
  EnumerateMatchings(capacity, rank_lists, session_order, applicant + 1, match,
                     room, out);
  for (int32_t s : rank_lists[applicant]) {
    if ((*room)[s] == 0 || PositionIn(session_order[s], applicant) < 0) {
      continue;
    }
    --(*room)[s];
    (*match)[applicant] = s;
    EnumerateMatchings(capacity, rank_lists, session_order, applicant + 1,
                       match, room, out);
    ++(*room)[s];
  }
  (*match)[applicant] = -1;
}

inline std::vector<std::vector<int32_t>> AllStableMatchings(
    const std::vector<int32_t>& capacity,
    const std::vector<std::vector<int32_t>>& rank_lists,
    const std::vector<std::vector<int32_t>>& session_order) {
  std::vector<std::vector<int32_t>> all;
  std::vector<int32_t> match(rank_lists.size(), -1);
  std::vector<int32_t> room = capacity;
  EnumerateMatchings(capacity, rank_lists, session_order, 0, &match, &room,
                     &all);
  std::vector<std::vector<int32_t>> stable;
  std::string why;
  for (const auto& m : all) {
    if (IsStableByDefinition(capacity, rank_lists, session_order, m, &why)) {
      stable.push_back(m);
    }
  }
  return stable;
}

// A random small round: `applicants` applicants, `sessions` sessions,
// capacities 0..max_capacity, rank lists of random length and order, and
// rankings over random subsets of applicants (including some who did not
// rank the session). With `lottery_share` > 0 some sessions have no ranking.
// With `complete`, every list and ranking names everyone (in random order)
// and capacities are at least 1: such rounds often have several stable
// matchings, which is what optimality tests need.
inline DenseRound RandomSmallRound(std::mt19937_64& rng, int32_t applicants,
                                   int32_t sessions, int32_t max_capacity,
                                   double lottery_share,
                                   bool complete = false) {
  auto below = [&rng](int32_t n) {
    return static_cast<int32_t>(rng() % static_cast<uint64_t>(n));
  };
  DenseRound round;
  round.seed = rng();
  for (int32_t s = 0; s < sessions; ++s) {
    round.capacity.push_back(complete ? 1 + below(max_capacity)
                                      : below(max_capacity + 1));
  }
  for (int32_t a = 0; a < applicants; ++a) {
    std::vector<int32_t> order(sessions);
    for (int32_t s = 0; s < sessions; ++s) order[s] = s;
    for (int32_t i = sessions - 1; i > 0; --i) {
      std::swap(order[i], order[below(i + 1)]);
    }
    if (!complete) order.resize(below(sessions + 1));
    round.rank_lists.push_back(order);
  }
  for (int32_t s = 0; s < sessions; ++s) {
    if (static_cast<double>(rng() % 1000) < lottery_share * 1000) {
      round.rankings.push_back(std::nullopt);
      continue;
    }
    std::vector<int32_t> order(applicants);
    for (int32_t a = 0; a < applicants; ++a) order[a] = a;
    for (int32_t i = applicants - 1; i > 0; --i) {
      std::swap(order[i], order[below(i + 1)]);
    }
    if (!complete) order.resize(below(applicants + 1));
    round.rankings.push_back(order);
  }
  return round;
}

}  // namespace clerkship::matching::testing

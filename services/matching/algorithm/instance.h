#pragma once

// The inputs of one placement round (the hospitals/residents problem), held
// with dense integer indices so the algorithm can work on flat arrays. String
// ids ("applicants/a1", "rotations/r/sessions/s") only matter at the edges:
// they are kept alongside for output, explanations and the seeded lottery.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clerkship::matching {

// Marks an applicant who holds no placement.
inline constexpr int32_t kUnmatched = -1;

// A read-only view of a run of indices inside one of Instance's flat arrays
// (C++17 has no std::span).
class IndexRange {
 public:
  IndexRange(const int32_t* begin, const int32_t* end)
      : begin_(begin), end_(end) {}
  const int32_t* begin() const { return begin_; }
  const int32_t* end() const { return end_; }
  size_t size() const { return static_cast<size_t>(end_ - begin_); }
  bool empty() const { return begin_ == end_; }
  int32_t operator[](size_t i) const { return begin_[i]; }

 private:
  const int32_t* begin_;
  const int32_t* end_;
};

// Preference lists are stored in compressed-row form: list i occupies
// items[begin[i] .. begin[i + 1]), best first. One allocation per array keeps
// a national round (~600k list entries) cache-friendly.
struct Instance {
  // Seeds the lottery of every session that submitted no ranking.
  uint64_t seed = 0;

  std::vector<std::string> applicant_ids;
  std::vector<std::string> session_ids;
  std::vector<int32_t> session_capacity;

  // StableIdHash of each id (lottery.h), derived once when the instance is
  // built: hashing tens of thousands of heap-allocated strings on every run
  // would cost more than the matching itself. InstanceBuilder::Build fills
  // them; ValidateInstance checks them.
  std::vector<uint64_t> applicant_lottery_keys;
  std::vector<uint64_t> session_lottery_keys;

  // Applicant rank lists: session indices, most wanted first. A session that
  // is not on an applicant's list is unacceptable to that applicant.
  std::vector<int32_t> rank_list_begin{0};
  std::vector<int32_t> rank_lists;

  // Session rankings: applicant indices, most preferred first. A session with
  // session_has_ranking[s] == 0 submitted none and ranks, by lottery, every
  // applicant who ranked it; its range in session_rankings is empty. A ranked
  // session finds every applicant missing from its ranking unacceptable.
  std::vector<uint8_t> session_has_ranking;
  std::vector<int32_t> session_ranking_begin{0};
  std::vector<int32_t> session_rankings;

  int32_t num_applicants() const {
    return static_cast<int32_t>(applicant_ids.size());
  }
  int32_t num_sessions() const {
    return static_cast<int32_t>(session_ids.size());
  }
  IndexRange RankList(int32_t applicant) const {
    return {rank_lists.data() + rank_list_begin[applicant],
            rank_lists.data() + rank_list_begin[applicant + 1]};
  }
  bool HasRanking(int32_t session) const {
    return session_has_ranking[session] != 0;
  }
  IndexRange SessionRanking(int32_t session) const {
    return {session_rankings.data() + session_ranking_begin[session],
            session_rankings.data() + session_ranking_begin[session + 1]};
  }
  int64_t TotalSeats() const;
};

// Checks every structural invariant the algorithm relies on: array sizes,
// index ranges, non-negative capacities, unique non-empty ids with matching
// lottery keys, no session twice on a rank list and no applicant twice in a
// ranking, empty rankings for lottery sessions. RunDeferredAcceptance
// assumes these hold.
absl::Status ValidateInstance(const Instance& instance);

// Appends sessions and applicants index by index; used by the generator and
// by tests that think in indices rather than ids.
class InstanceBuilder {
 public:
  explicit InstanceBuilder(uint64_t seed) { instance_.seed = seed; }

  // Returns the new session's index. It starts as a lottery session.
  int32_t AddSession(std::string id, int32_t capacity);
  // Returns the new applicant's index.
  int32_t AddApplicant(std::string id, const std::vector<int32_t>& rank_list);
  // Gives a session a coordinator ranking (applicant indices, best first);
  // applicants may be added before or after.
  void SetSessionRanking(int32_t session, std::vector<int32_t> ranking);

  // Flattens the rankings, derives the lottery keys and validates.
  absl::StatusOr<Instance> Build() &&;

 private:
  Instance instance_;
  std::vector<std::optional<std::vector<int32_t>>> rankings_;
};

// String-keyed inputs as the service stores them and the round export
// carries them.
struct SessionInput {
  std::string id;
  int32_t capacity = 0;
  // Absent: the session submitted no ranking, so a lottery orders everyone
  // who ranked it. Present but empty: the session accepts nobody.
  std::optional<std::vector<std::string>> ranking;
};

struct ApplicantInput {
  std::string id;
  std::vector<std::string> rank_list;
};

struct RoundInput {
  uint64_t seed = 0;
  std::vector<SessionInput> sessions;
  std::vector<ApplicantInput> applicants;
};

// Maps ids to dense indices and validates. Indices follow the byte order of
// the ids, not the input order, so a round loaded from an unordered store
// (a Redis set, say) gives byte-identical output however it was listed.
// Every applicant named in a session ranking must be one of the round's
// applicants (give applicants who submitted no list an empty rank list);
// errors name the offending input by position and id.
absl::StatusOr<Instance> BuildInstance(const RoundInput& input);

}  // namespace clerkship::matching

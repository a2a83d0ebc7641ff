#pragma once

// Persistence of placement rounds, behind an interface so the service logic
// does not depend on Redis. Asynchronous methods (for request handlers) call
// `done` once, on the store's thread, which must not block. Blocking methods
// are for the service's round worker and waitlist consumer threads, never for
// handlers or callbacks.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clerkship/matching/v1/matching.pb.h"

namespace clerkship::matching {

template <typename T>
using StoreDone = std::function<void(absl::StatusOr<T>)>;
using StoreStatusDone = std::function<void(absl::Status)>;

// What the Lua checks of rank submissions need, read in one step.
struct RoundControl {
  v1::Round::State state = v1::Round::STATE_UNSPECIFIED;
  absl::Time rank_deadline;
  int32_t max_ranks = 0;
  bool ranking_closed = false;  // RunRound has started
  // For each session asked about: is it one of the round's sessions?
  std::vector<bool> in_round;
};

// A round's complete inputs as stored.
struct StoredRoundInputs {
  v1::Round round;  // BASIC record
  std::vector<std::string> sessions;
  std::vector<std::pair<std::string, std::vector<std::string>>>
      rank_lists;  // by applicant
  std::vector<std::pair<std::string, std::vector<std::string>>>
      rankings;  // by session
  std::vector<std::pair<std::string, int32_t>>
      capacities;  // set once the round has run
};

struct ResultFilter {
  std::string applicant;  // exact applicant, or empty
  std::string session;    // only results matched to it, or empty
  std::string after;  // page position: the last applicant of the previous page
  int limit = 100;
};

struct ResultPage {
  v1::Round::State state = v1::Round::STATE_UNSPECIFIED;
  std::vector<v1::RoundResult> results;
  int32_t total = 0;
  bool more = false;
};

class RoundStore {
 public:
  virtual ~RoundStore() = default;

  // Stores a new OPEN round (name, record and sessions set). A request_id seen
  // in the last 24 hours returns the round that request created. ALREADY_EXISTS
  // when the id is taken.
  virtual void CreateRound(const v1::Round& round,
                           const std::string& request_id,
                           StoreDone<v1::Round> done) = 0;
  // The round with its counts and etag; `full` adds sessions and session fill.
  virtual void GetRound(const std::string& id, bool full,
                        StoreDone<v1::Round> done) = 0;
  virtual void GetControl(const std::string& id,
                          const std::vector<std::string>& sessions,
                          StoreDone<RoundControl> done) = 0;
  // Replace (or, when empty, remove) a rank list / session ranking, re-checking
  // in the same step that ranking is still open at `now` (FAILED_PRECONDITION
  // RANKING_CLOSED).
  virtual void StoreRankList(const std::string& id,
                             const std::string& applicant,
                             const std::vector<std::string>& sessions,
                             absl::Time now, StoreStatusDone done) = 0;
  virtual void StoreSessionRanking(const std::string& id,
                                   const std::string& session,
                                   const std::vector<std::string>& applicants,
                                   absl::Time now, StoreStatusDone done) = 0;
  virtual void ListResults(const std::string& id, const ResultFilter& filter,
                           StoreDone<ResultPage> done) = 0;

  // Blocking, for the round worker.
  // OPEN → ranking closed (idempotent); ABORTED on a stale etag,
  // FAILED_PRECONDITION when not OPEN. Returns the round.
  virtual absl::StatusOr<v1::Round> CloseRanking(const std::string& id,
                                                 const std::string& etag) = 0;
  virtual absl::StatusOr<StoredRoundInputs> LoadInputs(
      const std::string& id) = 0;
  // Writes capacities and results (invisible until CommitRun).
  virtual absl::Status StoreResults(
      const std::string& id,
      const std::vector<std::pair<std::string, int32_t>>& capacities,
      const std::vector<v1::RoundResult>& results) = 0;
  // OPEN → RUN with the record (stats without session_fill) and the session
  // fill.
  virtual absl::StatusOr<v1::Round> CommitRun(const std::string& id,
                                              const v1::Round& record,
                                              const v1::RoundStats& fill) = 0;
  virtual absl::StatusOr<std::vector<v1::RoundResult>> LoadResults(
      const std::string& id) = 0;
  virtual absl::Status UpdateResults(
      const std::string& id, const std::vector<v1::RoundResult>& results) = 0;
  // RUN → PUBLISHED with `record`, appending `event` (serialized) to
  // mat:events; on a PUBLISHED round only the record changes and no event is
  // written.
  virtual absl::StatusOr<v1::Round> CommitPublish(const std::string& id,
                                                  const v1::Round& record,
                                                  const std::string& event) = 0;
};

}  // namespace clerkship::matching

#pragma once

// Rounds and waitlist-promotion claims in Redis. Keys (all under the matching
// prefix "mat:"):
//   mat:round:{id}                    HASH  record (serialized Round, BASIC
//   view without
//                                           counts and etag), state
//                                           (OPEN|RUN|PUBLISHED), deadline_ms,
//                                           max_ranks, closed (1 once RunRound
//                                           started), version (bumped on every
//                                           change; the etag is a hash of it)
//   mat:round:{id}:sessions           SET   the round's sessions
//   mat:round:{id}:ranklists          HASH  applicant → ranked sessions,
//   "\n"-separated mat:round:{id}:rankings           HASH  session → ranked
//   applicants, "\n"-separated mat:round:{id}:capacity           HASH  session
//   → capacity used by the run mat:round:{id}:fill               STRING
//   serialized RoundStats holding session_fill mat:round:{id}:results HASH
//   applicant → serialized RoundResult mat:round:{id}:result_order       ZSET
//   applicants with a result (score 0, by name)
//   mat:round:{id}:result_by_session  ZSET  "{session} {applicant}" of every
//   match mat:rounds                        ZSET  round ids (score 0, by name)
//   mat:idem:round:{request_id}       STRING round id created by that request
//   (24 h) mat:promoted:{event_id}           STRING waitlist promotion claim of
//   a freed seat:
//                                           "pending {consumer}" (lease) →
//                                           "done {what}"
//   mat:events                        STREAM round.published events
// Every read-modify-write is one Lua script.

#include <memory>
#include <string>
#include <vector>

#include "common/redis/redis_client.h"
#include "services/matching/round_store.h"

namespace clerkship::matching {

class RedisRoundStore : public RoundStore {
 public:
  explicit RedisRoundStore(redis::Client* redis) : redis_(redis) {}

  void CreateRound(const v1::Round& round, const std::string& request_id,
                   StoreDone<v1::Round> done) override;
  void GetRound(const std::string& id, bool full,
                StoreDone<v1::Round> done) override;
  void GetControl(const std::string& id,
                  const std::vector<std::string>& sessions,
                  StoreDone<RoundControl> done) override;
  void StoreRankList(const std::string& id, const std::string& applicant,
                     const std::vector<std::string>& sessions, absl::Time now,
                     StoreStatusDone done) override;
  void StoreSessionRanking(const std::string& id, const std::string& session,
                           const std::vector<std::string>& applicants,
                           absl::Time now, StoreStatusDone done) override;
  void ListResults(const std::string& id, const ResultFilter& filter,
                   StoreDone<ResultPage> done) override;

  absl::StatusOr<v1::Round> CloseRanking(const std::string& id,
                                         const std::string& etag) override;
  absl::StatusOr<StoredRoundInputs> LoadInputs(const std::string& id) override;
  absl::Status StoreResults(
      const std::string& id,
      const std::vector<std::pair<std::string, int32_t>>& capacities,
      const std::vector<v1::RoundResult>& results) override;
  absl::StatusOr<v1::Round> CommitRun(const std::string& id,
                                      const v1::Round& record,
                                      const v1::RoundStats& fill) override;
  absl::StatusOr<std::vector<v1::RoundResult>> LoadResults(
      const std::string& id) override;
  absl::Status UpdateResults(
      const std::string& id,
      const std::vector<v1::RoundResult>& results) override;
  absl::StatusOr<v1::Round> CommitPublish(const std::string& id,
                                          const v1::Round& record,
                                          const std::string& event) override;

 private:
  // Every field of a hash, ordered by field, read in slices (worker threads
  // only).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanHash(
      const std::string& key);
  // Sends the commands pipelined and waits for all replies (worker threads
  // only).
  absl::Status RunPipelined(std::vector<std::vector<std::string>> commands);

  redis::Client* redis_;
};

// Exactly-once bookkeeping of waitlist promotions, one claim per freed-seat
// event.
class RedisPromotionClaims {
 public:
  enum class Claim { kClaimed, kAlreadyDone, kHeldByOther };

  RedisPromotionClaims(redis::Client* redis, absl::Duration lease,
                       absl::Duration retention)
      : redis_(redis), lease_(lease), retention_(retention) {}

  // Blocking (consumer thread). Takes the claim for `event_id` unless it is
  // done or another consumer's lease is still running.
  absl::StatusOr<Claim> Acquire(const std::string& event_id,
                                const std::string& consumer);
  // Marks it done (kept for `retention`), if the claim is still ours.
  absl::Status Finish(const std::string& event_id, const std::string& consumer,
                      const std::string& outcome);
  // Gives the claim back after a failure so a redelivery can try again.
  absl::Status Release(const std::string& event_id,
                       const std::string& consumer);

 private:
  redis::Client* redis_;
  absl::Duration lease_;
  absl::Duration retention_;
};

}  // namespace clerkship::matching

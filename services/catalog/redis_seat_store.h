#pragma once

// Seat holds in Redis (key layout in catalog_lua.h). Each call is one Lua script that also
// sweeps the session's lapsed holds, keeps the search indexes' seat figures current and
// appends the seat.* event.

#include "common/redis/redis_client.h"
#include "services/catalog/seat_store.h"

namespace clerkship::catalog {

class RedisSeatStore : public SeatStore {
 public:
  explicit RedisSeatStore(redis::Client* redis) : redis_(redis) {}

  // Seat confirmations must survive a Redis failover: with replicas > 0 each one waits
  // (Redis WAIT) until that many replicas have it, and fails with UNAVAILABLE otherwise
  // (the applicant retries; ConfirmSeat is idempotent). 0, the default, does not wait.
  void SetConfirmWait(int replicas, absl::Duration timeout) {
    confirm_wait_replicas_ = replicas;
    confirm_wait_timeout_ = timeout;
  }

  void HoldSeat(const SeatKey& key, const std::string& holder, absl::Time expire,
                const EventStamp& stamp, absl::Time now, Done<v1::SeatHold> done) override;
  void ConfirmSeat(const SeatKey& key, const std::string& holder, const EventStamp& stamp,
                   absl::Time now, Done<v1::SeatHold> done) override;
  void ReleaseSeat(const SeatKey& key, const std::string& holder, const std::string& reason,
                   const EventStamp& stamp, absl::Time now,
                   Done<v1::ReleaseSeatResponse> done) override;
  void GetSeatInventory(const SeatKey& key, absl::Time now,
                        Done<v1::SeatInventory> done) override;
  void Sweep(absl::Time now, int limit, Done<int> done) override;

 private:
  redis::Client* redis_;
  int confirm_wait_replicas_ = 0;
  absl::Duration confirm_wait_timeout_ = absl::Milliseconds(250);
};

}  // namespace clerkship::catalog

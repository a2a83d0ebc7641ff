#pragma once

// Persistence of seat holds. Each operation is atomic in the store (one Lua script in
// Redis) and appends its seat.* event in the same step; callbacks run on the store's thread.

#include <string>

#include "absl/time/time.h"
#include "clerkship/catalog/v1/seats.pb.h"
#include "services/catalog/catalog_store.h"

namespace clerkship::catalog {

// Identity and time of the event a seat operation emits (the store fills in the payload).
struct EventStamp {
  std::string id;     // UUID
  absl::Time time;
  std::string actor;  // x-clerkship-principal of the caller
};

struct SeatKey {
  std::string rotation_id;
  std::string session_id;
};

class SeatStore {
 public:
  virtual ~SeatStore() = default;

  // Takes a seat for `holder` until `expire`, or returns the holder's live hold or
  // confirmed seat unchanged. NOT_FOUND (session), FAILED_PRECONDITION
  // ROTATION_NOT_PUBLISHED, RESOURCE_EXHAUSTED NO_SEATS_AVAILABLE.
  virtual void HoldSeat(const SeatKey& key, const std::string& holder, absl::Time expire,
                        const EventStamp& stamp, absl::Time now, Done<v1::SeatHold> done) = 0;
  // FAILED_PRECONDITION HOLD_NOT_FOUND / HOLD_EXPIRED; confirming twice is fine.
  virtual void ConfirmSeat(const SeatKey& key, const std::string& holder,
                           const EventStamp& stamp, absl::Time now,
                           Done<v1::SeatHold> done) = 0;
  virtual void ReleaseSeat(const SeatKey& key, const std::string& holder,
                           const std::string& reason, const EventStamp& stamp, absl::Time now,
                           Done<v1::ReleaseSeatResponse> done) = 0;
  virtual void GetSeatInventory(const SeatKey& key, absl::Time now,
                                Done<v1::SeatInventory> done) = 0;
  // Ends holds that lapsed by `now` (emitting seat.expired) and re-indexes rotations whose
  // sessions stopped taking applications; at most `limit` of each. Returns how many
  // entries were processed.
  virtual void Sweep(absl::Time now, int limit, Done<int> done) = 0;
};

}  // namespace clerkship::catalog

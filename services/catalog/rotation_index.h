#pragma once

// An in-process copy of what search and GetRotation need of every rotation: the record, its
// state, search terms and fee, and per session the start day, the moment applications
// close, capacity, confirmed seats and the expiry of every live hold. Searches are evaluated
// here in C++ (on the caller's thread, many at a time) instead of in a Lua script on Redis's
// single thread; seat figures and open sessions are computed for the `now` of each call, so
// lapsed holds and passed deadlines count without any write.
//
// The copy follows Redis through a change counter (cat:ver) and a per-rotation change log
// (cat:changed), see RedisCatalogStore: before answering, the store checks cat:ver and
// applies what changed, so answers are as fresh as a direct read of Redis. No gRPC or Redis
// in here.

#include <cstdint>
#include <memory>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "services/catalog/catalog_rules.h"
#include "services/catalog/catalog_store.h"

namespace clerkship::catalog {

struct IndexedSession {
  std::string id;
  int64_t start_day = 0;
  int64_t close_ms = 0;  // applications are accepted while now < close_ms
  int64_t capacity = 0;
  int64_t confirmed = 0;
  std::vector<int64_t> hold_expiries_ms;  // live and lapsed-unswept holds
};

struct IndexedRotation {
  std::string id;
  v1::Rotation rotation;  // as stored (without next_start_date / seats_available)
  v1::Rotation::State state = v1::Rotation::STATE_UNSPECIFIED;
  std::string time_zone;
  std::vector<std::string> terms;  // SearchTermsOf, as written with the record
  int64_t fee_cents = 0;
  std::vector<IndexedSession> sessions;  // by start day, then id
};

class RotationIndex {
 public:
  // Inserts or replaces a rotation.
  void Upsert(IndexedRotation rotation);
  void Remove(const std::string& rotation_id);
  size_t size() const { return slot_of_.size(); }

  // The rotation as GetRotation returns it at `now` (next_start_date and seats_available
  // over its open sessions), or nullopt.
  std::optional<StoredRotation> View(const std::string& rotation_id, absl::Time now) const;
  // The same, in wire form (no copy of the record).
  std::optional<RotationWire> ViewWire(const std::string& rotation_id, absl::Time now) const;

  // What SearchRotations answers: PUBLISHED rotations matching `query` at `now`, in the
  // query's order, after `cursor`, at most `limit`, with the total.
  SearchPage Search(const SearchQuery& query, const std::optional<SearchCursor>& cursor,
                    int limit, absl::Time now) const;

 private:
  struct Slot {
    IndexedRotation data;
    std::shared_ptr<const RotationRecord> record;  // data.rotation serialized
    std::vector<uint32_t> term_ids;  // sorted; only while published
    bool live = false;
  };
  uint32_t TermId(const std::string& term);
  void Unpost(uint32_t slot);
  void Post(uint32_t slot);
  // next_start_date (-1: none) and seats_available over the open sessions at now_ms.
  static std::pair<int64_t, int64_t> Computed(const Slot& slot, int64_t now_ms);
  v1::Rotation ViewOf(const Slot& slot, int64_t now_ms) const;
  RotationWire WireOf(const Slot& slot, int64_t now_ms) const;

  // What a search reads of each rotation, packed apart from the records (same index as
  // slots_) so that a scan touches little memory: the fee, and per session (in the record's
  // order) the start day, when applications close, and the free seats before holds; holds
  // are counted from the record's expiries only for sessions that have any.
  struct HotSession {
    int64_t start_day;
    int64_t close_ms;
    int64_t free_before_holds;  // capacity - confirmed
    bool has_holds;
  };
  struct Hot {
    int64_t fee_cents = 0;
    uint64_t id_head[2] = {0, 0};  // the id's first 16 bytes, for ordering equal keys
    absl::InlinedVector<HotSession, 2> sessions;
  };
  void SetHot(uint32_t slot);
  int64_t AvailableIn(uint32_t slot, size_t session, int64_t now_ms) const;

  std::vector<Slot> slots_;
  std::vector<Hot> hot_;
  std::vector<uint32_t> free_slots_;
  absl::flat_hash_map<std::string, uint32_t> slot_of_;
  absl::flat_hash_map<std::string, uint32_t> term_ids_;
  std::vector<std::vector<uint32_t>> postings_;  // term id -> published slots, ascending
  std::vector<uint32_t> published_;              // published slots, ascending
};

}  // namespace clerkship::catalog

#pragma once

// An in-process copy of the published catalog, read through the catalog's gRPC
// API and kept warm by following its event stream.
//
// Load: remember the stream's last entry id, then page through SearchRotations
// (PUBLISHED rotations), ListSessions for each, and GetSite for each site's
// time zone. Follow: a plain XREAD tail of `cat:events` from the remembered id
// (every replica needs every event, so no consumer group):
// rotation.published/updated refetch the rotation and its sessions,
// rotation.archived drops it, session.* and seat.* update the session from the
// event's payload. Events that arrive during a load are applied after it; they
// only overwrite with values as new or newer. A full reload every
// refresh_interval repairs anything missed (a trimmed stream, a lost refetch).
//
// Readers get immutable snapshots; the rotation entries are shared and replaced
// copy-on-write, so a reader never waits on a writer for longer than a pointer
// swap.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"
#include "services/matching/recommender.h"
#include "services/matching/service_clients.h"

namespace clerkship::matching {

struct CatalogCacheOptions {
  redis::ClientOptions redis;  // the tail gets a connection of its own
  std::string stream = "cat:events";
  absl::Duration refresh_interval = absl::Minutes(10);
  absl::Duration block = absl::Milliseconds(500);
  int batch_size = 256;
};

class CatalogCache {
 public:
  using Snapshot = std::vector<std::shared_ptr<const CatalogRotation>>;

  CatalogCache(CatalogClient* catalog, CatalogCacheOptions options);
  ~CatalogCache();

  // Loads and follows on a background thread, retrying while the catalog or
  // Redis is down.
  void Start();
  void Stop();

  bool ready() const { return ready_.load(); }
  bool WaitReady(absl::Duration timeout) const;

  // Full reload (the background thread calls it; tests may too).
  absl::Status LoadAll();
  // Applies the events after the current position; returns how many were
  // applied.
  absl::StatusOr<int> PollOnce(absl::Duration block);

  // Every cached rotation, ordered by name.
  std::shared_ptr<const Snapshot> Rotations() const;
  // The same rotations indexed for Recommend, built on first use after a
  // change and then shared by every call until the next change. It holds the
  // snapshot it indexes, so it stays usable however long a caller keeps it.
  std::shared_ptr<const RecommendIndex> RecommendView() const;
  std::shared_ptr<const CatalogRotation> FindRotation(
      const std::string& rotation) const;
  // A session of a cached (hence published) rotation, with its last known seat
  // counts.
  std::optional<catalog::v1::Session> FindSession(
      const std::string& session) const;

  int64_t loads() const { return loads_.load(); }

  // Adds or replaces one rotation. The follower uses it; so do benchmarks that
  // fill a cache without a catalog behind it.
  void Upsert(std::shared_ptr<const CatalogRotation> entry);
  // Drops one rotation (the follower, on rotation.archived; tests).
  void Erase(const std::string& rotation);
  // Marks the cache usable without a load (benchmarks, with Upsert).
  void MarkReady() { ready_ = true; }

 private:
  void Run();
  absl::Status RefreshRotation(const std::string& rotation);
  absl::StatusOr<std::shared_ptr<CatalogRotation>> FetchRotation(
      const catalog::v1::Rotation& rotation);
  absl::StatusOr<std::string> SiteTimeZone(const std::string& site);
  absl::Status Apply(const std::string& type, const std::string& data);
  void UpdateSession(const std::string& rotation, const std::string& session,
                     const std::function<void(catalog::v1::Session*)>& change,
                     bool create);
  // Forgets the derived views after a change to rotations_.
  void InvalidateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const Snapshot> SnapshotLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CatalogClient* catalog_;
  CatalogCacheOptions options_;
  std::unique_ptr<redis::Client> redis_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> loads_{0};
  std::string position_ =
      "0-0";  // last stream entry applied; background thread only
  absl::Time last_load_ = absl::InfinitePast();

  // Held while a recommend view is built, so that callers arriving meanwhile
  // wait for that one instead of each building the same.
  mutable absl::Mutex view_build_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // The last view built, which the next build reuses for the rotations that
  // did not change.
  mutable std::shared_ptr<const RecommendIndex> last_view_
      ABSL_GUARDED_BY(view_build_mu_);
  mutable absl::Mutex mu_;
  absl::btree_map<std::string, std::shared_ptr<const CatalogRotation>>
      rotations_ ABSL_GUARDED_BY(mu_);
  mutable std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  mutable std::shared_ptr<const RecommendIndex> recommend_view_
      ABSL_GUARDED_BY(mu_);
  // Counts changes to rotations_, so that a view built from an older snapshot
  // is not kept.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, std::string> site_zones_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace clerkship::matching

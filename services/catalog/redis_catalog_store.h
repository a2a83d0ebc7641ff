#pragma once

// The catalog in Redis: sites, rotations, sessions and the search indexes. The key layout
// is described in catalog_lua.h. Every read-modify-write is one Lua script; rotations and
// sessions are re-encoded in C++ (field masks, etags) and written back by a script that
// only succeeds if the etag it was read at is still current (compare-and-set).

#include <atomic>
#include <memory>

#include "common/redis/redis_client.h"
#include "services/catalog/catalog_store.h"

namespace clerkship::catalog {

class RedisCatalogStore : public CatalogStore {
 public:
  explicit RedisCatalogStore(redis::Client* redis);
  ~RedisCatalogStore() override;

  // Starts loading the in-process rotation index (RotationIndex), which GetRotation and
  // SearchRotations answer from; without this call the first of them loads it.
  void LoadIndex();

  void CreateSite(const v1::Site& site, const std::string& request_id,
                  Done<v1::Site> done) override;
  void GetSite(const std::string& site_id, Done<v1::Site> done) override;
  void ListSites(const std::string& after_id, int limit,
                 Done<std::vector<v1::Site>> done) override;

  void CreateRotation(const RotationWrite& write, const std::string& request_id,
                      absl::Time now, Done<StoredRotation> done) override;
  void GetRotation(const std::string& rotation_id, absl::Time now,
                   Done<StoredRotation> done) override;
  void GetRotationWire(const std::string& rotation_id, absl::Time now,
                       Done<RotationWire> done) override;
  void WriteRotation(RotationTransition transition, const std::string& expected_etag,
                     const RotationWrite& write, const events::v1::Event& event,
                     absl::Time now, Done<StoredRotation> done) override;

  void CreateSession(const SessionWrite& write, const std::string& request_id,
                     const events::v1::Event& event, absl::Time now,
                     Done<StoredSession> done) override;
  void GetSession(const std::string& rotation_id, const std::string& session_id,
                  absl::Time now, Done<StoredSession> done) override;
  void UpdateSession(const std::string& expected_etag, const SessionWrite& write,
                     const events::v1::Event& event, absl::Time now,
                     Done<StoredSession> done) override;
  void ListSessions(const std::string& rotation_id, std::optional<int64_t> after_start_day,
                    const std::string& after_session_id, int limit, bool open_only,
                    absl::Time now, Done<SessionPage> done) override;

  void SearchRotations(const SearchQuery& query, const std::optional<SearchCursor>& cursor,
                       int limit, absl::Time now, Done<SearchPage> done) override;

  // How many lapsed holds a search sweeps before it answers.
  static constexpr int kSearchSweepLimit = 200;

  // Rotations fetched per index sync step.
  static constexpr int kIndexSyncBatch = 500;

  class IndexSync;
  class VersionReads;

 private:
  template <typename T, typename Read, typename SendVersion>
  void ReadFresh(Read read, SendVersion send_version, Done<T> done);
  void SendVersionRead(Done<redis::Reply> done);

  redis::Client* redis_;
  // Shared with the callbacks of Redis calls in flight, which may outlive the store.
  std::shared_ptr<IndexSync> index_;
  std::shared_ptr<VersionReads> versions_;
};

// How a search term is written in a rotation's `ix` field (cat:idx:<term>).
std::string TermKey(const std::string& term);

}  // namespace clerkship::catalog

#pragma once

// The catalog in Redis: sites, rotations, sessions and the search indexes. The key layout
// is described in catalog_lua.h. Every read-modify-write is one Lua script; rotations and
// sessions are re-encoded in C++ (field masks, etags) and written back by a script that
// only succeeds if the etag it was read at is still current (compare-and-set).

#include <atomic>

#include "common/redis/redis_client.h"
#include "services/catalog/catalog_store.h"

namespace clerkship::catalog {

class RedisCatalogStore : public CatalogStore {
 public:
  explicit RedisCatalogStore(redis::Client* redis) : redis_(redis) {}

  void CreateSite(const v1::Site& site, const std::string& request_id,
                  Done<v1::Site> done) override;
  void GetSite(const std::string& site_id, Done<v1::Site> done) override;
  void ListSites(const std::string& after_id, int limit,
                 Done<std::vector<v1::Site>> done) override;

  void CreateRotation(const RotationWrite& write, const std::string& request_id,
                      absl::Time now, Done<StoredRotation> done) override;
  void GetRotation(const std::string& rotation_id, absl::Time now,
                   Done<StoredRotation> done) override;
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

  // How many lapsed holds / closed sessions a search sweeps before it reads the indexes.
  static constexpr int kSearchSweepLimit = 200;

  // How searches are answered (see kSearch in catalog_lua.cc): as the script chooses, or,
  // for tests, by one strategy wherever it applies.
  enum class SearchPlan { kAuto, kEvaluateCandidates, kWalkIndex, kMaterialize };
  void set_search_plan(SearchPlan plan) { search_plan_ = plan; }

 private:
  redis::Client* redis_;
  std::atomic<SearchPlan> search_plan_{SearchPlan::kAuto};
};

// The Redis key of a search term's index set.
std::string TermKey(const std::string& term);

}  // namespace clerkship::catalog

#pragma once

// The catalog in Redis. Keys (all under the catalog's own prefix "cat:"):
//   cat:site:{id}            serialized clerkship.catalog.v1.Site
//   cat:sites                sorted set of site ids (score 0, ordered by id) for listing
//   cat:idem:site:{request}  site id created by that request id (expires after 24 h)
// Every read-modify-write is one Lua script.

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

 private:
  redis::Client* redis_;
};

}  // namespace clerkship::catalog

#pragma once

// Persistence of the catalog, behind an interface so the service logic does not depend on
// Redis. Every method is asynchronous: `done` runs once, on a thread of the store's
// choosing (the Redis event loop), and must not block.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clerkship/catalog/v1/catalog.pb.h"

namespace clerkship::catalog {

template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

class CatalogStore {
 public:
  virtual ~CatalogStore() = default;

  // Stores a new site (its name already set). With a request_id seen before, returns the
  // site created then. ALREADY_EXISTS when the name is taken.
  virtual void CreateSite(const v1::Site& site, const std::string& request_id,
                          Done<v1::Site> done) = 0;
  // NOT_FOUND when there is no such site.
  virtual void GetSite(const std::string& site_id, Done<v1::Site> done) = 0;
  // Sites ordered by id, starting after `after_id` (empty: from the start), at most
  // `limit` of them.
  virtual void ListSites(const std::string& after_id, int limit,
                         Done<std::vector<v1::Site>> done) = 0;
};

}  // namespace clerkship::catalog

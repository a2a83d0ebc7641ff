#pragma once

// The demo catalog for deploy/local/run: a realistic, deterministic set of sites, rotations
// and sessions, and a loader that creates it through the public API, skipping whatever
// already exists, so that running it again changes nothing.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "clerkship/catalog/v1/catalog.pb.h"

namespace clerkship::catalog::demo {

struct DemoSession {
  std::string id;
  v1::Session session;
};

struct DemoRotation {
  std::string id;
  v1::Rotation rotation;
  std::vector<DemoSession> sessions;
};

struct DemoSite {
  std::string id;
  v1::Site site;
};

struct DemoCatalog {
  std::vector<DemoSite> sites;
  std::vector<DemoRotation> rotations;
};

// 30 sites in 14 states, 200 rotations covering every experience type and 24 specialties,
// each with 2-4 sessions starting within the 12 months after `today`. The same `seed` gives
// the same ids and content (session dates move with `today`).
DemoCatalog BuildDemoCatalog(absl::CivilDay today, uint64_t seed = 2027);

struct LoadStats {
  int sites_created = 0, sites_existing = 0;
  int rotations_created = 0, rotations_existing = 0;
  int sessions_created = 0, sessions_existing = 0;
  int rotations_published = 0;
};

// Creates the catalog as `principal` (an admin: "admins/..."), all rotations published.
// Things that exist already are left as they are. Retries while the service is starting.
absl::Status LoadDemoCatalog(const std::shared_ptr<grpc::Channel>& channel,
                             const DemoCatalog& catalog, const std::string& principal,
                             LoadStats* stats);

}  // namespace clerkship::catalog::demo

#pragma once

// A seeded, generated catalog (sites, rotations with sessions, seats taken, drafts and
// archived rotations) and a loader that creates it through the public gRPC API. The search
// tests compare the service against a plain filter over the same data; the benchmark loads
// a large one.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clerkship/catalog/v1/catalog.pb.h"

namespace clerkship::catalog {

struct GeneratedSession {
  std::string id;
  v1::Session session;  // as sent to CreateSession
  int holds = 0;        // seats held (by distinct holders) after publishing
};

struct GeneratedRotation {
  enum class Fate { kDraft, kPublished, kArchived };
  std::string id;
  v1::Rotation rotation;  // as sent to CreateRotation
  std::vector<GeneratedSession> sessions;
  Fate fate = Fate::kPublished;
};

struct GeneratedSite {
  std::string id;
  v1::Site site;
};

struct GeneratedCatalog {
  std::vector<GeneratedSite> sites;
  std::vector<GeneratedRotation> rotations;

  const v1::Site& SiteOf(const GeneratedRotation& r) const;
};

// Sessions start between 30 days before and 330 days after `today`; some application
// deadlines have passed, some sessions are full.
GeneratedCatalog GenerateCatalog(uint64_t seed, int site_count, int rotation_count,
                                 absl::CivilDay today);

// Creates the catalog through the API with `parallel` calls in flight: sites, rotations and
// sessions as an admin, publication, seat holds (as a service, expiring at hold_expiry),
// then archiving. Ids are the generated ones, so loading twice fails with ALREADY_EXISTS.
absl::Status LoadCatalog(const std::shared_ptr<grpc::Channel>& channel,
                         const GeneratedCatalog& catalog, absl::Time hold_expiry,
                         int parallel = 8);

}  // namespace clerkship::catalog

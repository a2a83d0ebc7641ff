#pragma once

// `clerkship-load seed`: creates the data set of data_model.h through the services' own
// gRPC APIs (as an admin, or as a service where only services may call), many calls in
// flight at once. Whatever exists already is left as it is (ALREADY_EXISTS and request ids
// make every step repeatable), so seeding twice is harmless.

#include <string>

#include "absl/status/status.h"
#include "tests/bench/load/rpc.h"
#include "tests/bench/load/scenarios.h"

namespace clerkship::bench {

struct SeedOptions {
  int in_flight = 64;
  bool quiet = false;
};

struct SeedCounts {
  int sites = 0, rotations = 0, sessions = 0, published = 0;
  int applicants = 0, documents = 0, notifications = 0;
  double seconds = 0;
};

// Steps whose service address is missing are skipped with a message.
absl::Status Seed(ScenarioEnv* env, const SeedOptions& options, SeedCounts* counts);

}  // namespace clerkship::bench
